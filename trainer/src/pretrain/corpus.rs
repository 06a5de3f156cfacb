//! The pretraining text: corpus files (CoNLL or plain text, UTF-8 or GB18030) read into pieces of
//! at most `max_len` characters, the character vocabulary built from them, and the held-out share.

use anyhow::{Context, Result, bail};
use model_core::data::read_conll;
use model_core::pipeline::split_long;
use model_core::vocab::BertVocab;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The default corpus: every train split the repository ships.
pub const DEFAULT_CORPUS: [&str; 3] = [
    "data/resume/train.char.bmes",
    "data/weibo/weiboNER_2nd_conll.train",
    "data/msra/train.bio.gz",
];

/// The vocabulary's special tokens, in id order; ids from `SPECIALS.len()` on are characters.
pub const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// Whether `token` is a People's Daily line ID such as `19980101-01-001-001/m`.
fn is_pku_id(token: &str) -> bool {
    token.strip_suffix("/m").is_some_and(|id| {
        id.len() == 19
            && id.bytes().enumerate().all(|(i, b)| {
                if [8, 11, 15].contains(&i) {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    })
}

/// The plain text of one line: PKU-annotated lines (`ID word/POS [word/POS …]nt …`) lose their ID,
/// tags and brackets; other lines are kept as they are. Whitespace is dropped either way (BERT's
/// tokenizer drops it too).
pub fn plain_line(line: &str) -> String {
    let mut tokens = line.split_whitespace().peekable();
    if tokens.peek().is_some_and(|t| is_pku_id(t)) {
        tokens.next();
        tokens
            .map(|t| {
                let t = t.trim_start_matches('[');
                t.rsplit_once('/').map_or(t, |(word, _)| word)
            })
            .collect()
    } else {
        tokens.collect()
    }
}

/// Sentences of a corpus file: CoNLL (first column) unless the name ends in `.txt`, which is
/// plain text, one paragraph per line, UTF-8 or GB18030.
pub fn read_corpus(path: &Path) -> Result<Vec<Vec<char>>> {
    if path.extension().is_some_and(|e| e == "txt") {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let (t, _, bad) = encoding_rs::GB18030.decode(e.as_bytes());
                if bad {
                    bail!("{} is neither UTF-8 nor GB18030 text", path.display());
                }
                t.into_owned()
            }
        };
        Ok(text
            .lines()
            .map(|l| plain_line(l).chars().collect::<Vec<char>>())
            .filter(|s| !s.is_empty())
            .collect())
    } else {
        Ok(read_conll(path)?.into_iter().map(|s| s.chars).collect())
    }
}

/// The files' sentences (each file's line count said on stderr) cut into pieces of at most
/// `max_len` characters; an error when there is no text at all.
pub fn read_pieces(files: &[PathBuf], max_len: usize) -> Result<Vec<Vec<char>>> {
    let mut sentences = Vec::new();
    for p in files {
        let s = read_corpus(p)?;
        eprintln!("{}: {} lines", p.display(), s.len());
        sentences.extend(s);
    }
    let pieces: Vec<Vec<char>> = sentences
        .iter()
        .flat_map(|s| split_long(s, max_len).into_iter().map(<[char]>::to_vec))
        .filter(|p| !p.is_empty())
        .collect();
    if pieces.is_empty() {
        bail!("the corpus has no text");
    }
    Ok(pieces)
}

/// Specials first, then characters seen at least `min_freq` times, most frequent first.
pub fn build_vocab(sentences: &[Vec<char>], min_freq: usize) -> Result<BertVocab> {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for s in sentences {
        for &c in s {
            *counts.entry(c).or_default() += 1;
        }
    }
    let mut kept: Vec<(char, usize)> = counts
        .into_iter()
        .filter(|&(_, n)| n >= min_freq.max(1))
        .collect();
    kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut tokens: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
    tokens.extend(kept.into_iter().map(|(c, _)| c.to_string()));
    BertVocab::try_from(tokens).map_err(anyhow::Error::msg)
}

/// The pieces as `[CLS] … [SEP]` ids, split into (train, held out): every 100th piece (10th of a
/// corpus under 1,000 pieces), up to 500, is held out to watch for over-fitting. It is still
/// training text, never dev or test.
pub fn hold_out(pieces: &[Vec<char>], vocab: &BertVocab) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let stride = if pieces.len() >= 1000 { 100 } else { 10 };
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (i, p) in pieces.iter().enumerate() {
        let ids = vocab.encode_wrapped(p);
        if i % stride == stride - 1 && held.len() < 500 {
            held.push(ids);
        } else {
            train.push(ids);
        }
    }
    (train, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pku_annotations_are_stripped_and_other_lines_kept() {
        let line = "19980101-01-001-002/m  中共中央/nt  总书记/n  、/wu  [中央/n 人民/n 广播/vn 电台/n]nt  江/nr  泽民/nr  1/2/m";
        assert_eq!(
            plain_line(line),
            "中共中央总书记、中央人民广播电台江泽民1/2"
        );
        assert_eq!(plain_line("今天 天气/好"), "今天天气/好");
        assert!(!is_pku_id("19980101-01-001-00/m"));
        assert_eq!(plain_line(""), "");
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn text_files_are_read_as_utf8_or_gb18030_without_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let utf8 = dir.path().join("a.txt");
        std::fs::write(
            &utf8,
            "今天 天气好\n\n  \n19980101-01-001-001/m  迈向/v  新/a  世纪/n\n",
        )
        .unwrap();
        assert_eq!(
            read_corpus(&utf8).unwrap(),
            [chars("今天天气好"), chars("迈向新世纪")]
        );
        let gbk = dir.path().join("b.txt");
        let (bytes, _, unmappable) = encoding_rs::GB18030.encode("人民日报\n北京\n");
        assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
        std::fs::write(&gbk, &bytes).unwrap();
        assert_eq!(
            read_corpus(&gbk).unwrap(),
            [chars("人民日报"), chars("北京")]
        );
        let bad = dir.path().join("c.txt");
        std::fs::write(&bad, b"ok\n\xff\xff\n").unwrap();
        let err = read_corpus(&bad).unwrap_err().to_string();
        assert!(
            err.contains("c.txt") && err.contains("neither UTF-8 nor GB18030"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            read_corpus(&dir.path().join("none.txt")).unwrap_err()
        );
        assert!(
            err.contains("cannot read") && err.contains("none.txt"),
            "{err}"
        );
    }

    #[test]
    fn other_files_are_conll_and_their_first_column_is_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let conll = dir.path().join("train.bmes");
        std::fs::write(&conll, "北 B-LOC\n京 E-LOC\n\n好 O\n").unwrap();
        assert_eq!(read_corpus(&conll).unwrap(), [chars("北京"), chars("好")]);
    }

    #[test]
    fn pieces_are_cut_at_max_len_and_an_empty_corpus_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        std::fs::write(&a, "一二三四五。六七八\n九\n").unwrap();
        let b = dir.path().join("b.txt");
        std::fs::write(&b, "十\n").unwrap();
        let pieces = read_pieces(&[a, b], 6).unwrap();
        assert_eq!(
            pieces,
            [
                chars("一二三四五。"),
                chars("六七八"),
                chars("九"),
                chars("十")
            ]
        );
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "\n \n").unwrap();
        let err = read_pieces(&[empty], 6).unwrap_err().to_string();
        assert_eq!(err, "the corpus has no text");
    }

    #[test]
    fn vocabulary_is_specials_then_frequent_characters() {
        let v = build_vocab(&[chars("好好好人人中"), chars("人好")], 2).unwrap();
        assert_eq!(
            v.tokens(),
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "好", "人"]
        );
        assert_eq!(v.mask, Some(4));
        // Ties go by code point (乙 U+4E59 before 甲 U+7532); min_freq 0 keeps everything.
        assert_eq!(
            build_vocab(&[chars("甲乙")], 0).unwrap().tokens()[5..],
            ["乙", "甲"]
        );
    }

    #[test]
    fn every_tenth_piece_of_a_small_corpus_is_held_out() {
        let pieces: Vec<Vec<char>> = (0..25).map(|_| chars("好人")).collect();
        let vocab = build_vocab(&pieces, 1).unwrap();
        let (train, held) = hold_out(&pieces, &vocab);
        assert_eq!((train.len(), held.len()), (23, 2));
        // [CLS] 好 人 [SEP], with 人 (U+4EBA) id 5 and 好 (U+597D) id 6 on equal counts.
        assert_eq!(held[0], [2, 6, 5, 3]);
        let many: Vec<Vec<char>> = (0..60_000).map(|_| chars("好")).collect();
        let (train, held) = hold_out(&many, &vocab);
        assert_eq!((train.len(), held.len()), (59_500, 500));
    }
}
