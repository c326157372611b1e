//! Random pipelines: a library of pure, stateful and lookback stages wired into several
//! shapes (chains, diamonds, stateful stages reading lookbacks of stateful stages, lookback-only
//! inputs, raw-frame lookback, several outputs). For a random shape, signal, window, hop, k,
//! LRU budget (down to zero), checkpoint ring and range, sqrt equals classic bit for bit on
//! the stages tested, random access after a pass matches the full classic pass, the LRU and
//! the checkpoint ring stay within their budgets, and chunked push equals evaluate.
//!
//! Pipelines are types (the DAG is checked at compile time), so "random" picks one of the
//! shapes below; the stages' behaviour also varies with random runtime parameters.
//! `PROPTEST_CASES` raises the number of cases (default 64). The long mode, kept out of CI's
//! default run: `SQRTSPACE_PROPTEST_CASES=10000 cargo test --release --test random_pipelines`
//! checks 10^4 random pipelines per property (shapes x modes x LRU budgets x checkpoint rings
//! x chunkings).

use proptest::prelude::*;
use sqrtspace::exec::{Compute, Graph, Has};
use sqrtspace::{pipeline, stage, Checkpoints, Config, Mode, Pipeline};
use std::collections::VecDeque;
use std::ops::Range;

/// Cases per property: `SQRTSPACE_PROPTEST_CASES` (the long mode), else `PROPTEST_CASES`,
/// else 64.
fn cases() -> u32 {
    ["SQRTSPACE_PROPTEST_CASES", "PROPTEST_CASES"]
        .iter()
        .find_map(|v| std::env::var(v).ok().and_then(|v| v.parse().ok()))
        .unwrap_or(64)
}

/// Runtime parameters: random per case.
#[derive(Debug, Clone, Copy)]
pub struct Q {
    mul: i64,
    add: i64,
}

#[stage(inputs = [input], cost = 3)]
fn level(frame: &[i32], #[params] q: &Q) -> i64 {
    frame
        .iter()
        .enumerate()
        .map(|(i, &x)| i64::from(x) * (i as i64 + q.mul))
        .sum()
}

#[stage(inputs = [input, input[-2]], cost = 2)]
fn raw_lag(frame: &[i32], old: Option<&[i32]>) -> i64 {
    i64::from(frame[0]) * 7 - old.map_or(-1, |o| i64::from(o[o.len() - 1]))
}

#[stage(inputs = [level])]
fn running(x: &i64, #[state] s: &mut i64) -> i64 {
    *s = s.wrapping_mul(3).wrapping_add(*x) % 1_000_003;
    *s
}

#[stage(inputs = [level, level[-1]])]
fn delta(x: &i64, prev: Option<&i64>) -> i64 {
    x - prev.copied().unwrap_or(0)
}

/// A stateful stage reading a lookback of a stateful stage; its state is a growing buffer
/// (up to 3 values), so checkpoints of different sizes share the ring.
#[stage(inputs = [running, running[-3]], cost = 4)]
fn recent_max(x: &i64, old: Option<&i64>, #[state] recent: &mut VecDeque<i64>) -> i64 {
    if recent.len() == 3 {
        recent.pop_front();
    }
    recent.push_back(x - old.copied().unwrap_or(0));
    recent.iter().copied().max().unwrap_or(0)
}

#[stage(inputs = [delta, raw_lag[-1]])]
fn combine(d: &i64, r: Option<&i64>, #[params] q: &Q) -> i64 {
    d.wrapping_mul(q.add) + r.copied().unwrap_or(q.mul)
}

fn seed() -> (i64, u32) {
    (17, 0)
}

/// State with a named initial value, reading its upstream 4 windows back.
#[stage(inputs = [combine, combine[-4]], init = seed)]
fn tracker(c: &i64, c4: Option<&i64>, #[state] s: &mut (i64, u32)) -> i64 {
    s.1 += 1;
    s.0 = (s.0 + c - c4.copied().unwrap_or(0)) % 65_537 + i64::from(s.1 % 5);
    s.0
}

/// Reads only the past: `delta` two windows back.
#[stage(inputs = [delta[-2]])]
fn late(d: Option<&i64>) -> i64 {
    d.map_or(-5, |d| d * 2)
}

#[stage(inputs = [late, running, recent_max], cost = 2)]
fn fan_in(l: &i64, r: &i64, m: &i64) -> i64 {
    l.wrapping_add(*r).wrapping_sub(*m)
}

#[stage(inputs = [tracker, fan_in, tracker[-1]])]
fn total(t: &i64, f: &i64, t1: Option<&i64>, #[state] acc: &mut i64) -> i64 {
    *acc = acc
        .wrapping_add(t ^ f)
        .wrapping_add(t1.copied().unwrap_or(3))
        % 1_000_000_007;
    *acc
}

pipeline! {
    /// A chain: pure -> stateful -> stateful reading a lookback of a stateful stage.
    struct Chain {
        sample: i32,
        params: Q,
        stages: [level, running, recent_max],
        output: recent_max,
    }
}

pipeline! {
    /// Raw-frame lookback and lookback chains into a stateful stage with an `init` function.
    struct Lookbacks {
        sample: i32,
        params: Q,
        stages: [level, raw_lag, delta, combine, tracker],
        output: tracker,
    }
}

pipeline! {
    /// A diamond: `level` feeds a stateful branch and a lookback-only branch that meet.
    struct Diamond {
        sample: i32,
        params: Q,
        stages: [level, running, recent_max, delta, late, fan_in],
        output: fan_in,
    }
}

pipeline! {
    /// Every stage, with a stateful output reading a lookback of another stateful stage.
    struct Everything {
        sample: i32,
        params: Q,
        stages: [level, raw_lag, running, delta, recent_max, combine, tracker, late, fan_in, total],
        output: total,
    }
}

pipeline! {
    /// Two outputs, one upstream of the other.
    struct Outputs {
        sample: i32,
        params: Q,
        stages: [level, raw_lag, delta, combine, tracker],
        output: [combine, tracker],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ring {
    Large,
    None,
    /// Room for this many checkpoints of every stateful stage's initial state.
    Checkpoints(usize),
}

#[derive(Debug, Clone)]
struct Case {
    signal: Vec<i32>,
    w: usize,
    h: usize,
    k: u64,
    lru: usize,
    ring: Ring,
    q: Q,
    range: Range<u64>,
    lookups: Vec<u64>,
    cuts: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..10,
        1usize..10,
        1u64..10,
        prop_oneof![Just(0usize), 1usize..3000, Just(1usize << 20)],
        // The checkpoint ring: large, none, or 2 to 5 checkpoints of the initial state (the
        // states that grow then get some checkpoints refused).
        prop_oneof![2 => Just(Ring::Large), 1 => Just(Ring::None), 2 => (2usize..6).prop_map(Ring::Checkpoints)],
        (-3i64..4, -2i64..3),
    )
        .prop_flat_map(|(w, h, k, lru, ring, (mul, add))| {
            let h = h.min(w);
            (
                prop::collection::vec(-50i32..50, w..w + 200),
                Just((w, h, k, lru, ring, Q { mul, add })),
            )
        })
        .prop_flat_map(|(signal, (w, h, k, lru, ring, q))| {
            let windows = ((signal.len() - w) / h + 1) as u64;
            (
                Just(signal),
                Just((w, h, k, lru, ring, q)),
                (0..windows).prop_flat_map(move |t0| (Just(t0), t0 + 1..=windows)),
                prop::collection::vec(0..windows, 1..8),
                prop::collection::vec(1usize..30, 0..20),
            )
        })
        .prop_map(
            |(signal, (w, h, k, lru, ring, q), (t0, t1), lookups, cuts)| Case {
                signal,
                w,
                h,
                k,
                lru,
                ring,
                q,
                range: t0..t1,
                lookups,
                cuts,
            },
        )
}

fn config<G: Graph<Params = Q>>(c: &Case, mode: Mode) -> Config {
    let ring = match c.ring {
        Ring::Large => 1 << 20,
        Ring::None => 0,
        // Each checkpoint is charged at most twice the state's bytes plus the ring's own bytes
        // per entry (see `sqrtspace::cache::ring_entry_overhead`).
        Ring::Checkpoints(n) => {
            let stateful = G::STAGES.iter().filter(|s| s.stateful).count();
            n * (2 * G::state_bytes(&c.q) + stateful * sqrtspace::cache::ring_entry_overhead(0))
        }
    };
    Config::default()
        .with_window(c.w)
        .with_hop(c.h)
        .with_checkpoints(Checkpoints::Every(c.k))
        .with_lru_bytes(c.lru)
        .with_checkpoint_bytes(ring)
        .with_input_buffer_blocks(4)
        .with_mode(mode)
}

/// sqrt equals classic on stage `S` of `G` over the case's range, and random access after a
/// full pass matches the full classic pass (the replay bound is proved in `tests/engine.rs`).
fn equivalent<G, S>(c: &Case) -> Result<(), TestCaseError>
where
    G: Graph<Params = Q, Sample = i32> + Has<S>,
    S: Compute<G, Output = i64>,
{
    let windows = config::<G>(c, Mode::Classic).windows_in(c.signal.len() as u64);
    let mut classic = Pipeline::<G>::new(config::<G>(c, Mode::Classic), c.q).unwrap();
    let full = classic.evaluate::<S>(&c.signal, 0..windows).unwrap();
    let part = classic.evaluate::<S>(&c.signal, c.range.clone()).unwrap();
    let (t0, t1) = (c.range.start as usize, c.range.end as usize);
    prop_assert_eq!(&part[..], &full[t0..t1], "classic over a range");

    let mut sqrt_pipeline = Pipeline::<G>::new(config::<G>(c, Mode::Sqrt), c.q).unwrap();
    let mut sqrt = sqrt_pipeline.over(&c.signal);
    let got = sqrt.evaluate::<S>(c.range.clone()).unwrap();
    prop_assert_eq!(&got[..], &full[t0..t1], "sqrt over {:?}", c.range);
    prop_assert!(sqrt.lru().high_water() <= c.lru);

    sqrt.evaluate::<S>(0..windows).unwrap();
    for &t in &c.lookups {
        let got = sqrt.evaluate::<S>(t..t + 1).unwrap();
        prop_assert_eq!(got[0], full[t as usize], "lookup of window {}", t);
    }
    prop_assert!(sqrt.ring().bytes() <= sqrt.config().checkpoint_bytes);

    let mut auto = Pipeline::<G>::new(config::<G>(c, Mode::Auto), c.q).unwrap();
    prop_assert_eq!(
        &auto.evaluate::<S>(&c.signal, c.range.clone()).unwrap()[..],
        &full[t0..t1],
        "auto"
    );
    Ok(())
}

/// Pushing the signal in the case's chunks (up to `W + 1` samples; backpressure from a
/// 4-window buffer) gives
/// the same outputs as evaluating the output stage.
fn pushed<G>(c: &Case, expected: &[G::Output]) -> Result<(), TestCaseError>
where
    G: Graph<Params = Q, Sample = i32>,
    G::Output: PartialEq + std::fmt::Debug,
{
    let mut p = Pipeline::<G>::new(config::<G>(c, Mode::Sqrt), c.q).unwrap();
    let mut got = Vec::new();
    let mut rest = &c.signal[..];
    let mut i = 0;
    while !rest.is_empty() {
        let n = c
            .cuts
            .get(i)
            .copied()
            .unwrap_or(5)
            .min(c.w + 1)
            .min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        if p.push_samples(chunk).is_err() {
            got.extend(p.pull_until(u64::MAX).unwrap());
            p.push_samples(chunk).unwrap();
        }
        rest = tail;
        i += 1;
    }
    got.extend(p.pull_until(u64::MAX).unwrap());
    prop_assert_eq!(&got[..], expected);
    Ok(())
}

fn everything(c: &Case, all: Range<u64>) -> Vec<i64> {
    let mut p = Pipeline::<Everything>::new(config::<Everything>(c, Mode::Classic), c.q).unwrap();
    p.evaluate::<total>(&c.signal, all).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn sqrt_equals_classic_on_random_shapes(c in case(), shape in 0usize..9) {
        match shape {
            0 => equivalent::<Chain, recent_max>(&c)?,
            1 => equivalent::<Chain, running>(&c)?,
            2 => equivalent::<Lookbacks, tracker>(&c)?,
            3 => equivalent::<Lookbacks, combine>(&c)?,
            4 => equivalent::<Diamond, fan_in>(&c)?,
            5 => equivalent::<Diamond, late>(&c)?,
            6 => equivalent::<Everything, total>(&c)?,
            7 => equivalent::<Everything, recent_max>(&c)?,
            _ => equivalent::<Everything, tracker>(&c)?,
        }
    }

    #[test]
    fn chunked_push_equals_evaluate_on_random_shapes(c in case(), shape in 0usize..3) {
        let windows = config::<Everything>(&c, Mode::Classic).windows_in(c.signal.len() as u64);
        match shape {
            0 => pushed::<Everything>(&c, &everything(&c, 0..windows))?,
            1 => {
                let mut p = Pipeline::<Diamond>::new(config::<Diamond>(&c, Mode::Classic), c.q).unwrap();
                let expected = p.evaluate::<fan_in>(&c.signal, 0..windows).unwrap();
                pushed::<Diamond>(&c, &expected)?;
            }
            _ => {
                let mut p = Pipeline::<Lookbacks>::new(config::<Lookbacks>(&c, Mode::Classic), c.q).unwrap();
                let combines = p.evaluate::<combine>(&c.signal, 0..windows).unwrap();
                let trackers = p.evaluate::<tracker>(&c.signal, 0..windows).unwrap();
                let expected: Vec<(i64, i64)> = combines.into_iter().zip(trackers).collect();
                pushed::<Outputs>(&c, &expected)?;
            }
        }
    }
}

#[test]
fn the_shapes_have_the_dependency_spans_they_claim() {
    // ceil(W/H) for overlapping frames, plus the longest chain of lookback offsets.
    assert_eq!(sqrtspace::exec::span::<Chain>(4, 2), 2 + 3);
    assert_eq!(sqrtspace::exec::span::<Lookbacks>(4, 2), 2 + 2 + 1 + 4);
    assert_eq!(sqrtspace::exec::span::<Diamond>(4, 4), 1 + 3);
    assert_eq!(sqrtspace::exec::span::<Everything>(4, 1), 4 + 2 + 1 + 4 + 1);
    assert_eq!(Everything::TOPO.len(), 10);
}
