//! Character and bigram vocabularies, built from the training split and saved with the model.

use crate::lexicon::Lexicon;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub use crate::token_vocab::{PAD, UNK, Vocab};

/// The bigram after a sentence's last character.
pub(crate) const END: &str = "</s>";

/// The bigram starting at each character: `c_i c_{i+1}`, and `c_n </s>` at the end.
pub(crate) fn bigrams(chars: &[char]) -> Vec<String> {
    (0..chars.len())
        .map(|i| match chars.get(i + 1) {
            Some(n) => format!("{}{}", chars[i], n),
            None => format!("{}{}", chars[i], END),
        })
        .collect()
}

/// A pretrained encoder's vocabulary (BERT's `vocab.txt`, one token per line, id = line number).
///
/// Text is fed character by character, not through WordPiece: a character maps to its own token,
/// else to its lower-case form (Chinese BERTs are uncased), else to `[UNK]`; `##` pieces are never
/// used. Sentences are wrapped as `[CLS] c1 … cn [SEP]` (what the encoder saw in pretraining) and
/// the two outputs at the ends are dropped, so output `i` belongs to character `i`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct BertVocab {
    tokens: Vec<String>,
    index: HashMap<String, usize>,
    pub pad: usize,
    pub unk: usize,
    pub cls: usize,
    pub sep: usize,
    /// `[MASK]`, needed only for masked-character pretraining.
    pub mask: Option<usize>,
}

impl TryFrom<Vec<String>> for BertVocab {
    type Error = String;

    fn try_from(tokens: Vec<String>) -> Result<Self, String> {
        let mut index = HashMap::new();
        for (i, t) in tokens.iter().enumerate() {
            // The first occurrence wins, as in `transformers`' tokenizer.
            index.entry(t.clone()).or_insert(i);
        }
        let special = |name: &str| {
            index
                .get(name)
                .copied()
                .ok_or_else(|| format!("the vocabulary has no {name} token"))
        };
        Ok(Self {
            pad: special("[PAD]")?,
            unk: special("[UNK]")?,
            cls: special("[CLS]")?,
            sep: special("[SEP]")?,
            mask: index.get("[MASK]").copied(),
            tokens,
            index,
        })
    }
}

impl From<BertVocab> for Vec<String> {
    fn from(v: BertVocab) -> Self {
        v.tokens
    }
}

impl BertVocab {
    /// Parse `vocab.txt`: one token per line (trailing `\r` and the final newline ignored).
    pub fn from_vocab_txt(text: &str) -> Result<Self, String> {
        let tokens: Vec<String> = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        Self::try_from(tokens)
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    pub fn token_id(&self, token: &str) -> Option<usize> {
        self.index.get(token).copied()
    }

    pub(crate) fn id(&self, c: char) -> usize {
        let mut buf = [0u8; 4];
        if let Some(&i) = self.index.get(&*c.encode_utf8(&mut buf)) {
            return i;
        }
        let lower: String = c.to_lowercase().collect();
        self.index.get(&lower).copied().unwrap_or(self.unk)
    }

    /// Token ids of the characters, without `[CLS]`/`[SEP]`.
    pub fn encode(&self, chars: &[char]) -> Vec<usize> {
        chars.iter().map(|&c| self.id(c)).collect()
    }

    /// `[CLS] chars [SEP]`.
    pub fn encode_wrapped(&self, chars: &[char]) -> Vec<usize> {
        let mut out = Vec::with_capacity(chars.len() + 2);
        out.push(self.cls);
        out.extend(chars.iter().map(|&c| self.id(c)));
        out.push(self.sep);
        out
    }
}

/// The character and bigram vocabularies of a model, the pretrained encoder's when it has one,
/// and the lattice's words when it is a FLAT model.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Vocabs {
    pub chars: Vocab,
    pub bigrams: Vocab,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bert: Option<BertVocab>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<Lexicon>,
}

impl Vocabs {
    pub fn build<'a>(
        sentences: impl IntoIterator<Item = &'a [char]> + Clone,
        char_min_freq: usize,
        bigram_min_freq: usize,
    ) -> Self {
        let chars = Vocab::build(
            sentences
                .clone()
                .into_iter()
                .flat_map(|s| s.iter().map(|c| c.to_string())),
            char_min_freq,
        );
        let bigrams = Vocab::build(
            sentences.into_iter().flat_map(|s| bigrams(s)),
            bigram_min_freq,
        );
        Self {
            chars,
            bigrams,
            bert: None,
            words: None,
        }
    }

    /// Character and bigram ids of a sentence.
    pub(crate) fn encode(&self, chars: &[char]) -> (Vec<usize>, Vec<usize>) {
        let mut buf = [0u8; 4];
        let c = chars
            .iter()
            .map(|c| self.chars.id(c.encode_utf8(&mut buf)))
            .collect();
        let b = bigrams(chars).iter().map(|b| self.bigrams.id(b)).collect();
        (c, b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_and_unseen_tokens_map_to_unk() {
        let s1: Vec<char> = "我爱北京".chars().collect();
        let s2: Vec<char> = "我爱你".chars().collect();
        let v = Vocabs::build([s1.as_slice(), s2.as_slice()], 2, 1);
        assert_eq!(v.chars.len(), 4); // pad, unk, 我, 爱
        let (c, b) = v.encode(&"我爱上海".chars().collect::<Vec<_>>());
        assert_eq!(c[2], UNK);
        assert_ne!(c[0], UNK);
        assert_eq!(b[0], v.bigrams.id("我爱"));
        assert_eq!(b[3], UNK);
    }

    #[test]
    fn bert_vocab_finds_specials_by_name_and_maps_unknowns_to_unk() {
        let v = BertVocab::from_vocab_txt("[PAD]\r\n我\n[UNK]\n[CLS]\n[SEP]\na\n").unwrap();
        assert_eq!((v.pad, v.unk, v.cls, v.sep, v.mask), (0, 2, 3, 4, None));
        assert_eq!(v.encode_wrapped(&['我', 'A', '你']), vec![3, 1, 5, 2, 4]);
        let back: BertVocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back.encode(&['我', 'a']), vec![1, 5]);
        let e = BertVocab::from_vocab_txt("[PAD]\n[UNK]\n[CLS]\n").unwrap_err();
        assert!(e.contains("[SEP]"), "{e}");
    }
}
