//! Key windows (frames of varying length, `sqrtspace::framing`): for random non-decreasing
//! keys (gaps, equal keys, empty windows), `every`, `period`, checkpoint intervals and LRU
//! budgets, a pipeline with pure, stateful, lookback and input-lookback stages gives the
//! outputs of the same stages computed by hand over `KeyWindows::frames_of`, bit for bit, in
//! classic, sqrt and auto, over `over_keyed` (pull), `push_keyed` + `pull_until` and
//! `stream_keyed` (push, in random chunks through a small input buffer), with one worker and
//! with two forced. Edge cases (empty stream, one sample, one window, backwards keys, a
//! window larger than the input buffer, mixing the framings) have their own tests.
//!
//! `PROPTEST_CASES` raises the number of cases (default 48 here, to keep CI short).

use proptest::prelude::*;
use sqrtspace::{pipeline, stage, Checkpoints, Config, Error, KeyWindows, Mode};

#[stage(inputs = [input])]
fn total(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

#[stage(inputs = [input, input[-1]])]
fn shape(frame: &[f32], prev: Option<&[f32]>) -> Vec<f32> {
    let mut v: Vec<f32> = frame.iter().map(|x| x * x).collect();
    v.push(prev.map_or(-1.0, |p| p.len() as f32));
    v
}

#[stage(inputs = [total])]
fn ema(x: &f32, #[state] s: &mut f32) -> f32 {
    *s = 0.75 * *s + 0.25 * x;
    *s
}

#[stage(inputs = [total, total[-1]])]
fn diff(x: &f32, prev: Option<&f32>) -> f32 {
    x - prev.copied().unwrap_or(0.0)
}

#[stage(inputs = [ema, diff])]
fn acc(e: &f32, d: &f32, #[state] sum: &mut f64) -> f64 {
    *sum += f64::from(*e) - f64::from(*d);
    *sum
}

#[stage(inputs = [acc, acc[-2], shape])]
fn mix(a: &f64, a2: Option<&f64>, s: &Vec<f32>) -> Vec<f64> {
    s.iter()
        .map(|x| f64::from(*x) + a - a2.copied().unwrap_or(-1.0))
        .collect()
}

pipeline! {
    /// Pure, stateful, lookback and input-lookback stages over key windows.
    struct Keyed {
        stages: [total, shape, ema, diff, acc, mix],
        output: mix,
    }
}

/// The frames by definition, by a linear scan: origin = first key truncated to `every`,
/// window `t` = the samples with keys in `[origin + t*every, origin + t*every + period)`,
/// windows up to the one starting at or before the last key.
fn frames_by_scan(kw: KeyWindows, keys: &[i64]) -> Vec<std::ops::Range<usize>> {
    let (Some(&first), Some(&last)) = (keys.first(), keys.last()) else {
        return Vec::new();
    };
    let origin = first - first.rem_euclid(kw.every);
    let mut out = Vec::new();
    let mut t = 0;
    while origin + t * kw.every <= last {
        let (lo, hi) = (origin + t * kw.every, origin + t * kw.every + kw.period);
        let members: Vec<usize> = (0..keys.len())
            .filter(|&i| lo <= keys[i] && keys[i] < hi)
            .collect();
        out.push(match (members.first(), members.last()) {
            (Some(&a), Some(&b)) => a..b + 1,
            _ => {
                let at = keys.iter().filter(|&&k| k < lo).count();
                at..at
            }
        });
        t += 1;
    }
    out
}

/// The outputs of `mix` computed by hand over the frames by definition.
fn by_hand(kw: KeyWindows, keys: &[i64], signal: &[f32]) -> Vec<Vec<f64>> {
    let frames = frames_by_scan(kw, keys);
    assert_eq!(kw.frames_of(keys).unwrap(), frames);
    let (mut e, mut a) = (0f32, 0f64);
    let mut totals = Vec::new();
    let mut accs: Vec<f64> = Vec::new();
    let mut out = Vec::new();
    for (t, r) in frames.iter().enumerate() {
        let frame = &signal[r.clone()];
        let tot: f32 = frame.iter().sum();
        let mut sh: Vec<f32> = frame.iter().map(|x| x * x).collect();
        sh.push(if t == 0 {
            -1.0
        } else {
            frames[t - 1].len() as f32
        });
        e = 0.75 * e + 0.25 * tot;
        let d = tot - if t == 0 { 0.0 } else { totals[t - 1] };
        a += f64::from(e) - f64::from(d);
        totals.push(tot);
        accs.push(a);
        let a2 = if t >= 2 { accs[t - 2] } else { -1.0 };
        out.push(sh.iter().map(|x| f64::from(*x) + a - a2).collect());
    }
    out
}

fn bits(v: &[Vec<f64>]) -> Vec<Vec<u64>> {
    v.iter()
        .map(|o| o.iter().map(|x| x.to_bits()).collect())
        .collect()
}

/// Keys from random steps: mostly small, some equal (0), some gaps of several windows.
fn case() -> impl Strategy<Value = (Vec<i64>, Vec<f32>, i64, i64)> {
    (
        1i64..20,
        0i64..40,
        -1000i64..1000,
        prop::collection::vec(
            prop_oneof![6 => 0i64..4, 2 => Just(0i64), 1 => 20i64..200],
            0..200,
        ),
    )
        .prop_flat_map(|(every, extra, start, steps)| {
            let mut k = start;
            let keys: Vec<i64> = steps
                .iter()
                .map(|s| {
                    k += s;
                    k
                })
                .collect();
            let n = keys.len();
            (
                Just(keys),
                prop::collection::vec(-8f32..8f32, n),
                Just(every),
                Just(every + extra),
            )
        })
}

fn config(kw: KeyWindows, k: u64, lru: usize, blocks: usize) -> Config {
    Config::default()
        .with_window(1)
        .with_key_windows(kw.every, kw.period)
        .with_checkpoints(Checkpoints::Every(k))
        .with_lru_bytes(lru)
        .with_input_buffer_blocks(blocks)
}

/// The largest frame: the input buffer must hold one more sample than it.
fn largest(kw: KeyWindows, keys: &[i64]) -> usize {
    kw.frames_of(keys)
        .unwrap()
        .iter()
        .map(|r| r.len())
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48), ..ProptestConfig::default() })]

    #[test]
    fn every_mode_pull_push_and_stream_equal_the_frames_by_hand(
        (keys, signal, every, period) in case(),
        k in 1u64..6,
        lru in prop_oneof![Just(0usize), 0usize..4000, Just(1usize << 20)],
        extra in 1usize..40,
        cuts in prop::collection::vec(1usize..30, 1..20),
        workers in 1usize..3,
    ) {
        let kw = KeyWindows { every, period };
        let expected = by_hand(kw, &keys, &signal);
        let windows = expected.len() as u64;
        let blocks = largest(kw, &keys) + extra;
        let c = config(kw, k, lru, blocks);

        if windows > 0 {
            for mode in [Mode::Classic, Mode::Sqrt, Mode::Auto] {
                let mut p = Keyed::new(c.clone().with_mode(mode), ()).unwrap();
                if workers > 1 {
                    p.force_workers(Some((workers, 3)));
                }
                let got = p.over_keyed(&signal, &keys).unwrap().evaluate::<mix>(0..windows).unwrap();
                prop_assert_eq!(bits(&got), bits(&expected), "{} mode", mode);
                // A sub-range from the session's caches and checkpoints.
                let mut s = p.over_keyed(&signal, &keys).unwrap();
                let t0 = windows / 2;
                let part = s.evaluate::<mix>(t0..windows).unwrap();
                prop_assert_eq!(bits(&part), bits(&expected[t0 as usize..]));
            }
        }

        // Push: random chunks, pulling when refused; the open windows complete at close.
        let mut p = Keyed::new(c.clone(), ()).unwrap();
        if workers > 1 {
            p.force_workers(Some((workers, 3)));
        }
        let mut got = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < keys.len() {
            let n = cuts[i % cuts.len()].min(keys.len() - at);
            let (kc, sc) = (&keys[at..at + n], &signal[at..at + n]);
            match p.push_keyed(kc, sc) {
                Ok(()) => at += n,
                Err(Error::Backpressure { .. }) => {
                    let before = got.len();
                    got.extend(p.pull_until(u64::MAX).unwrap());
                    if got.len() == before {
                        // Nothing to pull: push a smaller piece.
                        p.push_keyed(&kc[..1], &sc[..1]).unwrap();
                        at += 1;
                    }
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
            i += 1;
            if i % 3 == 0 {
                got.extend(p.pull_until(u64::MAX).unwrap());
            }
        }
        let end = p.close();
        got.extend(p.pull_until(u64::MAX).unwrap());
        prop_assert_eq!(end.windows, windows);
        prop_assert_eq!(end.tail_samples, 0);
        prop_assert_eq!(bits(&got), bits(&expected), "push_keyed");

        // Stream in random chunks through the same buffer.
        let mut p = Keyed::new(c, ()).unwrap();
        if workers > 1 {
            p.force_workers(Some((workers, 3)));
        }
        let mut chunks = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < keys.len() {
            let n = cuts[i % cuts.len()].min(keys.len() - at);
            chunks.push((keys[at..at + n].to_vec(), signal[at..at + n].to_vec()));
            at += n;
            i += 1;
        }
        let mut streamed = Vec::new();
        let end = p
            .stream_keyed(chunks.into_iter().map(Ok::<_, Error>), |t, o| {
                assert_eq!(t as usize, streamed.len());
                streamed.push(o);
            })
            .unwrap();
        prop_assert_eq!(end.windows, windows);
        prop_assert_eq!(end.samples, keys.len() as u64);
        prop_assert_eq!(bits(&streamed), bits(&expected), "stream_keyed");
    }
}

fn small() -> Config {
    config(
        KeyWindows {
            every: 10,
            period: 30,
        },
        4,
        1 << 20,
        64,
    )
}

#[test]
fn an_empty_stream_has_no_windows() {
    let mut p = Keyed::new(small(), ()).unwrap();
    let e = p.over_keyed(&[], &[]).unwrap().evaluate::<mix>(0..1);
    assert!(
        matches!(e, Err(Error::RangeOutOfBounds { available: 0, .. })),
        "{e:?}"
    );
    let end = p
        .stream_keyed(
            std::iter::empty::<Result<(Vec<i64>, Vec<f32>), Error>>(),
            |_, _| -> () { panic!("no window") },
        )
        .unwrap();
    assert_eq!((end.samples, end.windows, end.tail_samples), (0, 0, 0));
}

#[test]
fn one_sample_is_one_window() {
    let mut p = Keyed::new(small(), ()).unwrap();
    let mut got = Vec::new();
    let end = p
        .stream_keyed([Ok::<_, Error>((vec![1234i64], vec![2.0f32]))], |t, o| {
            got.push((t, o))
        })
        .unwrap();
    assert_eq!(end.windows, 1);
    // total 2, shape [4, -1], ema 0.5, diff 2, acc -1.5, a2 missing (-1): mix = x - 0.5.
    assert_eq!(got, vec![(0, vec![3.5, -1.5])]);
}

#[test]
fn all_samples_in_one_window_and_empty_windows_between() {
    // every 10, period 30, origin 0: keys 0..9 all fall in window 0 ([0, 30)), the only
    // window as the stream ends at 9. With a last key 95, windows 1..=6 ([10, 40) to
    // [60, 90)) hold no sample and windows 7..=9 hold the last one.
    let kw = KeyWindows {
        every: 10,
        period: 30,
    };
    let keys: Vec<i64> = (0..10).collect();
    assert_eq!(kw.frames_of(&keys).unwrap(), vec![0..10]);
    let mut with_gap = keys.clone();
    with_gap.push(95);
    let frames = kw.frames_of(&with_gap).unwrap();
    assert_eq!(frames.len(), 10);
    assert_eq!(frames[0], 0..10);
    assert!(frames[1..7].iter().all(|r| r.is_empty()));
    assert_eq!(&frames[7..], &[10..11, 10..11, 10..11]);
    // Empty windows are evaluated: a stage sees an empty frame.
    let signal = vec![1.0f32; with_gap.len()];
    let mut p = Keyed::new(small(), ()).unwrap();
    let got = p
        .over_keyed(&signal, &with_gap)
        .unwrap()
        .evaluate::<total>(0..10)
        .unwrap();
    assert_eq!(got, vec![10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
}

#[test]
fn keys_going_backwards_are_a_typed_error_naming_the_sample() {
    let mut p = Keyed::new(small(), ()).unwrap();
    let e = p.over_keyed(&[1.0, 2.0, 3.0], &[5, 7, 6]).err().unwrap();
    assert!(
        matches!(
            e,
            Error::KeysBackwards {
                index: 2,
                key: 6,
                previous: 7
            }
        ),
        "{e}"
    );
    p.push_keyed(&[5, 7], &[1.0, 2.0]).unwrap();
    let e = p.push_keyed(&[8, 6], &[1.0, 2.0]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::KeysBackwards {
                index: 3,
                key: 6,
                previous: 8
            }
        ),
        "{e}"
    );
    assert_eq!(p.close().samples, 2, "the refused chunk was not enqueued");
    let mut p = Keyed::new(small(), ()).unwrap();
    let mut seen = Vec::new();
    let e = p
        .stream_keyed(
            [
                Ok::<_, Error>((vec![0i64, 15, 31], vec![1.0f32; 3])),
                Ok((vec![40, 39], vec![1.0; 2])),
            ],
            |t, _| seen.push(t),
        )
        .unwrap_err();
    assert!(matches!(e, Error::KeysBackwards { index: 4, .. }), "{e}");
    assert!(e.to_string().contains("sort the input"), "{e}");
    assert_eq!(
        seen,
        vec![0],
        "window 0 ([0, 30)) completed before the bad key"
    );
}

#[test]
fn a_window_larger_than_the_input_buffer_is_a_typed_error() {
    // 8 samples of capacity; 20 samples in window 0.
    let c = small().with_input_buffer_blocks(8);
    let mut p = Keyed::new(c, ()).unwrap();
    let keys: Vec<i64> = vec![3; 20];
    let e = p
        .stream_keyed([Ok::<_, Error>((keys, vec![1.0f32; 20]))], |_, _| {})
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::FrameTooLarge {
                window: 0,
                held: 8,
                capacity: 8
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("input_buffer_blocks"), "{e}");
}

#[test]
fn the_framings_do_not_mix() {
    let mut p = Keyed::new(small(), ()).unwrap();
    assert!(matches!(p.push_samples(&[1.0]), Err(Error::KeysRequired)));
    assert!(matches!(
        p.evaluate::<mix>(&[1.0], 0..1),
        Err(Error::KeysRequired)
    ));
    assert!(matches!(
        p.push_keyed(&[1, 2], &[1.0]),
        Err(Error::KeysLength {
            keys: 2,
            samples: 1
        })
    ));
    let mut q = Keyed::new(Config::default().with_window(2).with_hop(1), ()).unwrap();
    assert!(matches!(
        q.push_keyed(&[1], &[1.0]),
        Err(Error::KeysUnexpected)
    ));
    assert!(matches!(
        q.over_keyed(&[1.0], &[1]).err(),
        Some(Error::KeysUnexpected)
    ));
}

#[test]
fn push_memory_stays_within_the_live_windows() {
    // 200k samples, 10 per key unit, windows of 100 units every 50: a window holds 1000
    // samples; the buffer holds at most its capacity of unprocessed samples plus the history
    // back to the stateful stages' checkpoint (k = 8 windows of 500 new samples each),
    // whatever the stream's length.
    let c = config(
        KeyWindows {
            every: 50,
            period: 100,
        },
        8,
        1 << 16,
        4096,
    );
    let mut p = Keyed::new(c, ()).unwrap();
    let mut most = 0;
    let mut windows = 0u64;
    for chunk in 0..200i64 {
        let keys: Vec<i64> = (0..1000).map(|i| (chunk * 1000 + i) / 10).collect();
        let vals = vec![0.5f32; 1000];
        p.push_keyed(&keys, &vals).unwrap();
        windows += p.pull_until(u64::MAX).unwrap().len() as u64;
        most = most.max(p.buffered_samples());
    }
    assert_eq!(p.close().samples, 200_000);
    windows += p.pull_until(u64::MAX).unwrap().len() as u64;
    assert_eq!(windows, 20_000 / 50);
    assert!(most <= 4096 + 8 * 500, "buffered {most} samples");
}

#[test]
fn the_plan_names_the_key_windows() {
    let keys: Vec<i64> = (0..100).collect();
    let signal = vec![1.0f32; 100];
    let mut p = Keyed::new(small(), ()).unwrap();
    let plan = p
        .over_keyed(&signal, &keys)
        .unwrap()
        .plan::<mix>(0..10)
        .unwrap();
    let text = plan.to_string();
    assert!(
        text.contains("frames:      by key, [origin + t*10, origin + t*10 + 30)"),
        "{text}"
    );
    assert!(!text.contains("window/hop"), "{text}");
}
