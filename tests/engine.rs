//! Behaviour of the engine: classic and sqrt give bit-identical outputs for random signals,
//! windows, hops, ranges and LRU budgets (down to zero); the LRU never exceeds its budget and
//! its byte accounting is exact; chunked push equals a single push; random access resumes from
//! checkpoints, replays at most k windows and matches a full classic pass.
//!
//! `PROPTEST_CASES` raises the number of cases (default 48 here, to keep CI short).

use proptest::prelude::*;
use sqrtspace::{pipeline, stage, ByteSize, Checkpoints, Config, Error, Mode};

/// Parameters of the test pipelines.
#[derive(Debug, Clone)]
pub struct P {
    gain: f32,
}

#[stage(inputs = [input], cost = 2)]
fn frame_sum(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

#[stage(inputs = [input, input[-1]], cost = 5)]
fn energy(frame: &[f32], prev: Option<&[f32]>) -> Vec<f32> {
    let mut v: Vec<f32> = frame.iter().map(|x| x * x).collect();
    if let Some(p) = prev {
        v.push(p[0]);
    }
    v
}

/// Exponential moving average state (serialisable, for checkpoints written out with the
/// `serde` feature).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ema {
    value: f32,
    seen: u32,
}
impl ByteSize for Ema {}

#[stage(inputs = [frame_sum])]
fn ema(x: &f32, #[state] s: &mut Ema) -> f32 {
    s.value = if s.seen == 0 {
        *x
    } else {
        0.75 * s.value + 0.25 * x
    };
    s.seen += 1;
    s.value
}

#[stage(inputs = [frame_sum, frame_sum[-1]])]
fn diff(x: &f32, prev: Option<&f32>, #[params] p: &P) -> f32 {
    (x - prev.copied().unwrap_or(0.0)) * p.gain
}

#[stage(inputs = [ema, diff])]
fn acc(e: &f32, d: &f32, #[state] total: &mut f64) -> f64 {
    *total += f64::from(*e) - f64::from(*d);
    *total
}

#[stage(inputs = [acc, acc[-2], energy], cost = 3)]
fn mix(a: &f64, a2: Option<&f64>, e: &Vec<f32>) -> Vec<f64> {
    e.iter()
        .map(|x| f64::from(*x) + a - a2.copied().unwrap_or(-1.0))
        .collect()
}

pipeline! {
    /// Pure, stateful and lookback stages mixed.
    struct Mixed {
        sample: f32,
        params: P,
        stages: [frame_sum, energy, ema, diff, acc, mix],
        output: mix,
    }
}

pipeline! {
    /// Pure stages only.
    struct Pure {
        params: P,
        stages: [frame_sum, energy, diff],
        output: diff,
    }
}

pipeline! {
    /// Two output stages: push and stream calls emit `(ema, mix)` per window; `mix` reads
    /// `ema` through `acc`.
    struct Both {
        params: P,
        stages: [frame_sum, energy, ema, diff, acc, mix],
        output: [ema, mix],
    }
}

fn config(w: usize, h: usize, k: u64, lru: usize) -> Config {
    Config::default()
        .with_window(w)
        .with_hop(h)
        .with_checkpoints(Checkpoints::Every(k))
        .with_lru_bytes(lru)
        .with_input_buffer_blocks(1 << 20)
}

const PARAMS: P = P { gain: 1.5 };

fn classic(c: &Config, signal: &[f32], range: std::ops::Range<u64>) -> Vec<Vec<f64>> {
    let mut p = Mixed::new(c.clone().with_mode(Mode::Classic), PARAMS).unwrap();
    p.evaluate::<mix>(signal, range).unwrap()
}

fn case() -> impl Strategy<Value = (Vec<f32>, usize, usize, u64, usize, u64, u64)> {
    (
        1usize..12,
        1usize..12,
        1u64..9,
        prop_oneof![Just(0usize), 0usize..6000, Just(1usize << 20)],
    )
        .prop_flat_map(|(w, h, k, lru)| {
            let h = h.min(w);
            (
                // Random floats with full mantissas: equality below is of bits, so any
                // reordering of floating-point operations between modes would show.
                prop::collection::vec(-8f32..8f32, w..w + 300),
                Just(w),
                Just(h),
                Just(k),
                Just(lru),
            )
        })
        .prop_flat_map(|(sig, w, h, k, lru)| {
            let windows = ((sig.len() - w) / h + 1) as u64;
            (Just(sig), Just(w), Just(h), Just(k), Just(lru), 0..windows).prop_flat_map(
                move |(s, w, h, k, l, t0)| {
                    (
                        Just(s),
                        Just(w),
                        Just(h),
                        Just(k),
                        Just(l),
                        Just(t0),
                        t0 + 1..=windows,
                    )
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48), ..ProptestConfig::default() })]

    #[test]
    fn sqrt_equals_classic_bit_for_bit((signal, w, h, k, lru, t0, t1) in case()) {
        let c = config(w, h, k, lru);
        let expected = classic(&c, &signal, t0..t1);
        let mut p = Mixed::new(c.with_mode(Mode::Sqrt), PARAMS).unwrap();
        let got = p.evaluate::<mix>(&signal, t0..t1).unwrap();
        let bits = |v: &[Vec<f64>]| v.iter().map(|o| o.iter().map(|x| x.to_bits()).collect::<Vec<_>>()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&got), bits(&expected));
        prop_assert!(p.lru().high_water() <= lru, "LRU held {} > budget {}", p.lru().high_water(), lru);
        if lru == 0 {
            prop_assert_eq!(p.lru().high_water(), 0);
        }
        // Pure pipeline too, and auto mode agrees.
        let cp = config(w, h, k, lru);
        let a = Pure::new(cp.clone().with_mode(Mode::Classic), PARAMS).unwrap().evaluate::<diff>(&signal, t0..t1).unwrap();
        let b = Pure::new(cp.clone().with_mode(Mode::Sqrt), PARAMS).unwrap().evaluate::<diff>(&signal, t0..t1).unwrap();
        let d = Pure::new(cp.with_mode(Mode::Auto), PARAMS).unwrap().evaluate::<diff>(&signal, t0..t1).unwrap();
        prop_assert_eq!(a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), b.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        prop_assert_eq!(a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), d.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn random_access_after_a_pass_matches_classic_and_replays_at_most_k(
        (signal, w, h, k, lru, t0, t1) in case(),
        lookups in prop::collection::vec(any::<prop::sample::Index>(), 1..12),
        ring in prop_oneof![Just(1usize << 20), Just(0usize), 480usize..2000],
    ) {
        let c = config(w, h, k, lru).with_checkpoint_bytes(ring);
        let windows = c.windows_in(signal.len() as u64);
        let full = classic(&c, &signal, 0..windows);
        let mut pipe = Mixed::new(c.with_mode(Mode::Sqrt), PARAMS).unwrap();
        let mut p = pipe.over(&signal);
        let first = p.evaluate::<mix>(t0..t1).unwrap();
        prop_assert_eq!(&first[..], &full[t0 as usize..t1 as usize]);
        p.evaluate::<mix>(0..windows).unwrap();
        for ix in lookups {
            let t = ix.index(windows as usize) as u64;
            let before = p.counters();
            let got = p.evaluate::<mix>(t..t + 1).unwrap();
            prop_assert_eq!(&got[0], &full[t as usize]);
            let after = p.counters();
            if ring >= 1 << 20 {
                for (b, a) in before.stages.iter().zip(&after.stages) {
                    prop_assert!(a.replayed_windows - b.replayed_windows <= k,
                        "stage {} replayed {} windows for one lookup, k = {}", a.name, a.replayed_windows - b.replayed_windows, k);
                }
            }
        }
        prop_assert!(p.ring().bytes() <= ring);
    }

    #[test]
    fn several_outputs_equal_each_output_evaluated_alone(
        (signal, w, h, k, lru, _t0, _t1) in case(),
        chunk in 1usize..50,
    ) {
        let c = config(w, h, k, lru);
        let windows = c.windows_in(signal.len() as u64);
        let mut alone = Mixed::new(c.clone().with_mode(Mode::Classic), PARAMS).unwrap();
        let emas = alone.evaluate::<ema>(&signal, 0..windows).unwrap();
        let mixes = alone.evaluate::<mix>(&signal, 0..windows).unwrap();
        let expected: Vec<(f32, Vec<f64>)> = emas.into_iter().zip(mixes).collect();
        let mut both = Both::new(c, PARAMS).unwrap();
        let mut got = Vec::new();
        both.stream(signal.chunks(chunk).map(Ok::<_, Error>), |t, o| {
            assert_eq!(t as usize, got.len());
            got.push(o);
        }).unwrap();
        prop_assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            prop_assert_eq!(g.0.to_bits(), e.0.to_bits());
            prop_assert_eq!(&g.1, &e.1);
        }
        prop_assert!(both.lru().high_water() <= lru);
    }

    #[test]
    fn chunked_push_equals_single_push_and_evaluate(
        (signal, w, h, k, lru, _t0, _t1) in case(),
        cuts in prop::collection::vec(1usize..40, 0..30),
        pull_every in 1usize..4,
    ) {
        let c = config(w, h, k, lru);
        let windows = c.windows_in(signal.len() as u64);
        let expected = classic(&c, &signal, 0..windows);

        let mut once = Mixed::new(c.clone(), PARAMS).unwrap();
        once.push_samples(&signal).unwrap();
        prop_assert_eq!(&once.pull_until(u64::MAX).unwrap(), &expected);

        // A buffer of 3 windows: pushes are refused until outputs are pulled.
        let mut chunked = Mixed::new(c.with_input_buffer_blocks(3), PARAMS).unwrap();
        let mut got = Vec::new();
        let mut rest = &signal[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts.get(i).copied().unwrap_or(7).min(w + 1).min(rest.len());
            let (chunk, tail) = rest.split_at(n);
            if let Err(e) = chunked.push_samples(chunk) {
                prop_assert!(matches!(e, Error::Backpressure { .. }), "{}", e);
                let before = chunked.windows_available();
                got.extend(chunked.pull_until(u64::MAX).unwrap());
                prop_assert_eq!(before, chunked.windows_available(), "a refused chunk is not enqueued");
                chunked.push_samples(chunk).unwrap();
            }
            rest = tail;
            i += 1;
            if i % pull_every == 0 {
                // Pull part of the way: outputs come in order whatever the target.
                let to = chunked.windows_available().saturating_sub(1);
                got.extend(chunked.pull_until(to).unwrap());
            }
        }
        got.extend(chunked.pull_until(u64::MAX).unwrap());
        prop_assert_eq!(&got, &expected);
        let end = chunked.close();
        prop_assert_eq!(end.windows, windows);
        let after_close = matches!(chunked.push_samples(&[0.0]), Err(Error::PushAfterClose { .. }));
        prop_assert!(after_close);
    }
}

#[test]
fn stream_equals_evaluate_with_memory_bounded_by_the_buffer() {
    let signal: Vec<f32> = (0..5000)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let c = config(16, 4, 5, 2000).with_input_buffer_blocks(8);
    let windows = c.windows_in(signal.len() as u64);
    let expected = classic(&c, &signal, 0..windows);
    let mut p = Mixed::new(c, PARAMS).unwrap();
    let mut got = Vec::new();
    let chunks = signal.chunks(333).map(Ok::<_, Error>);
    let end = p.stream(chunks, |t, o| {
        assert_eq!(t as usize, got.len());
        got.push(o);
    });
    let end = end.unwrap();
    assert_eq!(got, expected);
    assert_eq!(end.windows, windows);
    assert_eq!(end.samples, 5000);
    assert_eq!(end.tail_samples, 5000 - ((windows - 1) * 4 + 16));
    assert!(matches!(
        p.push_samples(&[1.0]),
        Err(Error::PushAfterClose { total: 5000 })
    ));
}

#[test]
fn a_reader_streams_like_evaluate_and_a_partial_sample_is_an_error() {
    let signal: Vec<f32> = (0..3001)
        .map(|i| ((i * 53) % 97) as f32 / 48.0 - 1.0)
        .collect();
    let bytes: Vec<u8> = signal.iter().flat_map(|x| x.to_le_bytes()).collect();
    let c = config(16, 4, 5, 2000).with_input_buffer_blocks(4);
    let windows = c.windows_in(signal.len() as u64);
    let expected = classic(&c, &signal, 0..windows);

    let mut p = Mixed::new(c.clone(), PARAMS).unwrap();
    let mut got = Vec::new();
    let end = p
        .stream_reader(&bytes[..], |t, o| {
            assert_eq!(t as usize, got.len());
            got.push(o);
        })
        .unwrap();
    assert_eq!(got, expected);
    assert_eq!((end.samples, end.windows), (3001, windows));
    assert!(
        matches!(
            p.stream_reader(&bytes[..4], |_, _| {}),
            Err(Error::PushAfterClose { total: 3001 })
        ),
        "a closed stream takes no more samples"
    );

    // Three bytes of a fourth-to-last sample: every window of the complete samples is handed
    // out, then the error says how many samples were read.
    let mut p = Mixed::new(c, PARAMS).unwrap();
    let mut got = Vec::new();
    let e = p
        .stream_reader(&bytes[..bytes.len() - 1], |_, o| got.push(o))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::TruncatedSample {
                samples_read: 3000,
                trailing_bytes: 3,
                sample_bytes: 4
            }
        ),
        "{e}"
    );
    let complete = config(16, 4, 5, 2000).windows_in(3000);
    assert_eq!(&got[..], &expected[..complete as usize]);
}

#[test]
fn backpressure_refuses_the_whole_chunk() {
    let mut p = Pure::new(config(4, 2, 2, 0).with_input_buffer_blocks(2), PARAMS).unwrap();
    p.push_samples(&[1.0; 6]).unwrap();
    let err = p.push_samples(&[1.0; 3]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backpressure {
                offered: 3,
                would_hold: 9,
                capacity: 8
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("pull outputs first"), "{err}");
    assert_eq!(p.windows_available(), 2);
    assert_eq!(p.pull_until(u64::MAX).unwrap().len(), 2);
    p.push_samples(&[1.0; 3]).unwrap();
}

#[test]
fn checkpoints_exist_only_at_multiples_of_k() {
    let signal: Vec<f32> = (0..400).map(|i| (i % 13) as f32).collect();
    let c = config(4, 2, 6, 1 << 20).with_mode(Mode::Sqrt);
    let windows = c.windows_in(signal.len() as u64);
    let mut p = Mixed::new(c, PARAMS).unwrap();
    p.evaluate::<mix>(&signal, 0..windows).unwrap();
    let slot = p.slot::<acc>();
    for t in 0..=windows {
        let held = slot.checkpoint(t).is_some();
        assert_eq!(held, t > 0 && t % 6 == 0 && t <= windows, "window {t}");
    }
    assert!(
        p.slot::<frame_sum>().checkpoint(6).is_none(),
        "pure stages have no state to checkpoint"
    );
}

#[test]
fn expensive_re_read_outputs_are_checkpointed_at_exact_indices() {
    // LRU 0: `mix` reads `acc` and `acc[-2]`, and `acc` (stateful) costs a replay of k/2
    // windows to recompute: the plan snapshots its outputs every k windows.
    let signal: Vec<f32> = (0..400).map(|i| (i % 11) as f32).collect();
    let c = config(4, 2, 6, 0).with_mode(Mode::Sqrt);
    let windows = c.windows_in(signal.len() as u64);
    let mut p = Mixed::new(c.clone(), PARAMS).unwrap();
    let out = p.evaluate::<mix>(&signal, 0..windows).unwrap();
    assert_eq!(out, classic(&c, &signal, 0..windows));
    let plan = p.last_plan().unwrap();
    assert_eq!(plan.checkpointed_outputs, ["acc"]);
    assert!(plan.recompute_percent > 0);
    let slot = p.slot::<acc>();
    assert!(slot.output_checkpoint_indices().count() > 0);
    for t in 0..windows {
        assert_eq!(
            slot.output_checkpoint(t).is_some(),
            t % 6 == 0,
            "window {t}: output snapshots only at multiples of k"
        );
    }
    let counters = p.counters();
    assert!(counters.stage("acc").unwrap().checkpoint_hits > 0);
    assert_eq!(counters.output_checkpoint_saves, windows.div_ceil(6));
    assert!(
        p.slot::<frame_sum>().output_checkpoint(6).is_none(),
        "frame_sum is cheap to recompute (cost 2)"
    );

    // With an LRU large enough for the re-read outputs nothing is recomputed: no snapshots.
    let mut p = Mixed::new(c.with_lru_bytes(1 << 20), PARAMS).unwrap();
    p.evaluate::<mix>(&signal, 0..windows).unwrap();
    assert!(p.last_plan().unwrap().checkpointed_outputs.is_empty());
    assert_eq!(p.counters().output_checkpoint_saves, 0);
}

#[test]
fn checkpointed_state_round_trips_through_json() {
    // Checkpoints can be written out and read back (the groundwork of on-disk resume): the
    // `Serialize` bound is on this call, not on every stage's state.
    let signal: Vec<f32> = (0..200).map(|i| (i % 7) as f32).collect();
    let c = config(4, 2, 8, 1 << 20).with_mode(Mode::Sqrt);
    let windows = c.windows_in(signal.len() as u64);
    let mut p = Mixed::new(c, PARAMS).unwrap();
    p.evaluate::<mix>(&signal, 0..windows).unwrap();
    let state = p
        .slot::<ema>()
        .checkpoint(16)
        .expect("a checkpoint at 16")
        .clone();
    assert_eq!(state.seen, 16, "the state before window 16");
    let json = serde_json::to_string(&state).unwrap();
    let back: Ema = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
}

#[test]
fn ring_wraparound_evicts_oldest_and_stays_correct() {
    let signal: Vec<f32> = (0..600).map(|i| ((i * 7) % 19) as f32).collect();
    // Ema is 8 bytes, f64 8 bytes, each checkpoint charged 8 + 112 bytes of the ring's own:
    // room for 4 checkpoints in all.
    let c = config(4, 2, 5, 512)
        .with_checkpoint_bytes(480)
        .with_mode(Mode::Sqrt);
    let windows = c.windows_in(signal.len() as u64);
    let full = classic(&c, &signal, 0..windows);
    let mut pipe = Mixed::new(c, PARAMS).unwrap();
    let mut p = pipe.over(&signal);
    p.evaluate::<mix>(0..windows).unwrap();
    assert!(p.ring().evictions() > 0);
    assert!(p.ring().bytes() <= 480);
    let kept: Vec<u64> = p
        .slot::<acc>()
        .checkpoint_indices()
        .chain(p.slot::<ema>().checkpoint_indices())
        .collect();
    assert!(
        kept.iter().all(|&t| t >= windows - 15),
        "only the newest survive: {kept:?}"
    );
    for t in [0, 3, 50, 151, windows - 1, 7] {
        assert_eq!(p.evaluate::<mix>(t..t + 1).unwrap()[0], full[t as usize]);
    }
}

#[test]
fn lru_byte_accounting_is_exact() {
    let signal: Vec<f32> = (0..300).map(|i| i as f32).collect();
    let c = config(8, 3, 4, 3000).with_mode(Mode::Sqrt);
    let windows = c.windows_in(signal.len() as u64);
    let mut p = Mixed::new(c, PARAMS).unwrap();
    p.evaluate::<mix>(&signal, 0..windows).unwrap();
    let mut sum = 0;
    let mut entries = 0;
    for t in 0..windows {
        // Each entry is charged its value and the engine's own bytes for the entry.
        fn charged<T: ByteSize>(x: Option<&T>) -> usize {
            x.map_or(0, |x| {
                x.byte_size() + sqrtspace::cache::lru_entry_overhead(std::mem::size_of::<T>())
            })
        }
        let before = sum;
        sum += charged(p.slot::<frame_sum>().cached(t));
        sum += charged(p.slot::<energy>().cached(t));
        sum += charged(p.slot::<ema>().cached(t));
        sum += charged(p.slot::<diff>().cached(t));
        sum += charged(p.slot::<acc>().cached(t));
        sum += charged(p.slot::<mix>().cached(t));
        entries += usize::from(sum > before);
    }
    assert!(entries > 0);
    assert_eq!(
        p.lru().bytes(),
        sum,
        "the LRU charges exactly the bytes of what it holds"
    );
    assert_eq!(p.lru().len(), p.lru().keys().count());
    assert!(p.lru().bytes() <= 3000);
    assert!(p.counters().evictions > 0);
}

#[test]
fn zero_budget_recomputes_and_counts_it() {
    let signal: Vec<f32> = (0..200).map(|i| (i % 5) as f32).collect();
    let c = config(4, 4, 4, 0).with_mode(Mode::Sqrt);
    let windows = c.windows_in(signal.len() as u64);
    let mut p = Mixed::new(c, PARAMS).unwrap();
    p.evaluate::<mix>(&signal, 0..windows).unwrap();
    let counters = p.counters();
    assert_eq!(counters.cache_hits(), 0);
    assert!(
        counters.stage("frame_sum").unwrap().recomputes > 0,
        "diff reads frame_sum[-1]: recomputed"
    );
    assert!(
        counters.stage("acc").unwrap().replayed_windows > 0,
        "mix reads acc[-2]: replayed from checkpoints"
    );
    assert!(
        counters.live_bytes_high_water > p.ring().high_water(),
        "outputs in flight count as live bytes"
    );
}

#[stage(inputs = [input])]
fn widen(frame: &[f32]) -> Vec<f64> {
    frame.iter().map(|&x| f64::from(x)).collect()
}

#[stage(inputs = [widen])]
fn first_half(x: &Vec<f64>) -> Vec<f64> {
    x[..x.len() / 2].to_vec()
}

#[stage(inputs = [first_half])]
fn total(x: &Vec<f64>) -> f64 {
    x.iter().sum()
}

pipeline! {
    /// A linear chain: every output is read once, so none goes through the LRU.
    struct Chain {
        params: P,
        stages: [widen, first_half, total],
        output: total,
    }
}

#[test]
fn live_bytes_count_outputs_in_flight() {
    let signal: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let c = config(16, 4, 4, 1 << 20).with_mode(Mode::Sqrt);
    let windows = c.windows_in(signal.len() as u64);
    let mut p = Chain::new(c, PARAMS).unwrap();
    p.evaluate::<total>(&signal, 0..windows).unwrap();
    let counters = p.counters();
    assert_eq!(p.lru().bytes(), 0, "outputs read once bypass the LRU");
    // At most one window's `widen` output (16 f64) is alive at once: `first_half` (8 f64)
    // is computed after it is released, and `total` after that.
    let widen_bytes = vec![0.0f64; 16].byte_size();
    assert_eq!(counters.live_bytes_high_water, widen_bytes);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let p = Mixed::new(Config::default().with_hop(0), PARAMS);
    assert!(matches!(
        p,
        Err(Error::Config(sqrtspace::ConfigError::ZeroHop))
    ));
    // A checkpoint of Mixed is its two states, Ema (8 bytes) and f64 (8 bytes), each charged
    // at most twice its bytes plus the ring's own bytes per entry (104); the ring must hold
    // two, or be 0 (no checkpoints): 2 x (2 x 16 + 2 x 104) = 480.
    let e = Mixed::new(config(4, 2, 2, 0).with_checkpoint_bytes(479), PARAMS).err();
    assert!(
        matches!(
            e,
            Some(Error::Config(
                sqrtspace::ConfigError::CheckpointBudgetTooSmall {
                    budget: 479,
                    needed: 480
                }
            ))
        ),
        "{e:?}"
    );
    assert!(e.unwrap().to_string().contains("at least 480"));
    assert!(Mixed::new(config(4, 2, 2, 0).with_checkpoint_bytes(480), PARAMS).is_ok());
    assert!(Mixed::new(config(4, 2, 2, 0).with_checkpoint_bytes(0), PARAMS).is_ok());
    assert!(
        Pure::new(config(4, 2, 2, 0).with_checkpoint_bytes(0), PARAMS).is_ok(),
        "a pipeline without state needs no checkpoint budget"
    );
    let mut p = Mixed::new(config(4, 2, 2, 0), PARAMS).unwrap();
    let e = p.evaluate::<mix>(&[0.0; 10], 2..9).unwrap_err();
    assert!(
        matches!(e, Error::RangeOutOfBounds { available: 4, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("request at most ..4"), "{e}");
    assert!(matches!(
        p.evaluate::<mix>(&[0.0; 10], 3..3),
        Err(Error::EmptyRange { .. })
    ));
}

#[test]
fn an_output_that_another_output_reads_is_computed_once() {
    let signal: Vec<f32> = (0..500).map(|i| ((i * 11) % 23) as f32).collect();
    let c = config(8, 4, 4, 1 << 20);
    let windows = c.windows_in(signal.len() as u64);
    let mut p = Both::new(c, PARAMS).unwrap();
    p.push_samples(&signal).unwrap();
    let out = p.pull_until(u64::MAX).unwrap();
    assert_eq!(out.len() as u64, windows);
    assert_eq!(<Both as sqrtspace::exec::Graph>::OUTPUTS, [2, 5]);
    let counters = p.counters();
    let ema = counters.stage("ema").unwrap();
    assert_eq!(
        (ema.evaluations, ema.recomputes),
        (windows, 0),
        "ema is emitted and read by acc: cached in between, not recomputed"
    );
}

#[test]
fn push_mode_history_is_bounded_whatever_the_stream_length() {
    // LRU 0: every re-read recomputes, stateful stages replay from their checkpoints, so push
    // mode must keep the frames back to those checkpoints, and no more.
    let max_buffered = |samples: usize, ring: usize| {
        let c = config(16, 4, 5, 0)
            .with_input_buffer_blocks(8)
            .with_checkpoint_bytes(ring);
        let mut p = Mixed::new(c, PARAMS).unwrap();
        let mut most = 0;
        for start in (0..samples).step_by(50) {
            let chunk: Vec<f32> = (start..(start + 50).min(samples))
                .map(|i| ((i * 31) % 17) as f32 - 8.0)
                .collect();
            p.push_samples(&chunk).unwrap();
            p.pull_until(u64::MAX).unwrap();
            most = most.max(p.buffered_samples());
        }
        (most, p.counters())
    };
    let (short, _) = max_buffered(5_000, 1 << 20);
    let (long, counters) = max_buffered(40_000, 1 << 20);
    println!("max buffered: {short} samples over 5,000, {long} over 40,000");
    assert_eq!(short, long, "the history does not grow with the stream");
    assert!(
        counters.stage("acc").unwrap().restores > 0,
        "replays happened"
    );
    assert!(
        counters.checkpoint_evictions > 0,
        "stale checkpoints were dropped"
    );
    // Two checkpoints' worth of ring: the resume points are protected, new ones still fit.
    let (tight, counters) = max_buffered(40_000, 480);
    assert_eq!(tight, long);
    assert_eq!(counters.checkpoint_refusals, 0);
    // Without checkpoints a replay starts at window 0: the whole stream stays buffered.
    let (none, _) = max_buffered(10_000, 0);
    assert!(none >= 9_000, "{none}");
}
