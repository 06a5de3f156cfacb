//! Lexicon words for the FLAT lattice (Li et al., 2020): a character trie that finds every word
//! of a word list in a sentence (overlapping matches), and the word vocabulary a model keeps.
//!
//! A run matches the full word list (e.g. `data/lexicon/jieba.txt.gz`) against its training split
//! and keeps the words that occur there ([`Lexicon::build`]); that [`Lexicon`] is the model's word
//! vocabulary, saved in its metadata, and the only list prediction matches against (a word never
//! seen in training has no trained embedding).

use crate::token_vocab::Vocab;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A word found in a sentence: its id and its first and last character (`head ≤ tail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WordMatch {
    pub(crate) id: usize,
    pub(crate) head: usize,
    pub(crate) tail: usize,
}

impl WordMatch {
    /// Characters the word spans.
    pub(crate) fn span(&self) -> usize {
        self.tail - self.head + 1
    }
}

/// A character trie mapping words to values.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trie {
    /// `(node, char) → child`; node 0 is the root.
    edges: HashMap<(u32, char), u32>,
    /// The value of the word ending at each node, if one does.
    values: Vec<Option<u32>>,
}

impl Trie {
    /// A trie of `(word, value)` pairs; a repeated word keeps its first value.
    pub(crate) fn new<'a>(words: impl IntoIterator<Item = (&'a str, u32)>) -> Self {
        let mut t = Self {
            edges: HashMap::new(),
            values: vec![None],
        };
        for (w, v) in words {
            let mut node = 0u32;
            for c in w.chars() {
                let next = t.values.len() as u32;
                let child = *t.edges.entry((node, c)).or_insert(next);
                if child == next {
                    t.values.push(None);
                }
                node = child;
            }
            if node != 0 {
                t.values[node as usize].get_or_insert(v);
            }
        }
        t
    }

    /// Every word occurring in `chars`, as `(head, tail, value)`, ordered by head then tail.
    pub(crate) fn find_all(&self, chars: &[char]) -> Vec<(usize, usize, u32)> {
        let mut out = Vec::new();
        for head in 0..chars.len() {
            let mut node = 0u32;
            for (tail, &c) in chars.iter().enumerate().skip(head) {
                match self.edges.get(&(node, c)) {
                    Some(&n) => node = n,
                    None => break,
                }
                if let Some(v) = self.values[node as usize] {
                    out.push((head, tail, v));
                }
            }
        }
        out
    }
}

/// The words of a model's lattice: a frequency-ordered vocabulary (ids 0 and 1 are padding and
/// unknown, as in [`Vocab`]), its trie, and the cap on words per sentence.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "LexiconRepr", into = "LexiconRepr")]
pub struct Lexicon {
    vocab: Vocab,
    trie: Trie,
    max_per_sentence: usize,
}

#[derive(Serialize, Deserialize)]
struct LexiconRepr {
    words: Vocab,
    max_per_sentence: usize,
}

impl From<LexiconRepr> for Lexicon {
    fn from(r: LexiconRepr) -> Self {
        Self::new(r.words, r.max_per_sentence)
    }
}

impl From<Lexicon> for LexiconRepr {
    fn from(l: Lexicon) -> Self {
        Self {
            words: l.vocab,
            max_per_sentence: l.max_per_sentence,
        }
    }
}

impl Lexicon {
    /// A lexicon over the words of `vocab` (ids 2..): at most `max_per_sentence` words per
    /// sentence are kept (0: no cap).
    pub(crate) fn new(vocab: Vocab, max_per_sentence: usize) -> Self {
        let trie = Trie::new((2..vocab.len()).map(|i| (vocab.token(i), i as u32)));
        Self {
            vocab,
            trie,
            max_per_sentence,
        }
    }

    /// The words of `word_list` (multi-character ones; single characters are the lattice's
    /// characters already) that occur at least `min_freq` times in `sentences`.
    pub fn build<'a>(
        word_list: &[String],
        sentences: impl IntoIterator<Item = &'a [char]>,
        min_freq: usize,
        max_per_sentence: usize,
    ) -> Self {
        let full = Trie::new(
            word_list
                .iter()
                .enumerate()
                .filter(|(_, w)| w.chars().nth(1).is_some())
                .map(|(i, w)| (w.as_str(), i as u32)),
        );
        let found = sentences.into_iter().flat_map(|s| {
            full.find_all(s)
                .into_iter()
                .map(|(_, _, i)| word_list[i as usize].clone())
        });
        Self::new(Vocab::build(found, min_freq), max_per_sentence)
    }

    /// Words in the vocabulary, padding and unknown included.
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The `n` first ids (padding and unknown always kept): the `n − 2` most frequent words;
    /// the others are no longer matched.
    pub fn truncated(&self, n: usize) -> Self {
        Self::new(self.vocab.truncated(n), self.max_per_sentence)
    }

    pub fn max_per_sentence(&self) -> usize {
        self.max_per_sentence
    }

    /// The lexicon words in `chars`, ordered by head then tail. Over the cap, the longest words
    /// are kept (the earlier one on a tie).
    pub(crate) fn find(&self, chars: &[char]) -> Vec<WordMatch> {
        let mut found: Vec<WordMatch> = self
            .trie
            .find_all(chars)
            .into_iter()
            .map(|(head, tail, id)| WordMatch {
                id: id as usize,
                head,
                tail,
            })
            .collect();
        if self.max_per_sentence > 0 && found.len() > self.max_per_sentence {
            found.sort_by_key(|w| (std::cmp::Reverse(w.span()), w.head));
            found.truncate(self.max_per_sentence);
            found.sort_by_key(|w| (w.head, w.tail));
        }
        found
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    #[error("cannot read the lexicon {path}: {error}")]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("the lexicon {path} is not valid UTF-8")]
    Utf8 { path: std::path::PathBuf },
    #[error("the lexicon {path} has no words of two or more characters")]
    Empty { path: std::path::PathBuf },
}

/// Words from a list: the first field of each non-blank line (so `word freq tag` dictionaries
/// read too); words of one character are skipped.
pub fn parse_word_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().nth(1).is_some())
        .map(str::to_string)
        .collect()
}

/// Reads a word list (see [`parse_word_list`]), gunzipping it when the name ends in `.gz`.
#[cfg(feature = "native")]
pub fn read_word_list(path: &std::path::Path) -> Result<Vec<String>, LexiconError> {
    let bytes = crate::data::read_maybe_gzipped(path).map_err(|error| LexiconError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| LexiconError::Utf8 {
        path: path.to_path_buf(),
    })?;
    let words = parse_word_list(&text);
    if words.is_empty() {
        return Err(LexiconError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn list(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn the_trie_finds_overlapping_and_nested_words_with_their_heads_and_tails() {
        let t = Trie::new([
            ("南京", 0),
            ("南京市", 1),
            ("市长", 2),
            ("长江大桥", 3),
            ("长江", 4),
        ]);
        let found = t.find_all(&chars("南京市长江大桥"));
        assert_eq!(
            found,
            vec![(0, 1, 0), (0, 2, 1), (2, 3, 2), (3, 4, 4), (3, 6, 3)]
        );
        assert!(t.find_all(&[]).is_empty());
        assert!(t.find_all(&chars("北京")).is_empty());
    }

    #[test]
    fn the_lexicon_keeps_words_seen_in_training_and_matches_only_those() {
        let words = list(&["南京", "南京市", "市长", "长江大桥", "北京", "大", "长江"]);
        let train = [chars("南京市长江大桥"), chars("南京的市长")];
        let lex = Lexicon::build(&words, train.iter().map(Vec::as_slice), 1, 0);
        // pad, unk, then by frequency: 南京 ×2, 市长 ×2, then 南京市, 长江, 长江大桥.
        assert_eq!(lex.len(), 7);
        assert_eq!(lex.vocab().id("北京"), crate::token_vocab::UNK);
        assert_eq!(lex.vocab().id("大"), crate::token_vocab::UNK);
        let m = lex.find(&chars("北京南京市长"));
        let got: Vec<(&str, usize, usize)> = m
            .iter()
            .map(|w| (lex.vocab().token(w.id), w.head, w.tail))
            .collect();
        assert_eq!(got, [("南京", 2, 3), ("南京市", 2, 4), ("市长", 4, 5)]);
        let frequent = Lexicon::build(&words, train.iter().map(Vec::as_slice), 2, 0);
        assert_eq!(frequent.len(), 4);
        // Truncating keeps the most frequent words; the rest are not matched at all.
        let top = lex.truncated(3);
        let kept: Vec<&str> = top
            .find(&chars("南京市长"))
            .iter()
            .map(|w| top.vocab().token(w.id))
            .collect();
        assert_eq!(kept, ["南京"]);
    }

    #[test]
    fn over_the_cap_the_longest_words_stay_in_sentence_order() {
        let words = list(&["南京", "南京市", "市长", "长江大桥", "长江"]);
        let s = chars("南京市长江大桥");
        let lex = Lexicon::build(&words, [s.as_slice()], 1, 2);
        let m = lex.find(&s);
        let got: Vec<(usize, usize)> = m.iter().map(|w| (w.head, w.tail)).collect();
        assert_eq!(got, [(0, 2), (3, 6)]);
    }

    #[test]
    fn lexicons_survive_json_with_their_trie() {
        let words = list(&["南京", "市长"]);
        let s = chars("南京市长");
        let lex = Lexicon::build(&words, [s.as_slice()], 1, 7);
        let back: Lexicon = serde_json::from_str(&serde_json::to_string(&lex).unwrap()).unwrap();
        assert_eq!(back.find(&s), lex.find(&s));
        assert_eq!(back.max_per_sentence(), 7);
    }

    proptest::proptest! {
        #[test]
        fn the_trie_finds_exactly_the_naive_substring_matches(
            words in proptest::collection::vec("[abc]{1,4}", 0..12),
            text in "[abcd]{0,20}",
        ) {
            let trie = Trie::new(words.iter().enumerate().map(|(i, w)| (w.as_str(), i as u32)));
            let s = chars(&text);
            let mut naive = Vec::new();
            for head in 0..s.len() {
                for tail in head..s.len() {
                    let sub: String = s[head..=tail].iter().collect();
                    if let Some(i) = words.iter().position(|w| *w == sub) {
                        naive.push((head, tail, i as u32));
                    }
                }
            }
            proptest::prop_assert_eq!(trie.find_all(&s), naive);
        }
    }

    #[test]
    fn word_lists_take_the_first_field_and_skip_single_characters() {
        assert_eq!(
            parse_word_list("南京 30 ns\n\n大 5\n市长\r\n"),
            list(&["南京", "市长"])
        );
    }
}
