//! CoNLL-style files: one `<char> <tag>` token per line, blank lines between sentences.

use super::DataError;
use super::scheme::split_tag;

/// One tagged sentence.
#[derive(Clone, Debug, PartialEq)]
pub struct Sentence {
    pub chars: Vec<char>,
    pub tags: Vec<String>,
    /// 1-based line of its first token in the source.
    pub line: usize,
}

/// Parses CoNLL text. Each token line is `<token><TAB or spaces><tag>`; with more than two
/// fields the token is the first and the tag the last. A token longer than one code point
/// stands for its first code point (Weibo writes `科2`: the char and its position in a word).
/// Blank lines separate sentences, `-DOCSTART-` lines are skipped, CRLF and a UTF-8 BOM are
/// accepted. `source` names the input in errors.
pub fn parse_conll(text: &str, source: &str) -> Result<Vec<Sentence>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sentences = Vec::new();
    let mut current: Option<Sentence> = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        match parse_line(line, source, line_no)? {
            Some((ch, tag)) => {
                let sentence = current.get_or_insert_with(|| Sentence {
                    chars: Vec::new(),
                    tags: Vec::new(),
                    line: line_no,
                });
                sentence.chars.push(ch);
                sentence.tags.push(tag.to_string());
            }
            None => sentences.extend(current.take()),
        }
    }
    sentences.extend(current);
    if sentences.is_empty() {
        return Err(DataError::Empty {
            file: source.to_string(),
            line: 1,
        });
    }
    Ok(sentences)
}

/// Longest line accepted: a token, a tag and maybe a few feature columns fit with room to spare;
/// anything longer is a different kind of file.
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// One line as a token, or `None` for a sentence break (blank or `-DOCSTART-`).
fn parse_line<'a>(
    line: &'a str,
    source: &str,
    line_no: usize,
) -> Result<Option<(char, &'a str)>, DataError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(DataError::LineTooLong {
            file: source.to_string(),
            line: line_no,
            bytes: line.len(),
        });
    }
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let (Some(token), Some(tag)) = (fields.first(), fields.last()) else {
        return Ok(None);
    };
    if *token == "-DOCSTART-" {
        return Ok(None);
    }
    if fields.len() < 2 {
        return Err(DataError::MissingTag {
            file: source.to_string(),
            line: line_no,
            fields: 1,
        });
    }
    if *tag != "O" && split_tag(tag).is_none() {
        return Err(DataError::BadTag {
            file: source.to_string(),
            line: line_no,
            tag: tag.to_string(),
        });
    }
    let ch = token.chars().next().expect("a field is never empty");
    Ok(Some((ch, tag)))
}

/// Reads a CoNLL file, gunzipping it when the name ends in `.gz`.
#[cfg(feature = "native")]
pub fn read_conll(path: &std::path::Path) -> Result<Vec<Sentence>, DataError> {
    let bytes = super::read_maybe_gzipped(path).map_err(|error| DataError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    parse_conll_bytes(&bytes, &path.display().to_string())
}

/// [`parse_conll`] on raw bytes: invalid UTF-8 is an error naming its line.
pub fn parse_conll_bytes(bytes: &[u8], source: &str) -> Result<Vec<Sentence>, DataError> {
    parse_conll(utf8(bytes, source)?, source)
}

/// `bytes` as text; invalid UTF-8 is an error naming its line.
pub(super) fn utf8<'a>(bytes: &'a [u8], source: &str) -> Result<&'a str, DataError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        DataError::InvalidUtf8 {
            file: source.to_string(),
            line,
        }
    })
}

/// Writes `char gold pred` lines, a blank line after each sentence: conlleval's input.
pub fn write_conll_triples(sentences: &[(Vec<char>, Vec<String>, Vec<String>)]) -> String {
    let mut out = String::new();
    for (chars, gold, pred) in sentences {
        debug_assert!(chars.len() == gold.len() && gold.len() == pred.len());
        for ((&ch, gold), pred) in chars.iter().zip(gold).zip(pred) {
            // A whitespace char would merge with the separator and break the three columns.
            let ch = if ch.is_whitespace() { '_' } else { ch };
            out.push_str(&format!("{ch} {gold} {pred}\n"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_line_is_an_error_naming_the_line() {
        let text = format!("高 B-NAME\n{} O\n", "字".repeat(MAX_LINE_BYTES));
        let err = parse_conll(&text, "big.bmes").unwrap_err().to_string();
        assert!(err.starts_with("big.bmes:2:"), "{err}");
    }

    #[test]
    fn arbitrary_text_never_panics() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(17);
        let alphabet: Vec<char> = "高勇 \t\nBIMESO-PER.NAM\r\u{feff}😀\u{0}x"
            .chars()
            .collect();
        for _ in 0..2000 {
            let len = rng.random_range(0..200);
            let s: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let _ = parse_conll(&s, "fuzz");
        }
    }

    fn tags(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    /// The first 30 lines of `resume/train.char.bmes`.
    const RESUME: &str = "高 B-NAME\n勇 E-NAME\n： O\n男 O\n， O\n中 B-CONT\n国 M-CONT\n国 M-CONT\n\
        籍 E-CONT\n， O\n无 O\n境 O\n外 O\n居 O\n留 O\n权 O\n， O\n\n1 O\n9 O\n6 O\n6 O\n年 O\n\
        出 O\n生 O\n， O\n汉 B-RACE\n族 E-RACE\n， O\n中 B-TITLE\n";

    /// The first 36 lines of `weibo/weiboNER_2nd_conll.train`.
    const WEIBO: &str = "科0\tO\n技1\tO\n全0\tO\n方1\tO\n位2\tO\n资0\tO\n讯1\tO\n智0\tO\n能1\tO\n\
        ，0\tO\n快0\tO\n捷1\tO\n的0\tO\n汽0\tO\n车1\tO\n生0\tO\n活1\tO\n需0\tO\n要1\tO\n有0\tO\n\
        三1\tO\n屏2\tO\n一0\tO\n云1\tO\n爱2\tO\n你0\tO\n\n对0\tO\n，0\tO\n输0\tO\n给1\tO\n一0\tO\n\
        个1\tO\n女0\tB-PER.NOM\n人1\tI-PER.NOM\n，0\tO\n";

    /// The first 30 lines of `msra/zh-NER-TF/train_data`.
    const MSRA_HEAD: &str = "当\tO\n希\tO\n望\tO\n工\tO\n程\tO\n救\tO\n助\tO\n的\tO\n百\tO\n万\tO\n\
        儿\tO\n童\tO\n成\tO\n长\tO\n起\tO\n来\tO\n，\tO\n科\tO\n教\tO\n兴\tO\n国\tO\n蔚\tO\n然\tO\n\
        成\tO\n风\tO\n时\tO\n，\tO\n今\tO\n天\tO\n有\tO\n";

    /// Lines 89-128 of `msra/zh-NER-TF/train_data`: its first sentence with entities.
    const MSRA_ENTITIES: &str = "\n因\tO\n有\tO\n关\tO\n日\tB-LOC\n寇\tO\n在\tO\n京\tB-LOC\n掠\tO\n\
        夺\tO\n文\tO\n物\tO\n详\tO\n情\tO\n，\tO\n藏\tO\n界\tO\n较\tO\n为\tO\n重\tO\n视\tO\n，\tO\n\
        也\tO\n是\tO\n我\tO\n们\tO\n收\tO\n藏\tO\n北\tB-LOC\n京\tI-LOC\n史\tO\n料\tO\n中\tO\n的\tO\n\
        要\tO\n件\tO\n之\tO\n一\tO\n。\tO\n\n";

    #[test]
    fn parses_resume_head() {
        let s = parse_conll(RESUME, "resume").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].chars, chars("高勇：男，中国国籍，无境外居留权，"));
        assert_eq!(s[0].tags[..3], tags("B-NAME E-NAME O"));
        assert_eq!(s[0].tags[5..9], tags("B-CONT M-CONT M-CONT E-CONT"));
        assert_eq!(s[0].line, 1);
        assert_eq!(s[1].chars, chars("1966年出生，汉族，中"));
        assert_eq!(s[1].line, 19);
        assert_eq!(s[1].tags.last().unwrap(), "B-TITLE");
    }

    #[test]
    fn parses_weibo_head_keeping_the_first_code_point() {
        let s = parse_conll(WEIBO, "weibo").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].chars,
            chars("科技全方位资讯智能，快捷的汽车生活需要有三屏一云爱你")
        );
        assert_eq!(s[1].chars, chars("对，输给一个女人，"));
        assert_eq!(s[1].line, 28);
        assert_eq!(s[1].tags[6..8], tags("B-PER.NOM I-PER.NOM"));
    }

    #[test]
    fn parses_msra_head_and_an_entity_sentence() {
        let head = parse_conll(MSRA_HEAD, "msra").unwrap();
        assert_eq!(head.len(), 1);
        assert_eq!(head[0].chars.len(), 30);
        assert!(head[0].tags.iter().all(|t| t == "O"));

        let s = parse_conll(MSRA_ENTITIES, "msra").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].line, 2);
        assert_eq!(s[0].chars.len(), 38);
        assert_eq!(s[0].tags[27..29], tags("B-LOC I-LOC"));
    }

    #[test]
    fn multi_code_point_tokens_use_the_first() {
        let s = parse_conll("科2\tO\n位10\tB-LOC.NAM\n\u{fffd}\u{fffd}3\tO\n", "t").unwrap();
        assert_eq!(s[0].chars, ['科', '位', '\u{fffd}']);
    }

    #[test]
    fn separators_tabs_spaces_and_extra_columns() {
        let text = "甲\tB-PER\n乙  I-PER\n丙 \t x  O\n丁 NN B-LOC   \n";
        let s = parse_conll(text, "t").unwrap();
        assert_eq!(s[0].chars, chars("甲乙丙丁"));
        assert_eq!(s[0].tags, tags("B-PER I-PER O B-LOC"));
    }

    #[test]
    fn crlf_bom_docstart_and_extra_blank_lines() {
        let text = "\u{feff}-DOCSTART- O\r\n\r\n甲 S-PER\r\n乙 O\r\n\r\n\r\n  \r\n丙 O\r\n\r\n\r\n";
        let s = parse_conll(text, "t").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].chars, chars("甲乙"));
        assert_eq!(s[0].tags, tags("S-PER O"));
        assert_eq!(s[0].line, 3);
        assert_eq!(s[1].chars, chars("丙"));
        assert_eq!(s[1].line, 8);
    }

    #[test]
    fn a_line_without_a_tag_is_an_error_naming_the_line() {
        let err = parse_conll("甲 O\n乙 O\n丙\n", "data/x.bmes").unwrap_err();
        assert!(matches!(err, DataError::MissingTag { line: 3, .. }));
        let msg = err.to_string();
        assert!(msg.starts_with("data/x.bmes:3: "), "{msg}");
    }

    #[test]
    fn bad_tags_are_errors_naming_the_line() {
        for bad in ["B-", "X-PER", "PER", "b-PER", "O-", "-PER"] {
            let text = format!("甲 O\n\n乙 {bad}\n");
            let err = parse_conll(&text, "f").unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("f:3:") && msg.contains(bad), "{bad}: {msg}");
        }
    }

    #[test]
    fn empty_input_is_an_error() {
        for text in ["", "\n\n", "\u{feff}", "-DOCSTART- -X- O\n\n"] {
            let err = parse_conll(text, "empty.txt").unwrap_err();
            assert!(matches!(err, DataError::Empty { .. }), "{text:?}");
            assert_eq!(err.to_string(), "empty.txt:1: no sentences");
        }
    }

    #[test]
    fn writes_conlleval_triples() {
        let out = write_conll_triples(&[
            (chars("甲乙"), tags("B-PER I-PER"), tags("B-PER O")),
            (chars(" "), tags("O"), tags("S-LOC")),
        ]);
        assert_eq!(out, "甲 B-PER B-PER\n乙 I-PER O\n\n_ O S-LOC\n\n");
    }

    #[cfg(feature = "native")]
    mod native {
        use super::*;
        use std::io::Write;
        use std::path::PathBuf;

        /// A fresh directory per test; removed when dropped.
        struct TempDir(PathBuf);

        impl TempDir {
            fn new(name: &str) -> Self {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos();
                let dir = std::env::temp_dir()
                    .join(format!("nerco-{name}-{}-{nanos}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                TempDir(dir)
            }
        }

        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }

        #[test]
        fn reads_plain_and_gzip_files_alike() {
            let dir = TempDir::new("read-conll");
            let plain = dir.0.join("train.char.bmes");
            let gz = dir.0.join("train.char.bmes.gz");
            std::fs::write(&plain, RESUME).unwrap();
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(RESUME.as_bytes()).unwrap();
            std::fs::write(&gz, encoder.finish().unwrap()).unwrap();

            let expected = parse_conll(RESUME, "resume").unwrap();
            assert_eq!(read_conll(&plain).unwrap(), expected);
            assert_eq!(read_conll(&gz).unwrap(), expected);
        }

        #[test]
        fn invalid_utf8_names_file_and_line() {
            let dir = TempDir::new("bad-utf8");
            let path = dir.0.join("bad.txt");
            std::fs::write(&path, b"\xe7\x94\xb2 O\n\n\xff O\n").unwrap();
            let err = read_conll(&path).unwrap_err();
            assert!(matches!(err, DataError::InvalidUtf8 { line: 3, .. }));
            assert!(err.to_string().contains("bad.txt:3:"), "{err}");
        }

        #[test]
        fn a_missing_file_is_an_io_error_naming_it() {
            let dir = TempDir::new("missing");
            let path = dir.0.join("absent.bmes");
            let err = read_conll(&path).unwrap_err();
            assert!(matches!(err, DataError::Io { .. }));
            assert!(err.to_string().contains("absent.bmes"), "{err}");
        }
    }
}

/// Property tests over hostile input: whatever the bytes, the reader returns sentences or an error
/// that names the file and a line inside it; it never panics. `PROPTEST_CASES` scales the run
/// (docs/BENCHMARKS.md records a long one).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Lines a CoNLL file could hold, well-formed or not.
    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => ("[中国北京张三a1，。]", "(O|[BIMES]-(PER|LOC|ORG|GPE\\.NAM))")
                .prop_map(|(c, t)| format!("{c} {t}")),
            2 => Just(String::new()),
            1 => Just("-DOCSTART- O".to_string()),
            1 => "[科技]{1,2}[0-9]\t[BIO]-[A-Z]{1,4}",
            1 => "[^\\n]{0,12}",
            1 => "\\PC{0,6} (B-|-PER|X-ORG|b-per|O-|B--)",
            1 => "[ \\t\\u{a0}\\u{3000}]{1,4}",
            1 => (1usize..3).prop_map(|k| "字".repeat(k * 1500)),
        ]
    }

    fn file() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec(line(), 0..40),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        )
            .prop_map(|(lines, crlf, bom, flips)| {
                let mut text = if bom {
                    "\u{feff}".to_string()
                } else {
                    String::new()
                };
                text.push_str(&lines.join(if crlf { "\r\n" } else { "\n" }));
                let mut bytes = text.into_bytes();
                // A few raw bytes anywhere: broken UTF-8, NULs, stray newlines.
                for (at, b) in flips {
                    if !bytes.is_empty() {
                        let i = at % bytes.len();
                        bytes[i] = b;
                    }
                }
                bytes
            })
    }

    fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
        let n_lines = bytes.split(|&b| b == b'\n').count();
        match parse_conll_bytes(bytes, "in.conll") {
            Ok(sentences) => {
                prop_assert!(!sentences.is_empty());
                for s in &sentences {
                    prop_assert!(!s.chars.is_empty());
                    prop_assert_eq!(s.chars.len(), s.tags.len());
                    prop_assert!(s.line >= 1 && s.line <= n_lines);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let rest = msg.strip_prefix("in.conll:");
                prop_assert!(rest.is_some(), "error without the file: {}", msg);
                let line: usize = rest
                    .and_then(|r| r.split(':').next())
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                prop_assert!(
                    line >= 1 && line <= n_lines.max(1),
                    "line {} of {}: {}",
                    line,
                    n_lines,
                    msg
                );
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn conll_like_files_never_panic_and_errors_name_a_line(bytes in file()) {
            check(&bytes)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            check(&bytes)?;
        }
    }
}
