//! `nerco eval` and `nerco predict`: load a finished run and tag text with it.

use crate::config::RunConfig;
use crate::data::is_span_file;
use crate::run_dir::{write_atomic, write_json};
use anyhow::{Context, Result, bail};
use burn::prelude::*;
use model_core::data::{
    convert_tags, detect_scheme, read_conll, read_span_jsonl, write_conll_triples,
};
use model_core::pipeline::Pipeline;
use std::io::{Read, Write};
use std::path::Path;

/// The finished run in `run` (`meta.json` + `model.bpk`), ready to tag.
pub fn load_pipeline(run: &Path, device: &Device) -> Result<Pipeline> {
    Ok(Pipeline::load(run, device)?)
}

pub struct EvalArgs<'a> {
    pub run: &'a Path,
    pub split: &'a str,
    pub data: Option<&'a Path>,
    pub write_conll: Option<&'a Path>,
    pub json: Option<&'a Path>,
}

/// The file `nerco eval` scores and how it is read (`[data] format`, or by its name).
fn eval_file(a: &EvalArgs) -> Result<(std::path::PathBuf, String)> {
    if let Some(p) = a.data {
        return Ok((p.to_path_buf(), "auto".into()));
    }
    let cfg = RunConfig::load(&a.run.join("config.toml"))?;
    let path = match a.split {
        "dev" => cfg.data.dev,
        "test" => cfg.data.test,
        "train" => cfg.data.train,
        other => bail!("unknown split `{other}` (dev, test or train)"),
    };
    Ok((path, cfg.data.format))
}

/// `nerco eval` on span JSON Lines: exact-span scores, nested entities included.
fn eval_spans(pipeline: &Pipeline, path: &Path, a: &EvalArgs) -> Result<()> {
    if a.write_conll.is_some() {
        bail!(
            "--write-conll needs tagged (CoNLL) data; {} holds spans",
            path.display()
        );
    }
    let sentences = read_span_jsonl(path)?;
    let (report, _) = pipeline.score_spans(&sentences)?;
    if let Some(out) = a.json {
        write_json(out, &report)?;
    }
    println!("{}: {} sentences", path.display(), sentences.len());
    println!("{}", report.summary());
    Ok(())
}

pub fn eval(a: EvalArgs, device: &Device) -> Result<()> {
    let pipeline = load_pipeline(a.run, device)?;
    let (path, format) = eval_file(&a)?;
    if is_span_file(&path, &format) {
        return eval_spans(&pipeline, &path, &a);
    }
    // A Binder model is scored on its spans; the tags written are its flat decoding's.
    let sentences = read_conll(&path)?;
    let (report, pred) = pipeline.score(&sentences)?;
    if let Some(out) = a.write_conll {
        // Predictions in the file's own scheme, so a conlleval scorer reads both columns alike.
        let scheme = detect_scheme(&sentences);
        let triples: Vec<(Vec<char>, Vec<String>, Vec<String>)> = sentences
            .iter()
            .zip(&pred)
            .map(|(s, p)| (s.chars.clone(), s.tags.clone(), convert_tags(p, scheme)))
            .collect();
        write_atomic(out, write_conll_triples(&triples).as_bytes())?;
    }
    if let Some(out) = a.json {
        write_json(out, &report)?;
    }
    println!("{}: {} sentences", path.display(), sentences.len());
    println!("{}", report.summary());
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// One sentence per line.
    Text,
    /// One character per line (first column), blank lines between sentences.
    Conll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// `{"text", "entities":[{"start","end","type","text"}]}` per line; a nested Binder model
    /// lists every entity, overlapping ones included.
    Jsonl,
    /// `char tag` lines. Tags cannot hold overlapping entities: for a nested Binder model they
    /// are its flat decoding's (the best-scoring of overlapping entities).
    Conll,
}

/// Sentences from text input: lines, or CoNLL blocks (first column, first code point).
fn read_sentences(input: &str, format: InputFormat) -> Vec<Vec<char>> {
    match format {
        InputFormat::Text => input
            .lines()
            .map(|l| l.trim_end_matches('\r').chars().collect())
            .collect(),
        InputFormat::Conll => {
            let mut out = Vec::new();
            let mut cur = Vec::new();
            for line in input.lines() {
                match line
                    .split_whitespace()
                    .next()
                    .and_then(|f| f.chars().next())
                {
                    Some(c) => cur.push(c),
                    None if !cur.is_empty() => out.push(std::mem::take(&mut cur)),
                    None => {}
                }
            }
            if !cur.is_empty() {
                out.push(cur);
            }
            out
        }
    }
}

pub fn predict(
    run: &Path,
    file: Option<&Path>,
    input: InputFormat,
    output: OutputFormat,
    device: &Device,
) -> Result<()> {
    let pipeline = load_pipeline(run, device)?;
    let mut bytes = Vec::new();
    match file {
        Some(p) => {
            bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
        }
        None => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
        }
    }
    let name = file.map_or("<stdin>".to_string(), |p| p.display().to_string());
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            bail!("{name}:{line}: input is not valid UTF-8");
        }
    };
    let sentences = read_sentences(&text, input);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for chunk in sentences.chunks(256) {
        let chunk = chunk.to_vec();
        match output {
            OutputFormat::Jsonl => {
                for (chars, ents) in chunk.iter().zip(pipeline.entities(&chunk, 64)) {
                    let line = serde_json::json!({ "text": chars.iter().collect::<String>(), "entities": ents });
                    writeln!(out, "{line}")?;
                }
            }
            OutputFormat::Conll => {
                for (chars, tags) in chunk.iter().zip(pipeline.tags(&chunk, 64)) {
                    for (c, t) in chars.iter().zip(tags) {
                        writeln!(out, "{c} {t}")?;
                    }
                    writeln!(out)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Property tests of `predict`'s text path: any text (emoji, control characters, combining marks,
/// lines far longer than the model's window) is read into sentences and tagged without a panic by
/// a CRF and by a nested Binder model, every character gets a tag, and every entity is a real
/// slice of its sentence.
#[cfg(test)]
mod fuzz {
    use super::*;
    use model_core::config::{Decoding, HeadKind, ModelConfig};
    use model_core::data::Scheme;
    use model_core::model::TaggerConfig;
    use model_core::pipeline::{FORMAT_VERSION, ModelMeta};
    use model_core::tags::TagSet;
    use model_core::vocab::Vocabs;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// A small random model (entities appear: its tags are untrained) with a 7-character window,
    /// so long lines are split and re-joined; with `binder`, a Binder head decoding nested spans.
    fn make(binder: bool) -> Pipeline {
        let device = Device::flex();
        device.seed(3);
        let texts: Vec<Vec<char>> = ["张三在北京大学读书", "李四去上海", "😀 ok"]
            .iter()
            .map(|s| s.chars().collect())
            .collect();
        let vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
        let tags = TagSet::new(Scheme::Bmes, ["LOC".into(), "PER".into(), "ORG".into()]);
        let mut model = TaggerConfig::new(vocabs.chars.len(), vocabs.bigrams.len(), tags.len())
            .with_hyper(ModelConfig::sized(16, 2, 8));
        if binder {
            model.hyper.head = HeadKind::Binder;
            model.hyper.binder.decoding = Decoding::Nested;
            model.binder = model.hyper.binder_head(tags.types.len(), 4);
        }
        let tagger = model.init(&device);
        let meta = ModelMeta {
            format_version: FORMAT_VERSION,
            model,
            vocabs,
            tags,
            max_len: 7,
        };
        Pipeline::new(meta, &tagger, &device)
    }

    fn pipelines() -> &'static [Pipeline; 2] {
        static P: OnceLock<[Pipeline; 2]> = OnceLock::new();
        P.get_or_init(|| [make(false), make(true)])
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => "[张三李四北京上海大学在去。，！a-z0-9 ]{0,30}",
                1 => "\\PC{0,20}",
                1 => "[\\u{0}-\\u{1f}\\u{7f}\\u{200b}\\u{feff}\\u{301}\\u{1F600}-\\u{1F64F}]{0,10}",
                1 => (1usize..40).prop_map(|k| "北京大学".repeat(k)),
                1 => "[a-z]{1,3} [BIO]-PER",
            ],
            0..8,
        )
        .prop_map(|lines| lines.join("\n"))
    }

    fn check(input: &str, format: InputFormat) -> Result<(), TestCaseError> {
        let sentences = read_sentences(input, format);
        for p in pipelines() {
            let tags = p.tags(&sentences, 4);
            prop_assert_eq!(tags.len(), sentences.len());
            for (s, t) in sentences.iter().zip(&tags) {
                prop_assert_eq!(s.len(), t.len());
            }
            for (s, ents) in sentences.iter().zip(p.entities(&sentences, 4)) {
                for e in ents {
                    prop_assert!(e.start < e.end && e.end <= s.len());
                    prop_assert_eq!(e.text, s[e.start..e.end].iter().collect::<String>());
                }
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_text_is_tagged_without_panicking(input in text()) {
            check(&input, InputFormat::Text)?;
            check(&input, InputFormat::Conll)?;
        }
    }
}
