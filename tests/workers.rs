//! Parallel evaluation (`Config::max_workers`, `Pipeline::force_workers`): for random
//! pipelines (pure prefixes, stateful tails, lookbacks onto both, several outputs), signals,
//! windows, LRU budgets, modes and batch sizes, 2, 3 or 4 workers give the outputs of one
//! worker bit for bit, for pull (sessions, random access), push and stream; outputs reach the
//! sink in window order; a stage's error or panic on a worker is reported once, at its window,
//! without deadlock; push mode's backpressure still holds.
//!
//! The stage library mirrors `tests/random_pipelines.rs` (stages are items of the test crate,
//! so each test file declares its own). `PROPTEST_CASES` raises the number of cases
//! (default 32).

use proptest::prelude::*;
use sqrtspace::exec::{Compute, Graph, Has};
use sqrtspace::{pipeline, stage, Checkpoints, Config, Error, Mode, Pipeline};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runtime parameters: random per case; `fail_at` makes `checked` fail (or panic) there.
#[derive(Debug, Clone, Copy)]
pub struct Q {
    mul: i64,
    add: i64,
    fail_at: u64,
    panic: bool,
}

impl Q {
    fn new(mul: i64, add: i64) -> Self {
        Q {
            mul,
            add,
            fail_at: u64::MAX,
            panic: false,
        }
    }
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

#[stage(inputs = [level, level[-1]])]
fn delta(x: &i64, prev: Option<&i64>) -> i64 {
    x - prev.copied().unwrap_or(0)
}

#[stage(inputs = [delta, raw_lag[-1]])]
fn combine(d: &i64, r: Option<&i64>, #[params] q: &Q) -> i64 {
    d.wrapping_mul(q.add) + r.copied().unwrap_or(q.mul)
}

#[stage(inputs = [level])]
fn running(x: &i64, #[state] s: &mut i64) -> i64 {
    *s = s.wrapping_mul(3).wrapping_add(*x) % 1_000_003;
    *s
}

#[stage(inputs = [running, running[-3]], cost = 4)]
fn recent_max(x: &i64, old: Option<&i64>, #[state] recent: &mut VecDeque<i64>) -> i64 {
    if recent.len() == 3 {
        recent.pop_front();
    }
    recent.push_back(x - old.copied().unwrap_or(0));
    recent.iter().copied().max().unwrap_or(0)
}

fn seed() -> (i64, u32) {
    (17, 0)
}

#[stage(inputs = [combine, combine[-4]], init = seed)]
fn tracker(c: &i64, c4: Option<&i64>, #[state] s: &mut (i64, u32)) -> i64 {
    s.1 += 1;
    s.0 = (s.0 + c - c4.copied().unwrap_or(0)) % 65_537 + i64::from(s.1 % 5);
    s.0
}

/// The error of `checked`.
#[derive(Debug)]
pub struct Fail;

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("checked failed")
    }
}

impl std::error::Error for Fail {}

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Evaluations of `checked` on a worker thread (not the calling one).
static ON_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// Fails (or panics) at window `q.fail_at`.
#[stage(inputs = [input, level])]
fn checked(frame: &[i32], x: &i64, #[params] q: &Q) -> Result<i64, Fail> {
    if std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("sqrtspace-worker"))
    {
        ON_WORKERS.fetch_add(1, Ordering::SeqCst);
    }
    // The frame's first sample is its window index (see `indexed`).
    if i64::from(frame[0]) == i64::try_from(q.fail_at).unwrap_or(-1) {
        if q.panic {
            PANICS.fetch_add(1, Ordering::SeqCst);
            panic!("checked panics");
        }
        return Err(Fail);
    }
    Ok(x + 1)
}

#[stage(inputs = [checked])]
fn summed(x: &i64, #[state] s: &mut i64) -> i64 {
    *s = s.wrapping_add(*x);
    *s
}

pipeline! {
    /// Pure: everything can be computed ahead.
    struct Pure {
        sample: i32,
        params: Q,
        stages: [level, raw_lag, delta, combine],
        output: combine,
    }
}

pipeline! {
    /// A pure stage, then stateful stages reading a lookback of a stateful stage.
    struct Chain {
        sample: i32,
        params: Q,
        stages: [level, running, recent_max],
        output: recent_max,
    }
}

pipeline! {
    /// Raw-frame and stage lookbacks into a stateful stage.
    struct Lookbacks {
        sample: i32,
        params: Q,
        stages: [level, raw_lag, delta, combine, tracker],
        output: tracker,
    }
}

pipeline! {
    /// Two outputs, one computed ahead, one sequential.
    struct Outputs {
        sample: i32,
        params: Q,
        stages: [level, raw_lag, delta, combine, tracker],
        output: [combine, tracker],
    }
}

pipeline! {
    /// A fallible pure stage feeding a stateful one.
    struct Checked {
        sample: i32,
        params: Q,
        stages: [level, checked, summed],
        output: summed,
    }
}

#[derive(Debug, Clone)]
struct Case {
    signal: Vec<i32>,
    w: usize,
    h: usize,
    k: u64,
    lru: usize,
    q: Q,
    workers: usize,
    batch: u64,
    lookups: Vec<u64>,
    cuts: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        1usize..10,
        1usize..10,
        1u64..10,
        prop_oneof![Just(0usize), 1usize..3000, Just(1usize << 20)],
        (-3i64..4, -2i64..3),
        2usize..=4,
        1u64..20,
    )
        .prop_flat_map(|(w, h, k, lru, (mul, add), workers, batch)| {
            let h = h.min(w);
            (
                prop::collection::vec(-50i32..50, w..w + 300),
                Just((w, h, k, lru, Q::new(mul, add), workers, batch)),
                prop::collection::vec(0u64..1000, 1..6),
                prop::collection::vec(1usize..30, 0..30),
            )
        })
        .prop_map(
            |(signal, (w, h, k, lru, q, workers, batch), lookups, cuts)| Case {
                signal,
                w,
                h,
                k,
                lru,
                q,
                workers,
                batch,
                lookups,
                cuts,
            },
        )
}

fn config(c: &Case, mode: Mode) -> Config {
    Config::default()
        .with_window(c.w)
        .with_hop(c.h)
        .with_checkpoints(Checkpoints::Every(c.k))
        .with_lru_bytes(c.lru)
        .with_checkpoint_bytes(1 << 20)
        .with_input_buffer_blocks(8)
        .with_mode(mode)
}

fn pipeline<G: Graph<Params = Q>>(c: &Case, mode: Mode, workers: usize) -> Pipeline<G> {
    let mut p = Pipeline::<G>::new(config(c, mode).with_max_workers(workers), c.q).unwrap();
    p.force_workers(Some((workers, c.batch)));
    p
}

/// Pull: every mode with `c.workers` equals sqrt with one worker, over the whole signal and
/// for random lookups in one session afterwards.
fn pulled<G, S>(c: &Case) -> Result<(), TestCaseError>
where
    G: Graph<Params = Q, Sample = i32> + Has<S>,
    S: Compute<G, Output = i64>,
{
    let windows = config(c, Mode::Sqrt).windows_in(c.signal.len() as u64);
    let one = pipeline::<G>(c, Mode::Sqrt, 1)
        .evaluate::<S>(&c.signal, 0..windows)
        .unwrap();
    for mode in [Mode::Sqrt, Mode::Classic, Mode::Auto] {
        let mut p = pipeline::<G>(c, mode, c.workers);
        let mut s = p.over(&c.signal);
        let got = s.evaluate::<S>(0..windows).unwrap();
        prop_assert_eq!(&got, &one, "{} with {} workers", mode, c.workers);
        for &t in &c.lookups {
            let t = t % windows;
            let got = s.evaluate::<S>(t..windows.min(t + 3)).unwrap();
            prop_assert_eq!(got[0], one[t as usize], "lookup {} in {}", t, mode);
        }
        let plan = s.last_plan().unwrap();
        prop_assert_eq!(plan.workers, c.workers);
    }
    Ok(())
}

/// Push in the case's chunks (backpressure from an 8-window buffer) and stream, with
/// `c.workers`, equal one worker's push.
fn pushed<G>(c: &Case) -> Result<(), TestCaseError>
where
    G: Graph<Params = Q, Sample = i32>,
    G::Output: PartialEq + std::fmt::Debug,
{
    let run = |workers: usize| {
        let mut p = pipeline::<G>(c, Mode::Sqrt, workers);
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
        got
    };
    let one = run(1);
    prop_assert_eq!(&run(c.workers), &one, "push with {} workers", c.workers);
    let mut p = pipeline::<G>(c, Mode::Sqrt, c.workers);
    let mut streamed = Vec::new();
    let mut order = Vec::new();
    let chunks = c.signal.chunks(7).map(Ok::<_, Error>);
    p.stream(chunks, |t, o| {
        order.push(t);
        streamed.push(o);
    })
    .unwrap();
    prop_assert_eq!(&streamed, &one, "stream with {} workers", c.workers);
    prop_assert!(order.iter().enumerate().all(|(i, &t)| t == i as u64));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32),
        ..ProptestConfig::default()
    })]

    #[test]
    fn workers_pull_is_bit_identical_to_one_worker(c in case(), shape in 0usize..5) {
        match shape {
            0 => pulled::<Pure, combine>(&c)?,
            1 => pulled::<Chain, recent_max>(&c)?,
            2 => pulled::<Lookbacks, tracker>(&c)?,
            3 => pulled::<Lookbacks, combine>(&c)?,
            _ => pulled::<Chain, running>(&c)?,
        }
    }

    #[test]
    fn workers_push_and_stream_are_bit_identical_to_one_worker(c in case(), shape in 0usize..4) {
        match shape {
            0 => pushed::<Pure>(&c)?,
            1 => pushed::<Chain>(&c)?,
            2 => pushed::<Lookbacks>(&c)?,
            _ => pushed::<Outputs>(&c)?,
        }
    }
}

/// A signal whose frame `t` starts with `t` (window = hop = 4).
fn indexed(windows: i32) -> Vec<i32> {
    (0..windows).flat_map(|t| [t, 1, 2, 3]).collect()
}

fn checked_pipeline(workers: usize, q: Q) -> Pipeline<Checked> {
    let config = Config::default()
        .with_window(4)
        .with_hop(4)
        .with_mode(Mode::Sqrt)
        .with_input_buffer_blocks(64)
        .with_max_workers(workers);
    let mut p = Checked::new(config, q).unwrap();
    p.force_workers(Some((workers, 16)));
    p
}

#[test]
fn outputs_reach_the_sink_in_window_order() {
    let signal = indexed(500);
    for workers in 1..=4 {
        let mut p = checked_pipeline(workers, Q::new(1, 1));
        let mut seen = Vec::new();
        p.evaluate_with::<summed>(&signal, 0..500, |t, _| seen.push(t))
            .unwrap();
        assert_eq!(seen, (0..500).collect::<Vec<u64>>(), "{workers} workers");
        if workers > 1 {
            assert!(
                ON_WORKERS.load(Ordering::SeqCst) > 0,
                "the parallel path ran"
            );
        }
    }
}

#[test]
fn a_stage_error_on_a_worker_is_reported_once_at_its_window() {
    let signal = indexed(300);
    let q = Q {
        fail_at: 137,
        ..Q::new(1, 1)
    };
    let one = checked_pipeline(1, Q::new(1, 1))
        .evaluate::<summed>(&signal, 0..137)
        .unwrap();
    for workers in 2..=4 {
        let mut p = checked_pipeline(workers, q);
        let mut got = Vec::new();
        let err = p
            .evaluate_with::<summed>(&signal, 0..300, |_, o| got.push(o))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Stage {
                    stage: "checked",
                    window: 137,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(got, one, "every window before the error reached the sink");
        // Push mode: the outputs before the error, then the error at that window.
        let mut p = checked_pipeline(workers, q);
        let mut before = Vec::new();
        let mut errors = Vec::new();
        for chunk in signal[..200 * 4].chunks(40 * 4) {
            if p.push_samples(chunk).is_err() {
                break; // the unconsumed windows fill the buffer after the error
            }
            match p.pull_until(u64::MAX) {
                Ok(o) => before.extend(o),
                Err(e) => errors.push(e),
            }
        }
        assert_eq!(before, one);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let err = errors.pop().unwrap();
        assert!(matches!(err, Error::Stage { window: 137, .. }), "{err:?}");
        assert_eq!(p.skip_window(), 137);
    }
}

#[test]
fn a_stage_panic_on_a_worker_is_reported_once_with_its_window_without_deadlock() {
    let signal = indexed(300);
    let q = Q {
        fail_at: 201,
        panic: true,
        ..Q::new(1, 1)
    };
    for workers in 2..=4 {
        PANICS.store(0, Ordering::SeqCst);
        let mut p = checked_pipeline(workers, q);
        let mut delivered = 0u64;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            p.evaluate_with::<summed>(&signal, 0..300, |_, _| delivered += 1)
        }));
        let payload = r.expect_err("the panic reaches the caller");
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("window 201"), "{msg}");
        assert!(msg.contains("checked panics"), "{msg}");
        assert_eq!(delivered, 201);
        assert_eq!(PANICS.load(Ordering::SeqCst), 1, "{workers} workers");
        // A new session starts from clean state.
        assert_eq!(
            p.evaluate::<summed>(&signal, 0..10).unwrap(),
            checked_pipeline(1, Q::new(1, 1))
                .evaluate::<summed>(&signal, 0..10)
                .unwrap()
        );
    }
}

#[test]
fn backpressure_holds_with_workers() {
    let signal = indexed(400);
    let mut p = checked_pipeline(3, Q::new(1, 1));
    // 64 windows of 4 samples: 256 unprocessed samples at most.
    p.push_samples(&signal[..256]).unwrap();
    let err = p.push_samples(&signal[256..260]).unwrap_err();
    assert!(
        matches!(err, Error::Backpressure { capacity: 256, .. }),
        "{err:?}"
    );
    let first = p.pull_until(u64::MAX).unwrap();
    assert_eq!(first.len(), 64);
    p.push_samples(&signal[256..260]).unwrap();
    // Streaming keeps the buffer within its capacity.
    let mut p = checked_pipeline(3, Q::new(1, 1));
    let mut high = 0;
    let mut n = 0;
    for chunk in signal.chunks(10) {
        p.push_samples(chunk).unwrap();
        high = high.max(p.buffered_samples());
        n += p.pull_until(u64::MAX).unwrap().len();
    }
    assert_eq!(n, 400);
    assert!(high <= 256 + 10, "{high}");
}

#[test]
fn the_planner_caps_workers_at_the_cores_and_says_so() {
    let cores = sqrtspace::parallel::cores();
    let signal = indexed(300);
    let config = Config::default()
        .with_window(4)
        .with_hop(4)
        .with_max_workers(cores + 6);
    let mut p = Checked::new(config, Q::new(1, 1)).unwrap();
    let plan = p.plan::<summed>(&signal, 0..300).unwrap();
    assert!(plan.workers <= cores, "{plan}");
    assert_eq!(plan.parallel.requested, cores + 6);
    assert!(
        plan.parallel.warnings[0].contains(&format!("capped at {cores}")),
        "{plan}"
    );
    // The probe measured every needed stage; `summed` is the sequential part.
    let names: Vec<_> = plan.parallel.stages.iter().map(|s| s.name).collect();
    assert_eq!(names, ["level", "checked", "summed"]);
    assert!(plan.parallel.stages[2].sequential && !plan.parallel.stages[0].sequential);
    let text = plan.to_string();
    assert!(
        text.contains("workers:") && text.contains("sequential:"),
        "{text}"
    );
}

/// Windows of `slow_pure` started on a pool thread, and whether the sink may go on.
static STARTED_AHEAD: AtomicUsize = AtomicUsize::new(0);

/// A pure stage that records, on pool threads, the highest window it started (plus one).
#[stage(inputs = [input])]
fn noted(frame: &[i32]) -> i64 {
    if std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("sqrtspace-worker"))
    {
        // The frame's first sample is its window index (see `indexed`).
        let t = usize::try_from(frame[0]).unwrap_or(0);
        STARTED_AHEAD.fetch_max(t + 1, Ordering::SeqCst);
    }
    i64::from(frame[0]) * 3
}

pipeline! {
    /// One pure stage, computed ahead.
    struct Noted {
        sample: i32,
        params: Q,
        stages: [noted],
        output: noted,
    }
}

/// Pipelining: while the calling thread hands the last window of the first batch to the sink,
/// a pool thread is already computing the second batch. The sink waits (at most a minute, so
/// that the old schedule fails rather than hangs) until a pool thread started a window of the
/// second batch; when batches are computed in one go (`set_synchronous_batches`) that never
/// happens before the sink has consumed the first batch.
#[test]
fn the_pool_computes_the_next_batch_while_the_calling_thread_consumes_this_one() {
    let batch = 64u64;
    let signal = indexed(4 * batch as i32);
    let config = Config::default()
        .with_window(4)
        .with_hop(4)
        .with_mode(Mode::Sqrt)
        .with_max_workers(2);
    for synchronous in [false, true] {
        STARTED_AHEAD.store(0, Ordering::SeqCst);
        let mut p = Noted::new(config.clone(), Q::new(1, 1)).unwrap();
        p.force_workers(Some((2, batch)));
        p.set_synchronous_batches(synchronous);
        let mut overlapped = false;
        let got = p.evaluate_with::<noted>(&signal, 0..4 * batch, |t, _| {
            if t == batch - 1 {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                let patience = if synchronous {
                    std::time::Duration::from_millis(200)
                } else {
                    std::time::Duration::from_secs(60)
                };
                let until = std::time::Instant::now() + patience;
                while std::time::Instant::now() < until.min(deadline) {
                    if STARTED_AHEAD.load(Ordering::SeqCst) > batch as usize {
                        overlapped = true;
                        break;
                    }
                    std::thread::yield_now();
                }
            }
        });
        assert!(got.is_ok());
        assert_eq!(
            overlapped,
            !synchronous,
            "synchronous batches: {synchronous}; stats {:?}",
            p.worker_stats()
        );
        let st = p.worker_stats();
        assert!(st.jobs > 0 && st.pool_windows > 0, "{st:?}");
        assert_eq!(st.pool_windows + st.main_windows, 4 * batch, "{st:?}");
        assert_eq!(st.aborted_jobs, 0, "{st:?}");
        assert_eq!(
            p.evaluate::<noted>(&signal, 0..4 * batch).unwrap(),
            (0..4 * batch as i64).map(|t| t * 3).collect::<Vec<_>>()
        );
    }
}

/// A jump (random access far from the running batch) abandons the jobs in flight and the
/// outputs stay those of one worker; a sink that stops early leaves no job behind that a
/// later evaluation would collect.
#[test]
fn jumps_and_early_stops_leave_no_job_behind() {
    let signal = indexed(2000);
    let config = Config::default()
        .with_window(4)
        .with_hop(4)
        .with_mode(Mode::Sqrt)
        .with_max_workers(3);
    let expect = |r: std::ops::Range<u64>| r.map(|t| t as i64 * 3).collect::<Vec<_>>();
    let mut p = Noted::new(config, Q::new(1, 1)).unwrap();
    p.force_workers(Some((3, 32)));
    let mut s = p.over(&signal);
    for (a, b) in [(0, 40), (1500, 1600), (100, 101), (1999, 2000), (0, 2000)] {
        assert_eq!(s.evaluate::<noted>(a..b).unwrap(), expect(a..b), "{a}..{b}");
    }
    let mut n = 0;
    p.evaluate_with::<noted>(&signal, 0..2000, |_, _| {
        n += 1;
        if n == 50 {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(n, 50);
    assert_eq!(
        p.evaluate::<noted>(&signal, 0..2000).unwrap(),
        expect(0..2000)
    );
}

/// A pure stage costly enough for the planner's model to choose 2 workers.
#[stage(inputs = [input])]
fn costly(frame: &[i32]) -> i64 {
    let mut x = i64::from(frame[0]);
    for i in 0..20_000i64 {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
    }
    x
}

pipeline! {
    /// One costly pure stage.
    struct Costly {
        sample: i32,
        params: Q,
        stages: [costly],
        output: costly,
    }
}

/// `auto` with 2 workers allowed: when the model chooses 2 workers (an idle second core), the
/// planner times 1 and 2 workers on the probe prefix and keeps 2 only if they were measured
/// faster; the plan carries both timings, and the outputs are one worker's.
#[test]
fn the_planner_times_its_candidates_on_the_probe_prefix() {
    let signal = indexed(2000);
    let config = Config::default()
        .with_window(4)
        .with_hop(4)
        .with_mode(Mode::Sqrt)
        .with_max_workers(2);
    let one = Costly::new(config.clone().with_max_workers(1), Q::new(1, 1))
        .unwrap()
        .evaluate::<costly>(&signal, 0..2000)
        .unwrap();
    let mut p = Costly::new(config, Q::new(1, 1)).unwrap();
    let plan = p.plan::<costly>(&signal, 0..2000).unwrap();
    let par = &plan.parallel;
    if !par.candidates.is_empty() {
        assert_eq!(par.candidates.len(), 2, "{plan}");
        assert_eq!(par.candidates[0].workers, 1);
        assert_eq!(par.candidate_windows, 60);
        assert!(par.candidates_ns > 0);
        let (t1, t2) = (
            par.candidates[0].nanos_per_window,
            par.candidates[1].nanos_per_window,
        );
        assert_eq!(par.workers > 1, t2 * 105 <= t1 * 100, "{plan}");
        assert!(plan.to_string().contains("timed:"), "{plan}");
    }
    assert_eq!(p.evaluate::<costly>(&signal, 0..2000).unwrap(), one);
}
