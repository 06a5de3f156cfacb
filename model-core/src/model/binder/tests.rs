use super::*;
use burn::tensor::Distribution;
use rand::{Rng, SeedableRng, rngs::StdRng};

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn small(device: &Device, k: usize) -> BinderHead {
    BinderConfig::new(6, 3, k)
        .with_dim(8)
        .with_width_dim(4)
        .with_dropout(0.0)
        .init(device)
}

fn gm(ty: usize, first: usize, last: usize) -> GoldMention {
    GoldMention { ty, first, last }
}

#[test]
fn binder_span_layer_equals_the_explicit_concatenation() {
    let device = Device::flex();
    device.seed(1);
    let k = 3;
    let head = small(&device, k);
    let [b, p, h] = [2, 5, 6];
    let reps = Tensor::<3>::random([b, p, h], Distribution::Normal(0.0, 1.0), &device);
    let got = host(head.span_projection(reps.clone()));
    let r = host(reps);
    // W^sp = [A; B; C] as one [2H + w, d] matrix, Burn's row layout (x·W + b).
    let (a, bm, c) = (
        host(head.span_first.weight.val()),
        host(head.span_last.weight.val()),
        host(head.span_width.weight.val()),
    );
    let bias = host(head.span_width.bias.as_ref().unwrap().val());
    let w = host(head.width.weight.val());
    let (d, wd) = (8, 4);
    let rows: Vec<&[f32]> = a.chunks(d).chain(bm.chunks(d)).chain(c.chunks(d)).collect();
    assert_eq!(rows.len(), 2 * h + wd);
    for s in 0..b {
        for i in 0..p {
            for kk in 0..k.min(p - i) {
                let x: Vec<f32> = r[(s * p + i) * h..][..h]
                    .iter()
                    .chain(&r[(s * p + i + kk) * h..][..h])
                    .chain(&w[kk * wd..][..wd])
                    .copied()
                    .collect();
                for o in 0..d {
                    let want: f32 = x
                        .iter()
                        .zip(&rows)
                        .map(|(xv, row)| xv * row[o])
                        .sum::<f32>()
                        + bias[o];
                    let have = got[((s * p + i) * k + kk) * d + o];
                    assert!(
                        (want - have).abs() < 1e-4,
                        "({s},{i},{kk},{o}): {want} vs {have}"
                    );
                }
            }
        }
    }
}

#[test]
fn binder_forward_masks_padding_and_cls_spans() {
    let device = Device::flex();
    device.seed(2);
    let head = small(&device, 3);
    let reps = Tensor::<3>::random([2, 5, 6], Distribution::Normal(0.0, 1.0), &device);
    let lengths = [4, 2];
    let s = head.forward(reps, &lengths);
    let dims = s.dims();
    assert_eq!(
        dims,
        SpanDims {
            n_types: 3,
            positions: 5,
            max_span_len: 3
        }
    );
    let cap = 100.0 + 1e-3;
    let (start, span) = (host(s.start), host(s.span));
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..3 {
            for i in 0..5 {
                let v = start[(b * 3 + t) * 5 + i];
                assert_eq!(v < MASKED / 2.0, i > len, "start ({b},{t},{i}) = {v}");
                assert!(v.abs() <= cap || i > len);
                for k in 0..3 {
                    let v = span[((b * 3 + t) * 5 + i) * 3 + k];
                    let valid = (i == 0 && k == 0) || (i >= 1 && i + k <= len);
                    assert_eq!(v < MASKED / 2.0, !valid, "span ({b},{t},{i},{k}) = {v}");
                }
            }
        }
    }
}

#[test]
fn binder_scales_are_capped() {
    let device = Device::flex();
    let mut head = small(&device, 2);
    head.log_scale_span = Param::from_tensor(Tensor::full([1], 9.0, &device));
    let reps = Tensor::<3>::random([1, 4, 6], Distribution::Normal(0.0, 1.0), &device);
    let span = host(head.forward(reps, &[3]).span);
    let top = span
        .iter()
        .filter(|&&v| v > MASKED / 2.0)
        .fold(0f32, |m, v| m.max(v.abs()));
    assert!(top <= 100.0 + 1e-3 && top > 10.0, "largest |score| {top}");
}

/// Random scores (masked entries random too: the loss must ignore them), with: a sentence
/// without entities, two gold spans of type 0 in one sentence, a type-1 gold nested in a type-0
/// one (a negative for type 0), type 2 absent from the batch, and a gold wider than K.
/// Lengths, gold, dims and host start / end / span scores.
type Case = (Vec<usize>, Vec<Vec<GoldMention>>, SpanDims, [Vec<f32>; 3]);

fn random_case(seed: u64) -> Case {
    let lengths = vec![6, 0, 4, 5];
    let gold = vec![
        vec![gm(0, 0, 2), gm(0, 4, 5), gm(1, 1, 1), gm(0, 4, 5)],
        vec![],
        vec![],
        vec![gm(1, 0, 4), gm(0, 3, 3)],
    ];
    let dims = SpanDims {
        n_types: 3,
        positions: 7,
        max_span_len: 3,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-8.0..8.0)).collect() };
    let bt = lengths.len() * dims.n_types * dims.positions;
    let scores = [draw(bt), draw(bt), draw(bt * dims.max_span_len)];
    (lengths, gold, dims, scores)
}

fn tensors(dims: SpanDims, b: usize, s: &[Vec<f32>; 3], device: &Device) -> BinderScores {
    let SpanDims {
        n_types: t,
        positions: p,
        max_span_len: k,
    } = dims;
    BinderScores {
        start: Tensor::from_data(TensorData::new(s[0].clone(), [b, t, p]), device),
        end: Tensor::from_data(TensorData::new(s[1].clone(), [b, t, p]), device),
        span: Tensor::from_data(TensorData::new(s[2].clone(), [b, t, p, k]), device),
    }
}

#[test]
fn binder_loss_equals_the_naive_loop_on_random_scores() {
    let device = Device::flex();
    for seed in 0..6 {
        let (lengths, gold, dims, s) = random_case(seed);
        let targets = BinderTargets::new(&lengths, &gold, dims).unwrap();
        // Duplicates collapse; the 5-wide type-1 gold is wider than K = 3.
        assert_eq!((targets.mentions(), targets.too_long), (4, 1));
        let out = binder_loss(
            &tensors(dims, 4, &s, &device),
            &targets,
            LossWeights::default(),
        );
        assert_eq!((out.mentions, out.too_long), (4, 1));
        let v = out.loss.into_scalar::<f32>() as f64;
        let naive = binder_loss_naive(
            &s[0],
            &s[1],
            &s[2],
            &lengths,
            &gold,
            dims,
            LossWeights::default(),
        );
        assert!(
            (v - naive).abs() < 1e-4 * naive.max(1.0),
            "seed {seed}: {v} vs {naive}"
        );
    }
}

#[test]
fn binder_loss_of_the_head_equals_the_naive_loop() {
    let device = Device::flex();
    device.seed(4);
    let head = small(&device, 3);
    let (lengths, gold, _, _) = random_case(0);
    let reps = Tensor::<3>::random([4, 7, 6], Distribution::Normal(0.0, 1.0), &device);
    let scores = head.forward(reps, &lengths);
    let dims = scores.dims();
    let targets = BinderTargets::new(&lengths, &gold, dims).unwrap();
    let v = binder_loss(&scores, &targets, LossWeights::default())
        .loss
        .into_scalar::<f32>() as f64;
    let naive = binder_loss_naive(
        &host(scores.start),
        &host(scores.end),
        &host(scores.span),
        &lengths,
        &gold,
        dims,
        LossWeights::default(),
    );
    assert!((v - naive).abs() < 1e-4 * naive.max(1.0), "{v} vs {naive}");
}

#[test]
fn binder_batch_without_entities_trains_only_the_threshold() {
    let device = Device::flex();
    let (lengths, _, dims, s) = random_case(9);
    let none = vec![vec![]; 4];
    let targets = BinderTargets::new(&lengths, &none, dims).unwrap();
    let out = binder_loss(
        &tensors(dims, 4, &s, &device),
        &targets,
        LossWeights::default(),
    );
    assert_eq!(out.mentions, 0);
    let v = out.loss.into_scalar::<f32>() as f64;
    let naive = binder_loss_naive(
        &s[0],
        &s[1],
        &s[2],
        &lengths,
        &none,
        dims,
        LossWeights::default(),
    );
    assert!(v.is_finite() && v > 0.0 && (v - naive).abs() < 1e-4 * naive.max(1.0));
    // Only the threshold half: with its weight at 0 the loss vanishes.
    let w = LossWeights {
        threshold: 0.0,
        ..LossWeights::default()
    };
    let zero = binder_loss(&tensors(dims, 4, &s, &device), &targets, w);
    assert_eq!(zero.loss.into_scalar::<f32>(), 0.0);
}

#[test]
fn binder_gold_that_does_not_fit_is_an_error() {
    let dims = SpanDims {
        n_types: 2,
        positions: 5,
        max_span_len: 2,
    };
    let err = BinderTargets::new(&[3], &[vec![gm(2, 0, 0)]], dims).unwrap_err();
    assert_eq!(
        err,
        BinderError::UnknownType {
            sentence: 0,
            ty: 2,
            n_types: 2
        }
    );
    let err = BinderTargets::new(&[3, 3], &[vec![], vec![gm(0, 1, 3)]], dims).unwrap_err();
    assert!(err.to_string().contains("sentence 1"), "{err}");
    let err = BinderTargets::new(&[3], &[vec![gm(0, 2, 1)]], dims).unwrap_err();
    assert!(matches!(err, BinderError::SpanOutOfRange { .. }), "{err}");
    let err = BinderTargets::new(&[5], &[vec![]], dims).unwrap_err();
    assert!(matches!(err, BinderError::TooManyChars { .. }), "{err}");
    let err = BinderTargets::new(&[3], &[], dims).unwrap_err();
    assert!(matches!(err, BinderError::GoldCount { .. }), "{err}");
}

#[test]
fn binder_gold_from_reader_spans() {
    use crate::data::Span;
    let types = ["LOC".to_string(), "ORG".to_string()];
    let span = |start, end, label: &str| Span {
        start,
        end,
        label: label.to_string(),
    };
    let gold = GoldMention::from_spans(&[span(0, 4, "ORG"), span(0, 2, "LOC")], &types).unwrap();
    assert_eq!(gold, [gm(1, 0, 3), gm(0, 0, 1)]);
    let err = GoldMention::from_spans(&[span(0, 1, "PER")], &types).unwrap_err();
    assert_eq!(
        err.to_string(),
        "entity type `PER` is not one of the head's types"
    );
    let back = ScoredSpan {
        ty: 1,
        start: 0,
        end: 4,
        score: 1.0,
        threshold: 0.0,
    };
    assert_eq!(back.to_span(&types), span(0, 4, "ORG"));
}

#[test]
fn binder_gradients_reach_every_projection() {
    let device = Device::flex().autodiff();
    device.seed(6);
    let head = small(&device, 3);
    let reps =
        Tensor::<3>::random([2, 6, 6], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let lengths = [5, 3];
    let gold = vec![vec![gm(0, 0, 1), gm(1, 3, 4)], vec![]];
    let scores = head.forward(reps.clone(), &lengths);
    let targets = BinderTargets::new(&lengths, &gold, scores.dims()).unwrap();
    let grads = binder_loss(&scores, &targets, LossWeights::default())
        .loss
        .backward();
    let norm = |g: Option<Tensor<2>>| g.map_or(0.0, |g| g.abs().sum().into_scalar::<f32>());
    for (name, w) in [
        ("types", &head.types.weight),
        ("type_start", &head.type_start.weight),
        ("type_span", &head.type_span.weight),
        ("token_end", &head.token_end.weight),
        ("span_first", &head.span_first.weight),
        ("span_width", &head.span_width.weight),
        ("width", &head.width.weight),
    ] {
        assert!(norm(w.val().grad(&grads)) > 0.0, "no gradient for {name}");
    }
    let g = reps
        .grad(&grads)
        .map_or(0.0, |g| g.abs().sum().into_scalar::<f32>());
    assert!(g > 0.0);
    let a = head.log_scale_span.val().grad(&grads).map(host);
    assert!(a.is_some_and(|a| a[0] != 0.0));
}

#[cfg(feature = "train")]
mod fitting {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};

    /// Fits the head alone on fixed random character states and returns it with the first
    /// and last loss.
    fn fit(
        lengths: &[usize],
        gold: &[Vec<GoldMention>],
        steps: usize,
    ) -> (BinderHead, Tensor<3>, f32, f32) {
        let device = Device::flex().autodiff();
        device.seed(7);
        let mut head = BinderConfig::new(16, 2, 4)
            .with_dim(16)
            .with_width_dim(8)
            .with_dropout(0.0)
            .init(&device);
        let p = 1 + lengths.iter().max().copied().unwrap_or(0);
        let reps = Tensor::<3>::random(
            [lengths.len(), p, 16],
            Distribution::Normal(0.0, 1.0),
            &device,
        );
        let mut optim = AdamConfig::new().init();
        let (mut first, mut last) = (f32::NAN, f32::NAN);
        for step in 0..steps {
            let scores = head.forward(reps.clone(), lengths);
            let targets = BinderTargets::new(lengths, gold, scores.dims()).unwrap();
            let loss = binder_loss(&scores, &targets, LossWeights::default()).loss;
            last = loss.clone().into_scalar::<f32>();
            if step == 0 {
                first = last;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &head);
            head = optim.step(2e-2, head, grads);
        }
        (head, reps, first, last)
    }

    fn decoded(
        head: &BinderHead,
        reps: Tensor<3>,
        lengths: &[usize],
        mode: Decoding,
    ) -> Vec<Vec<(usize, usize, usize)>> {
        let scores = head.forward(reps, lengths);
        let dims = scores.dims();
        decode_batch(&host(scores.span), dims, lengths, mode)
            .into_iter()
            .map(|s| s.into_iter().map(|x| (x.ty, x.start, x.end)).collect())
            .collect()
    }

    /// Reader → gold → fit → nested decoding → span metrics: the fixture is fitted exactly.
    #[test]
    fn binder_fits_a_nested_jsonl_fixture() {
        use crate::data::{Span, parse_span_jsonl, span_types};
        use crate::metrics::evaluate_spans;
        let fixture = concat!(
            r#"{"text": "北京大学", "spans": [{"start": 0, "end": 4, "type": "ORG"}, {"start": 0, "end": 2, "type": "LOC"}]}"#,
            "\n",
            r#"{"text": "去上海", "label": [[1, 3, "LOC"]]}"#,
            "\n",
            r#"{"text": "你好", "label": {}}"#,
            "\n"
        );
        let data = parse_span_jsonl(fixture, "fixture.jsonl").unwrap();
        let types = span_types(&data);
        let lengths: Vec<usize> = data.iter().map(|s| s.chars.len()).collect();
        let gold: Vec<Vec<GoldMention>> = data
            .iter()
            .map(|s| GoldMention::from_spans(&s.spans, &types).unwrap())
            .collect();
        let (head, reps, _, _) = fit(&lengths, &gold, 200);
        let scores = head.forward(reps, &lengths);
        let dims = scores.dims();
        let pred: Vec<Vec<Span>> =
            decode_batch(&host(scores.span), dims, &lengths, Decoding::Nested)
                .iter()
                .map(|s| s.iter().map(|x| x.to_span(&types)).collect())
                .collect();
        let gold_spans: Vec<Vec<Span>> = data.into_iter().map(|s| s.spans).collect();
        let r = evaluate_spans(&gold_spans, &pred, &lengths).unwrap();
        assert_eq!(
            (r.overall.correct, r.overall.predicted, r.overall.gold),
            (3, 3, 3)
        );
    }

    #[test]
    fn binder_loss_decreases_under_adam() {
        let lengths = [5, 4];
        let gold = vec![vec![gm(0, 0, 1), gm(1, 3, 4)], vec![gm(1, 1, 2)]];
        let (_, _, first, last) = fit(&lengths, &gold, 30);
        assert!(last < 0.5 * first, "loss {first} → {last}");
    }

    #[test]
    fn binder_nested_decoding_returns_the_fitted_overlapping_gold() {
        // Type 1 nested inside type 0, and two type-0 spans sharing a start; a sentence
        // without entities.
        let lengths = [6, 5, 3];
        let gold = vec![
            vec![gm(0, 0, 3), gm(1, 1, 2)],
            vec![gm(0, 1, 2), gm(0, 1, 4), gm(1, 4, 4)],
            vec![],
        ];
        let (head, reps, _, last) = fit(&lengths, &gold, 200);
        assert!(last < 0.5, "final loss {last}");
        let got = decoded(&head, reps.clone(), &lengths, Decoding::Nested);
        let want: Vec<Vec<(usize, usize, usize)>> = gold
            .iter()
            .map(|g| {
                let mut v: Vec<_> = g.iter().map(|m| (m.ty, m.first, m.last + 1)).collect();
                v.sort_by_key(|&(t, s, e)| (s, e, t));
                v
            })
            .collect();
        assert_eq!(got, want);
        // Flat decoding of the same scores keeps a non-overlapping subset.
        let flat = decoded(&head, reps, &lengths, Decoding::Flat);
        for (f, n) in flat.iter().zip(&got) {
            assert!(f.iter().all(|x| n.contains(x)));
            assert!(f.len() < n.len() || n.len() < 2);
        }
    }
}
