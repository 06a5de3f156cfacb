//! The order of a training epoch: batches of similar length in a seeded random order.

use model_core::batch::length_buckets;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Indices `0..lens.len()` in batches of at most `batch_size` (> 0): shuffled, sorted by length
/// within pools of 50 batches (little padding, still random), then the batches shuffled.
pub fn length_pooled(lens: &[usize], batch_size: usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.shuffle(rng);
    let mut batches = Vec::new();
    for pool in order.chunks(batch_size * 50) {
        let pool_lens: Vec<usize> = pool.iter().map(|&i| lens[i]).collect();
        for b in length_buckets(&pool_lens, batch_size) {
            batches.push(b.into_iter().map(|k| pool[k]).collect::<Vec<_>>());
        }
    }
    batches.shuffle(rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use model_core::batch::Example;
    use rand::SeedableRng;

    fn lens(n: usize) -> Vec<usize> {
        (0..n).map(|i| 1 + (i * 7919) % 37).collect()
    }

    #[test]
    fn every_index_once_in_batches_sorted_within_pools() {
        let lens = lens(1234);
        let batches = length_pooled(&lens, 8, &mut StdRng::seed_from_u64(3));
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 8));
        assert!(
            batches
                .iter()
                .all(|b| b.windows(2).all(|w| lens[w[0]] <= lens[w[1]]))
        );
        assert_eq!(
            batches,
            length_pooled(&lens, 8, &mut StdRng::seed_from_u64(3))
        );
        assert_ne!(
            batches,
            length_pooled(&lens, 8, &mut StdRng::seed_from_u64(4))
        );
    }

    /// The order `nerco pretrain` drew before this function existed (sort within each pool by
    /// length, stable): a seed must keep giving the same batches.
    fn pretrain_order_before(
        lens: &[usize],
        batch_size: usize,
        rng: &mut StdRng,
    ) -> Vec<Vec<usize>> {
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

    #[test]
    fn same_batches_as_pretrain_and_train_drew_before() {
        let lens = lens(5000);
        for (bs, seed) in [(32, 42u64), (7, 1)] {
            let new = length_pooled(&lens, bs, &mut StdRng::seed_from_u64(seed));
            let old = pretrain_order_before(&lens, bs, &mut StdRng::seed_from_u64(seed));
            assert_eq!(new, old, "batch size {bs}, seed {seed}");
            let examples: Vec<Example> = lens
                .iter()
                .map(|&n| Example {
                    chars: vec![0; n],
                    bigrams: vec![0; n],
                    tags: vec![0; n],
                    classes: vec![0; n],
                    bert: Vec::new(),
                    words: Vec::new(),
                })
                .collect();
            let train =
                crate::train::epoch_batches(&examples, bs, &mut StdRng::seed_from_u64(seed));
            assert_eq!(new, train, "batch size {bs}, seed {seed}");
        }
    }
}
