//! Bounds the README states, asserted on the engine's counters; sinks that stop a run; a
//! stateful stage whose initial state comes from the params (`init = f(params)`).

use sqrtspace::graph::Graph;
use sqrtspace::plan::Machine;
use sqrtspace::{pipeline, stage, ByteSize, Checkpoints, Config, Error, Mode, Planner};
use std::ops::ControlFlow;

/// Exponential moving average of the frame mean (stateful).
#[stage(inputs = [input])]
fn ema(frame: &[f32], #[state] avg: &mut f64) -> f64 {
    let mean = frame.iter().map(|&x| f64::from(x)).sum::<f64>() / frame.len() as f64;
    *avg += 0.01 * (mean - *avg);
    *avg
}

/// Running sum of `ema` (stateful).
#[stage(inputs = [ema])]
fn drift(e: &f64, #[state] acc: &mut f64) -> f64 {
    *acc += *e;
    *acc
}

/// Change of `drift` since the previous window.
#[stage(inputs = [drift, drift[-1]])]
fn step(now: &f64, before: Option<&f64>) -> f64 {
    before.map_or(0.0, |b| now - b)
}

pipeline! {
    /// ema -> drift -> step (a lookback onto a stateful stage).
    pub struct Walk { stages: [ema, drift, step], output: step }
}

fn signal(n: usize) -> Vec<f32> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn lcg(seed: &mut u64, below: u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (*seed >> 33) % below
}

#[test]
fn one_random_lookup_with_lru_0_replays_fewer_than_k_windows_per_stateful_stage() {
    const K: u64 = 1000;
    let windows = 20_000u64;
    let sig = signal(windows as usize * 4);
    let config = Config::default()
        .with_window(4)
        .with_hop(4)
        .with_lru_bytes(0)
        .with_checkpoints(Checkpoints::Every(K))
        .with_checkpoint_bytes(16 << 20);
    let full = Walk::new(config.clone().with_mode(Mode::Classic), ())
        .unwrap()
        .evaluate::<step>(&sig, 0..windows)
        .unwrap();
    let mut pipe = Walk::new(config.with_mode(Mode::Sqrt), ()).unwrap();
    let mut s = pipe.over(&sig);
    s.evaluate::<step>(0..windows).unwrap();
    let mut seed = 7;
    let mut worst_total = 0;
    for _ in 0..200 {
        let t = lcg(&mut seed, windows);
        let before = s.counters();
        let got = s.evaluate::<step>(t..t + 1).unwrap();
        assert_eq!(got[0].to_bits(), full[t as usize].to_bits(), "window {t}");
        let after = s.counters();
        let mut total = 0;
        for (b, a) in before.stages.iter().zip(&after.stages) {
            let replayed = a.replayed_windows - b.replayed_windows;
            let runs = a.evaluations - b.evaluations;
            assert!(
                replayed < K,
                "stage {} replayed {replayed} windows for the lookup at {t}, k = {K}",
                a.name
            );
            // The README's bound: each stage on the lookup's path runs at most k + 1 times
            // (its replay, then the window itself), so nothing is replayed from window 0.
            assert!(
                runs <= K + 1,
                "stage {} ran {runs} times for the lookup at {t}, k = {K}",
                a.name
            );
            total += runs;
        }
        worst_total = worst_total.max(total);
    }
    // Two stateful stages, each replaying up to k - 1 windows: about 2k evaluations in all
    // (the "1,997 windows" at k = 1000), not "fewer than k" in total.
    assert!(
        worst_total > K,
        "the lookups hit a window far from the checkpoints"
    );
    assert!(worst_total <= 3 * (K + 1));
    eprintln!("worst lookup: {worst_total} stage evaluations (k = {K}, 3 stages)");
}

/// Running sum of the frame's first sample (stateful, no lookback anywhere).
#[stage(inputs = [input])]
fn acc(frame: &[f32], #[state] s: &mut f64) -> f64 {
    *s += f64::from(frame[0]);
    *s
}

pipeline! {
    /// One stateful stage, no lookback.
    pub struct Acc { stages: [acc], output: acc }
}

#[test]
fn push_mode_without_checkpoints_warns_that_it_keeps_the_whole_stream() {
    let sig = signal(40_000);
    let buffered = |ring: usize| {
        let c = Config::default()
            .with_window(4)
            .with_hop(4)
            .with_lru_bytes(1 << 20)
            .with_checkpoint_bytes(ring);
        let mut p = Acc::new(c, ()).unwrap();
        let mut most = 0;
        for ch in sig.chunks(100) {
            p.push_samples(ch).unwrap();
            p.pull_until(u64::MAX).unwrap();
            most = most.max(p.buffered_samples());
        }
        (most, p.push_warnings())
    };
    let (kept, warnings) = buffered(0);
    assert_eq!(
        kept,
        sig.len(),
        "without checkpoints push mode keeps every sample"
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("keeps every sample") && warnings[0].contains("acc"),
        "{}",
        warnings[0]
    );
    // The plan of a pull evaluation says so too.
    let c = Config::default()
        .with_window(4)
        .with_hop(4)
        .with_checkpoint_bytes(0);
    let mut p = sqrtspace::Pipeline::<Acc>::with_planner(
        c,
        (),
        Planner {
            machine: Machine {
                ram_available: 1 << 30,
                llc_bytes: 32 << 20,
                llc_source: "test",
            },
        },
    )
    .unwrap();
    let plan = p.plan::<acc>(&sig, 0..100).unwrap();
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("keeps every sample")),
        "{plan}"
    );
    // With checkpoints the buffer stays bounded, and nothing is said.
    let (kept, warnings) = buffered(1 << 20);
    assert!(kept < 1000, "{kept} samples buffered");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(sqrtspace::plan::push_warnings::<Walk>(&Config::default()).is_empty());
}

#[test]
fn a_sink_that_breaks_stops_the_run_at_that_window_in_every_mode() {
    let sig = signal(400);
    for mode in [Mode::Classic, Mode::Sqrt, Mode::Auto] {
        let c = Config::default()
            .with_window(4)
            .with_hop(4)
            .with_mode(mode)
            .with_lru_bytes(0);
        let expected = Walk::new(c.clone(), ())
            .unwrap()
            .evaluate::<step>(&sig, 0..100)
            .unwrap();
        let mut p = Walk::new(c, ()).unwrap();
        let mut got = Vec::new();
        p.evaluate_with::<step>(&sig, 0..100, |t, o| {
            got.push((t, o));
            if t == 5 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(
            got.len(),
            6,
            "{mode}: windows 0..=5 delivered, nothing after"
        );
        for (t, o) in &got {
            assert_eq!(o.to_bits(), expected[*t as usize].to_bits());
        }
        // A failing writer: Error::Sink at its window, the earlier outputs delivered.
        let mut out = Vec::new();
        let e = p
            .evaluate_with::<step>(&sig, 10..100, |t, o| {
                if t == 13 {
                    return Err(std::io::Error::other("disk full"));
                }
                out.push(o);
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(e, Error::Sink { window: 13, .. }), "{mode}: {e}");
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(out.len(), 3);
        // The pipeline goes on.
        assert_eq!(p.evaluate::<step>(&sig, 0..100).unwrap(), expected);
    }
}

#[test]
fn a_sink_that_fails_stops_a_stream_without_reading_further() {
    let sig = signal(4000);
    let c = Config::default().with_window(4).with_hop(4);
    let expected = Walk::new(c.clone(), ())
        .unwrap()
        .evaluate::<step>(&sig, 0..1000)
        .unwrap();
    // Err: Error::Sink at window 300, windows 0..300 delivered, later chunks never read.
    let mut p = Walk::new(c.clone(), ()).unwrap();
    let mut read = 0;
    let chunks = sig.chunks(40).inspect(|_| read += 1).map(Ok::<_, Error>);
    let mut got = Vec::new();
    let e = p
        .stream(chunks, |t, o| {
            if t == 300 {
                return Err(std::io::Error::other("broken pipe"));
            }
            got.push(o);
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(e, Error::Sink { window: 300, .. }), "{e}");
    assert_eq!(got, expected[..300]);
    assert_eq!(
        p.next_window(),
        301,
        "the failed window's output was handed over"
    );
    assert!(
        read < 4000 / 40,
        "read {read} chunks: the stream went on after the failure"
    );
    // Break: the stream ends there, StreamEnd says where.
    let mut p = Walk::new(c.clone(), ()).unwrap();
    let mut got = Vec::new();
    let end = p
        .stream(sig.chunks(40).map(Ok::<_, Error>), |t, o| {
            got.push(o);
            if t == 500 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(end.stopped_at, Some(500));
    assert_eq!(got, expected[..=500]);
    // stream_reader and the unit sink.
    let bytes: Vec<u8> = sig.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut p = Walk::new(c.clone(), ()).unwrap();
    let e = p
        .stream_reader(&bytes[..], |t, _| {
            if t == 7 {
                Err(std::io::Error::other("full"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(e, Error::Sink { window: 7, .. }), "{e}");
    let mut p = Walk::new(c, ()).unwrap();
    let mut n = 0;
    let end = p.stream_reader(&bytes[..], |_, _| n += 1).unwrap();
    assert_eq!((n, end.stopped_at, end.windows), (1000, None, 1000));
}

/// Smoothing parameters: the initial level comes from them.
pub struct Smoothing {
    /// Weight of the new value.
    pub alpha: f64,
    /// Level before window 0.
    pub start: f64,
    /// Values the state keeps (its size depends on the params).
    pub history: usize,
}

/// A smoother's state, built from the params.
#[derive(Clone, ByteSize)]
pub struct Smoother {
    level: f64,
    last: Vec<f64>,
}

impl Smoother {
    fn from_params(p: &Smoothing) -> Self {
        Smoother {
            level: p.start,
            last: vec![p.start; p.history],
        }
    }
}

/// The smoothed frame mean, plus the oldest of the last values it keeps.
#[stage(inputs = [input], init = Smoother::from_params(params))]
fn smooth(frame: &[f32], #[state] s: &mut Smoother, #[params] p: &Smoothing) -> f64 {
    let mean = frame.iter().map(|&x| f64::from(x)).sum::<f64>() / frame.len() as f64;
    s.level += p.alpha * (mean - s.level);
    s.last.rotate_left(1);
    if let Some(l) = s.last.last_mut() {
        *l = s.level;
    }
    s.level + s.last[0]
}

/// Change of `smooth` since the previous window.
#[stage(inputs = [smooth, smooth[-1]])]
fn slope(now: &f64, before: Option<&f64>) -> f64 {
    before.map_or(*now, |b| now - b)
}

pipeline! {
    /// A smoother whose initial state depends on the params.
    pub struct Smooth { params: Smoothing, stages: [smooth, slope], output: slope }
}

fn smoothing() -> Smoothing {
    Smoothing {
        alpha: 0.05,
        start: 3.5,
        history: 16,
    }
}

#[test]
fn init_from_params_is_identical_across_modes_and_replays_start_from_it() {
    let sig = signal(4 * 3000);
    let windows = 3000;
    let base = Config::default().with_window(4).with_hop(4);
    let classic = Smooth::new(base.clone().with_mode(Mode::Classic), smoothing())
        .unwrap()
        .evaluate::<slope>(&sig, 0..windows)
        .unwrap();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    // The params' start shows: window 0 is start + alpha * (mean - start) + start.
    let mean0 = sig[..4].iter().map(|&x| f64::from(x)).sum::<f64>() / 4.0;
    assert_eq!(classic[0], 3.5 + 0.05 * (mean0 - 3.5) + 3.5);
    // sqrt with small k and no LRU, sqrt without checkpoints (every replay from window 0,
    // i.e. from the params' initial state), and push mode.
    for c in [
        base.clone()
            .with_mode(Mode::Sqrt)
            .with_lru_bytes(0)
            .with_checkpoints(Checkpoints::Every(7)),
        base.clone()
            .with_mode(Mode::Sqrt)
            .with_lru_bytes(0)
            .with_checkpoint_bytes(0),
    ] {
        let mut pipe = Smooth::new(c, smoothing()).unwrap();
        let mut s = pipe.over(&sig);
        assert_eq!(
            bits(&s.evaluate::<slope>(0..windows).unwrap()),
            bits(&classic)
        );
        for t in [2999, 0, 1, 1500, 7, 6, 14, 2000] {
            assert_eq!(
                s.evaluate::<slope>(t..t + 1).unwrap()[0].to_bits(),
                classic[t as usize].to_bits(),
                "window {t}"
            );
        }
    }
    let mut p = Smooth::new(base.clone(), smoothing()).unwrap();
    let mut pushed = Vec::new();
    p.stream(sig.chunks(37).map(Ok::<_, Error>), |_, o| pushed.push(o))
        .unwrap();
    assert_eq!(bits(&pushed), bits(&classic));
    // Checkpoint planning uses the params the pipeline was built with.
    let big = Smoothing {
        history: 1000,
        ..smoothing()
    };
    assert!(Smooth::state_bytes(&big) >= 8000 + Smooth::state_bytes(&smoothing()) - 16 * 8);
    let Err(e) = Smooth::new(base.with_checkpoint_bytes(4096), big) else {
        panic!("a 4 KiB ring cannot hold two 8 KB states")
    };
    assert!(e.to_string().contains("cannot hold two checkpoints"), "{e}");
}
