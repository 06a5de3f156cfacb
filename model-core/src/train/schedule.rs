//! What a phase's epochs see, all derived from the run's seed: the batch order, the learning rate
//! of each step, and the dropout seed of each epoch.

use super::recipe::Phase;
use super::stage::StageConfig;
use crate::batch::{Example, length_buckets, token_buckets};
use rand::seq::SliceRandom;
use rand::{SeedableRng, rngs::StdRng};

/// Linear warm-up over a fraction of all steps, then `lr / (1 + decay · epoch)`.
pub fn learning_rate(s: &StageConfig, step: usize, epoch: usize, steps_per_epoch: usize) -> f64 {
    let warm = (s.warmup * (s.epochs * steps_per_epoch) as f64).ceil() as usize;
    let ramp = if warm > 0 {
        ((step + 1) as f64 / warm as f64).min(1.0)
    } else {
        1.0
    };
    s.lr * ramp / (1.0 + s.decay * epoch as f64)
}

/// The encoder's learning-rate scale in stage-2 epoch `epoch` (0-based), with `h` =
/// `head_only_epochs`, `u` = `unfreeze_epochs` and `s` = `encoder_lr_scale`:
/// 0 while `epoch < h` (head only), then `s · min(1, (epoch − h + 1) / (u + 1))`. So `u = 0` is
/// today's full scale from the first unfrozen epoch, and with `u = 3` the first four unfrozen
/// epochs get s/4, s/2, 3s/4, s.
pub fn encoder_scale(s: &StageConfig, epoch: usize) -> f64 {
    if epoch < s.head_only_epochs {
        return 0.0;
    }
    let ramp = (epoch - s.head_only_epochs + 1) as f64 / (s.unfreeze_epochs + 1) as f64;
    s.encoder_lr_scale * ramp.min(1.0)
}

/// The weight of stage 2's auxiliary InfoNCE term in epoch `epoch` (0-based):
/// `aux_infonce_weight · aux_infonce_decay^epoch`.
pub fn aux_weight(s: &StageConfig, epoch: usize) -> f64 {
    s.aux_infonce_weight
        * s.aux_infonce_decay
            .powi(epoch.min(i32::MAX as usize) as i32)
}

/// The seed of one epoch of one phase: its batch order, token dropout and the device's dropout
/// masks all follow from it, so a resumed run repeats the epoch exactly.
pub fn epoch_seed(run_seed: u64, phase: Phase, epoch: usize) -> u64 {
    run_seed.wrapping_mul(1_000_003) ^ ((phase as u64) << 40) ^ epoch as u64
}

/// The host random stream of an epoch (batch order, then token dropout).
pub fn epoch_rng(run_seed: u64, phase: Phase, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(epoch_seed(run_seed, phase, epoch))
}

/// How many sentences make a batch: a fixed count, or as many as fit a budget of padded tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchSize {
    Sentences(usize),
    Tokens(usize),
}

impl From<usize> for BatchSize {
    fn from(n: usize) -> Self {
        BatchSize::Sentences(n)
    }
}

/// Indices `0..lens.len()` in batches of similar length, in a seeded random order: shuffle, sort
/// by length within pools of about 50 batches (little padding, still random), then shuffle the
/// batches.
pub fn length_pooled(
    lens: &[usize],
    size: impl Into<BatchSize>,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let size = size.into();
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.shuffle(rng);
    let pool_len = match size {
        BatchSize::Sentences(n) => n.max(1) * 50,
        BatchSize::Tokens(budget) => {
            let mean = lens.iter().sum::<usize>().max(1) as f64 / lens.len().max(1) as f64;
            ((budget as f64 / mean).ceil() as usize).max(1) * 50
        }
    };
    let mut batches = Vec::new();
    for pool in order.chunks(pool_len) {
        let pool_lens: Vec<usize> = pool.iter().map(|&i| lens[i]).collect();
        let buckets = match size {
            BatchSize::Sentences(n) => length_buckets(&pool_lens, n),
            BatchSize::Tokens(budget) => token_buckets(&pool_lens, budget),
        };
        for b in buckets {
            batches.push(b.into_iter().map(|k| pool[k]).collect::<Vec<_>>());
        }
    }
    batches.shuffle(rng);
    batches
}

/// An epoch's batches of `examples` ([`length_pooled`] over their lengths).
pub fn epoch_batches(
    examples: &[Example],
    size: impl Into<BatchSize>,
    rng: &mut StdRng,
) -> Vec<Vec<usize>> {
    let lens: Vec<usize> = examples.iter().map(Example::len).collect();
    length_pooled(&lens, size, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocabs;

    fn stage(warmup: f64, decay: f64) -> StageConfig {
        StageConfig {
            epochs: 4,
            warmup,
            decay,
            lr: 0.1,
            ..StageConfig::stage1()
        }
    }

    #[test]
    fn the_rate_ramps_up_linearly_then_decays_per_epoch() {
        // 4 epochs × 10 steps, 10 % warm-up: 4 ramp steps.
        let s = stage(0.1, 0.5);
        let lr = |step, epoch| learning_rate(&s, step, epoch, 10);
        assert!((lr(0, 0) - 0.025).abs() < 1e-12);
        assert!((lr(1, 0) - 0.05).abs() < 1e-12);
        assert!((lr(3, 0) - 0.1).abs() < 1e-12);
        assert!((lr(9, 0) - 0.1).abs() < 1e-12);
        assert!((lr(10, 1) - 0.1 / 1.5).abs() < 1e-12);
        assert!((lr(39, 3) - 0.1 / 2.5).abs() < 1e-12);
        // No warm-up: the full rate from the first step.
        assert_eq!(learning_rate(&stage(0.0, 0.0), 0, 0, 10), 0.1);
    }

    #[test]
    fn the_encoder_scale_is_zero_head_only_then_ramps_linearly_to_its_value() {
        let s = StageConfig {
            head_only_epochs: 2,
            unfreeze_epochs: 3,
            encoder_lr_scale: 0.4,
            ..StageConfig::stage2()
        };
        let got: Vec<f64> = (0..8).map(|e| encoder_scale(&s, e)).collect();
        let want = [0.0, 0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4];
        assert!(
            got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{got:?}"
        );
        // Defaults: 1 from the first epoch after the head-only ones, as before the option.
        let d = StageConfig {
            head_only_epochs: 1,
            ..StageConfig::stage2()
        };
        assert_eq!((encoder_scale(&d, 0), encoder_scale(&d, 1)), (0.0, 1.0));
    }

    #[test]
    fn the_aux_weight_decays_geometrically_per_epoch() {
        let s = StageConfig {
            aux_infonce_weight: 0.8,
            aux_infonce_decay: 0.5,
            ..StageConfig::stage2()
        };
        assert_eq!(aux_weight(&s, 0), 0.8);
        assert_eq!(aux_weight(&s, 1), 0.4);
        assert_eq!(aux_weight(&s, 3), 0.1);
        assert_eq!(aux_weight(&StageConfig::stage2(), 5), 0.0);
    }

    #[test]
    fn an_epochs_batches_cover_every_example_once_and_repeat_with_the_seed() {
        let texts: Vec<Vec<char>> = (0..57)
            .map(|i| {
                "张三李四北京上海"
                    .chars()
                    .cycle()
                    .take(1 + i % 13)
                    .collect()
            })
            .collect();
        let vocabs = Vocabs::build(texts.iter().map(Vec::as_slice), 1, 1);
        let examples: Vec<Example> = texts
            .iter()
            .map(|t| Example::unlabelled(t, &vocabs))
            .collect();
        let batches = |epoch| epoch_batches(&examples, 5, &mut epoch_rng(7, Phase::Tagging, epoch));
        let a = batches(0);
        let mut seen: Vec<usize> = a.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..57).collect::<Vec<_>>());
        assert!(a.iter().all(|b| !b.is_empty() && b.len() <= 5));
        // Sorted by length within a batch: little padding.
        assert!(a.iter().all(|b| {
            b.windows(2)
                .all(|w| examples[w[0]].len() <= examples[w[1]].len())
        }));
        assert_eq!(a, batches(0));
        assert_ne!(a, batches(1));
        // Phases and seeds get distinct streams.
        assert_ne!(
            epoch_seed(7, Phase::Contrast, 0),
            epoch_seed(7, Phase::Tagging, 0)
        );
        assert_ne!(
            epoch_seed(7, Phase::Tagging, 0),
            epoch_seed(8, Phase::Tagging, 0)
        );
    }

    #[test]
    fn a_token_budget_bounds_each_batchs_padded_size_and_covers_every_sentence() {
        let lens: Vec<usize> = (0..300).map(|i| 1 + (i * 37) % 120).collect();
        let mut rng = epoch_rng(3, Phase::Contrast, 0);
        let batches = length_pooled(&lens, BatchSize::Tokens(600), &mut rng);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort_unstable();
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
        for b in &batches {
            let longest = b.iter().map(|&i| lens[i]).max().unwrap();
            assert!(b.len() * longest <= 600, "{} × {longest}", b.len());
        }
        // Short sentences come many to a batch, long ones few.
        let batch_of = |i: usize| batches.iter().find(|b| b.contains(&i)).unwrap().len();
        let shortest = (0..300).min_by_key(|&i| lens[i]).unwrap();
        let longest = (0..300).max_by_key(|&i| lens[i]).unwrap();
        assert!(batch_of(shortest) >= 20 && batch_of(longest) <= 5);
        // A sentence longer than the budget still trains, alone.
        let lone = length_pooled(&[5, 700, 5], BatchSize::Tokens(600), &mut rng);
        assert!(lone.contains(&vec![1]));
        // A count reproduces the sentence batches exactly.
        let by_count =
            |size: BatchSize| length_pooled(&lens, size, &mut epoch_rng(3, Phase::Tagging, 1));
        assert_eq!(by_count(BatchSize::Sentences(10)), by_count(10.into()));
    }
}
