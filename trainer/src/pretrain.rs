//! `nerco pretrain`: masked-character pretraining of a BERT character encoder on unlabelled text,
//! written as a Hugging Face directory (`config.json`, `model.safetensors`, `vocab.txt`) that
//! `[model] char_encoder` loads, as `transformers` does.
//!
//! Only training text belongs in the corpus (the default is the train splits in `data/`): dev or
//! test text would leak into model selection and the reported scores.

use crate::run_dir::{read_json, write_atomic, write_json};
use anyhow::{Context, Result, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use model_core::data::read_conll;
use model_core::model::BertConfig;
use model_core::model::mlm::{BertMlm, MaskedBatch, MaskingSpec};
use model_core::pipeline::split_long;
use model_core::vocab::BertVocab;
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The default corpus: every train split the repository ships.
pub const DEFAULT_CORPUS: [&str; 3] = [
    "data/resume/train.char.bmes",
    "data/weibo/weiboNER_2nd_conll.train",
    "data/msra/train.bio.gz",
];

const SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// What a pretraining run was asked for; stored with its checkpoint so `--resume` continues the
/// same run.
#[derive(Clone, Debug, Serialize, Deserialize, clap::Args)]
pub struct PretrainSettings {
    /// Training text (repeatable): CoNLL files (first column; `.gz` too) or `.txt` files of
    /// one paragraph per line (UTF-8 or GB18030; People's Daily `word/POS` annotations are
    /// stripped). Default: the train splits in data/. Never pass dev or test text.
    #[arg(long)]
    pub corpus: Vec<PathBuf>,
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Feed-forward width (default: 4 × hidden).
    #[arg(long)]
    pub intermediate: Option<usize>,
    /// Longest piece in characters; the model gets max_len + 2 positions ([CLS], [SEP]), so
    /// taggers using it need data.max_len ≤ this.
    #[arg(long, default_value_t = 200)]
    pub max_len: usize,
    /// Characters seen fewer times map to [UNK].
    #[arg(long, default_value_t = 2)]
    pub min_freq: usize,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 20000)]
    pub steps: usize,
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Linear warm-up over this fraction of the steps, then linear decay to 0.
    #[arg(long, default_value_t = 0.05)]
    pub warmup: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the directory (and a checkpoint to resume from) every N steps (0: only at the end).
    #[arg(long, default_value_t = 1000)]
    pub save_every: usize,
}

pub struct PretrainArgs {
    pub out: PathBuf,
    pub resume: bool,
    pub settings: PretrainSettings,
    pub device: Device,
}

/// Progress, written after each save; `checkpoint/state.json` names a complete directory.
#[derive(Serialize, Deserialize)]
struct PretrainState {
    settings: PretrainSettings,
    step: usize,
    seconds: f64,
    chars_seen: usize,
    log: Vec<LogPoint>,
}

#[derive(Clone, Serialize, Deserialize)]
struct LogPoint {
    step: usize,
    train_loss: f64,
    train_accuracy: f64,
    held_out_loss: Option<f64>,
    held_out_accuracy: Option<f64>,
    lr: f64,
    seconds: f64,
}

#[derive(Serialize)]
struct PretrainReport {
    settings: PretrainSettings,
    characters: usize,
    pieces: usize,
    held_out_pieces: usize,
    vocab_size: usize,
    parameters: usize,
    steps: usize,
    seconds: f64,
    characters_per_second: f64,
    log: Vec<LogPoint>,
}

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

/// Specials first, then characters seen at least `min_freq` times, most frequent first.
fn build_vocab(sentences: &[Vec<char>], min_freq: usize) -> Result<BertVocab> {
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

/// `config.json` as `transformers` writes it for a `BertForMaskedLM`.
fn hf_config(cfg: &BertConfig) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(cfg)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "architectures".into(),
            serde_json::json!(["BertForMaskedLM"]),
        );
        o.insert("pad_token_id".into(), serde_json::json!(0));
        o.insert("initializer_range".into(), serde_json::json!(0.02));
        o.insert("tie_word_embeddings".into(), serde_json::json!(true));
    }
    Ok(v)
}

fn save(out: &Path, cfg: &BertConfig, vocab: &BertVocab, model: &BertMlm) -> Result<()> {
    write_json(&out.join("config.json"), &hf_config(cfg)?)?;
    let mut text = vocab.tokens().join("\n");
    text.push('\n');
    write_atomic(&out.join("vocab.txt"), text.as_bytes())?;
    write_atomic(
        &out.join("model.safetensors"),
        &model.valid().to_safetensors(),
    )
}

/// Batches of similar length: shuffle, sort within pools of 50 batches, shuffle the batches.
fn batches(lens: &[usize], batch_size: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.shuffle(rng);
    let mut out = Vec::new();
    for pool in order.chunks(batch_size * 50) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| lens[i]);
        out.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    out.shuffle(rng);
    out
}

/// Mean loss and accuracy over the held-out pieces, masked with a fixed seed so that every
/// evaluation sees the same masks.
fn held_out(
    model: &BertMlm,
    seqs: &[Vec<usize>],
    spec: &MaskingSpec,
    batch_size: usize,
    device: &Device,
) -> Option<(f64, f64)> {
    if seqs.is_empty() {
        return None;
    }
    let model = model.valid();
    let mut rng = StdRng::seed_from_u64(0);
    let (mut loss, mut correct, mut n) = (0.0, 0usize, 0usize);
    for chunk in seqs.chunks(batch_size) {
        let refs: Vec<&[usize]> = chunk.iter().map(Vec::as_slice).collect();
        let batch = MaskedBatch::new(&refs, spec, &mut rng, device);
        if batch.n_masked == 0 {
            continue;
        }
        let (l, c) = model.loss(&batch);
        loss += l.into_scalar::<f32>() as f64 * batch.n_masked as f64;
        correct += c;
        n += batch.n_masked;
    }
    (n > 0).then(|| (loss / n as f64, correct as f64 / n as f64))
}

pub fn pretrain(a: PretrainArgs) -> Result<()> {
    let state_path = a.out.join("checkpoint").join("state.json");
    let resumed: Option<PretrainState> = if a.resume && state_path.exists() {
        Some(read_json(&state_path)?)
    } else {
        if a.out.join("config.json").exists() {
            bail!(
                "{} already holds a model; pass --resume to continue it or choose another --out",
                a.out.display()
            );
        }
        None
    };
    // A resumed run keeps its own settings, whatever the command line says.
    let st = resumed
        .as_ref()
        .map_or_else(|| a.settings.clone(), |r| r.settings.clone());
    if st.max_len < 1 || st.batch_size == 0 || st.steps == 0 || !(st.lr > 0.0) {
        bail!("--max-len, --batch-size, --steps and --lr must be positive");
    }
    if !(0.0..=1.0).contains(&st.warmup) {
        bail!("--warmup must be a fraction in [0, 1]");
    }
    let corpus: Vec<PathBuf> = if st.corpus.is_empty() {
        DEFAULT_CORPUS.iter().map(PathBuf::from).collect()
    } else {
        st.corpus.clone()
    };
    let mut sentences = Vec::new();
    for p in &corpus {
        let s = read_corpus(p)?;
        eprintln!("{}: {} lines", p.display(), s.len());
        sentences.extend(s);
    }
    let pieces: Vec<Vec<char>> = sentences
        .iter()
        .flat_map(|s| split_long(s, st.max_len).into_iter().map(<[char]>::to_vec))
        .filter(|p| !p.is_empty())
        .collect();
    if pieces.is_empty() {
        bail!("the corpus has no text");
    }
    let characters: usize = pieces.iter().map(Vec::len).sum();
    let device = a.device.clone();
    device.seed(st.seed);
    let ad = device.clone().autodiff();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(st.weight_decay as f32)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let (cfg, vocab, mut model) = match &resumed {
        Some(_) => {
            let (cfg, vocab) = model_core::model::bert::files::read_config(&a.out)?;
            let path = a.out.join("model.safetensors");
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let model = cfg
                .load_mlm(&bytes, &ad)
                .with_context(|| path.display().to_string())?;
            let opath = a.out.join("checkpoint").join("optim.bpk");
            let obytes = std::fs::read(&opath)
                .with_context(|| format!("cannot read {}", opath.display()))?;
            optim = optim
                .from_bytes(burn::tensor::Bytes::from_bytes_vec(obytes))
                .map_err(|e| {
                    anyhow::anyhow!("{} is not a valid optimizer state: {e:?}", opath.display())
                })?;
            (cfg, vocab, model)
        }
        None => {
            let vocab = build_vocab(&pieces, st.min_freq)?;
            let cfg = BertConfig::new(
                vocab.len(),
                st.hidden,
                st.layers,
                st.heads,
                st.intermediate.unwrap_or(4 * st.hidden),
                st.max_len + 2,
            );
            cfg.validate()?;
            let model = cfg.init_mlm(&ad);
            (cfg, vocab, model)
        }
    };
    let mask_id = vocab.mask.context("the vocabulary has no [MASK]")?;
    let spec = MaskingSpec {
        mask_id,
        random_from: SPECIALS.len(),
        vocab_size: vocab.len(),
        prob: 0.15,
    };
    // Every 100th piece (10th of a small corpus), up to 500, is held out to watch for
    // over-fitting; it is still training text, never dev or test.
    let stride = if pieces.len() >= 1000 { 100 } else { 10 };
    let (mut train, mut dev) = (Vec::new(), Vec::new());
    for (i, p) in pieces.iter().enumerate() {
        let ids = vocab.encode_wrapped(p);
        if i % stride == stride - 1 && dev.len() < 500 {
            dev.push(ids);
        } else {
            train.push(ids);
        }
    }
    if train.is_empty() {
        bail!("the corpus is too small to train on");
    }
    std::fs::create_dir_all(a.out.join("checkpoint"))
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(a.out.join("pretrain.log"))
        .with_context(|| format!("cannot open {}", a.out.join("pretrain.log").display()))?;
    let mut say = |m: String| {
        eprintln!("{m}");
        let _ = writeln!(log, "{m}");
    };
    let (mut step, seconds_before, mut chars_seen, mut points) = match resumed {
        Some(r) => (r.step, r.seconds, r.chars_seen, r.log),
        None => (0, 0.0, 0, Vec::new()),
    };
    say(format!(
        "pretrain: {} pieces ({} characters) from {} files, {} held out, vocabulary {}, {} layers × hidden {} × {} heads, {} parameters{}",
        train.len(),
        characters,
        corpus.len(),
        dev.len(),
        vocab.len(),
        cfg.num_hidden_layers,
        cfg.hidden_size,
        cfg.num_attention_heads,
        model.num_params(),
        if step > 0 {
            format!("; resumed after step {step}")
        } else {
            String::new()
        }
    ));
    // A resumed run draws a fresh batch order from its step, not the uninterrupted order.
    let mut rng = StdRng::seed_from_u64(st.seed ^ (step as u64).wrapping_mul(0x9E37_79B9));
    let lens: Vec<usize> = train.iter().map(Vec::len).collect();
    let warm = ((st.warmup * st.steps as f64).ceil() as usize).max(1);
    let bar = ProgressBar::new(st.steps as u64);
    bar.set_position(step as u64);
    bar.set_style(
        ProgressStyle::with_template("pretrain [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let t0 = Instant::now();
    let log_every = (st.steps / 50).clamp(1, 200);
    let (mut loss_sum, mut correct, mut masked) = (0.0, 0usize, 0usize);
    'outer: while step < st.steps {
        for idx in batches(&lens, st.batch_size, &mut rng) {
            if step >= st.steps {
                break 'outer;
            }
            // Linear warm-up, then linear decay to 0 (BERT's schedule).
            let lr = if step < warm {
                st.lr * (step + 1) as f64 / warm as f64
            } else {
                st.lr * (st.steps - step) as f64 / (st.steps - warm).max(1) as f64
            };
            let refs: Vec<&[usize]> = idx.iter().map(|&i| train[i].as_slice()).collect();
            chars_seen += refs.iter().map(|s| s.len() - 2).sum::<usize>();
            let batch = MaskedBatch::new(&refs, &spec, &mut rng, &ad);
            step += 1;
            bar.inc(1);
            if batch.n_masked == 0 {
                continue;
            }
            let (loss, c) = model.loss(&batch);
            let value = loss.clone().into_scalar::<f32>() as f64;
            if !value.is_finite() {
                bar.abandon();
                bail!(
                    "step {step}: the loss became {value}; lower --lr (the last save in {} resumes with --resume)",
                    a.out.display()
                );
            }
            loss_sum += value * batch.n_masked as f64;
            correct += c;
            masked += batch.n_masked;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            let saving = step == st.steps || (st.save_every > 0 && step % st.save_every == 0);
            if step % log_every == 0 || saving {
                let ho = if saving {
                    held_out(&model, &dev, &spec, st.batch_size, &device)
                } else {
                    None
                };
                let seconds = seconds_before + t0.elapsed().as_secs_f64();
                let p = LogPoint {
                    step,
                    train_loss: loss_sum / masked.max(1) as f64,
                    train_accuracy: correct as f64 / masked.max(1) as f64,
                    held_out_loss: ho.map(|h| h.0),
                    held_out_accuracy: ho.map(|h| h.1),
                    lr,
                    seconds,
                };
                bar.set_message(format!(
                    "loss {:.3} acc {:.3} | {:.0} chars/s",
                    p.train_loss,
                    p.train_accuracy,
                    chars_seen as f64 / seconds.max(1e-9)
                ));
                bar.suspend(|| {
                    say(format!(
                        "step {:>6}: masked-char loss {:.4}, accuracy {:.4}{} | lr {:.2e}, {:.0}s",
                        p.step,
                        p.train_loss,
                        p.train_accuracy,
                        match ho {
                            Some((l, acc)) => format!(" | held out {l:.4}, {acc:.4}"),
                            None => String::new(),
                        },
                        lr,
                        p.seconds
                    ))
                });
                points.push(p);
                (loss_sum, correct, masked) = (0.0, 0, 0);
            }
            if saving {
                save(&a.out, &cfg, &vocab, &model)?;
                write_atomic(
                    &a.out.join("checkpoint").join("optim.bpk"),
                    &optim
                        .into_bytes()
                        .map_err(|e| anyhow::anyhow!("cannot encode the optimizer: {e:?}"))?,
                )?;
                write_json(
                    &state_path,
                    &PretrainState {
                        settings: st.clone(),
                        step,
                        seconds: seconds_before + t0.elapsed().as_secs_f64(),
                        chars_seen,
                        log: points.clone(),
                    },
                )?;
            }
        }
    }
    bar.finish_and_clear();
    let seconds = seconds_before + t0.elapsed().as_secs_f64();
    write_json(
        &a.out.join("pretrain.json"),
        &PretrainReport {
            settings: st.clone(),
            characters,
            pieces: train.len(),
            held_out_pieces: dev.len(),
            vocab_size: vocab.len(),
            parameters: model.num_params(),
            steps: step,
            seconds,
            characters_per_second: chars_seen as f64 / seconds.max(1e-9),
            log: points,
        },
    )?;
    say(format!(
        "done in {seconds:.0}s: {} written (config.json, model.safetensors, vocab.txt)",
        a.out.display()
    ));
    Ok(())
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
}
