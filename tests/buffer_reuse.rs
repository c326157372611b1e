//! Buffer reuse (`#[out]` parameters filled in recycled buffers, `#[scratch]` per-thread
//! working memory): for random graphs' parameters, outputs are bit-identical to the same
//! stages written in the owned style, in classic, sqrt and auto (pull), in push and stream,
//! with 1 to 3 workers; the pools' byte accounting is exact; buffers are in fact reused.

use proptest::prelude::*;
use sqrtspace::{pipeline, stage, ByteSize, Checkpoints, Config, Error, Mode, Pipeline, POOL_CAP};
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls of the `#[out]` stages that got a buffer with capacity (a spent output from the
/// pool, not a fresh `Default`).
static REUSED: AtomicU64 = AtomicU64::new(0);

fn note_reuse(out: &[f32], cap: usize) {
    let _ = out;
    if cap > 0 {
        REUSED.fetch_add(1, Ordering::Relaxed);
    }
}

// --- owned style ---------------------------------------------------------------------------

#[stage(inputs = [input])]
fn sq(frame: &[f32], #[params] g: &f32) -> Vec<f32> {
    frame.iter().map(|x| x * x * g).collect()
}

#[stage(inputs = [sq])]
fn halves(x: &Vec<f32>) -> Vec<f32> {
    x.chunks(2).map(|c| c.iter().sum::<f32>()).collect()
}

#[stage(inputs = [halves, halves[-1], sq])]
fn change(now: &Vec<f32>, before: Option<&Vec<f32>>, sq: &Vec<f32>) -> f32 {
    let tmp: Vec<f32> = now.iter().rev().copied().collect();
    let d: f32 = before.map_or(0.0, |b| {
        tmp.iter().rev().zip(b).map(|(x, y)| (x - y).abs()).sum()
    });
    d + sq[0]
}

#[stage(inputs = [change])]
fn running(c: &f32, #[state] acc: &mut f32) -> f32 {
    *acc = 0.9 * *acc + c;
    *acc
}

pipeline! {
    /// The owned style.
    pub struct Owned {
        params: f32,
        stages: [sq, halves, change, running],
        output: [running, halves],
    }
}

// --- the same maths with #[out] and #[scratch] ---------------------------------------------

#[stage(inputs = [input])]
fn sq_out(frame: &[f32], #[params] g: &f32, #[out] out: &mut Vec<f32>) {
    note_reuse(out, out.capacity());
    // Stale contents of another window: overwritten fully (resize, then every element).
    out.resize(frame.len(), f32::NAN);
    for (o, x) in out.iter_mut().zip(frame) {
        *o = x * x * g;
    }
}

#[stage(inputs = [sq_out])]
fn halves_out(x: &Vec<f32>, #[out] out: &mut Vec<f32>) -> Result<(), std::fmt::Error> {
    note_reuse(out, out.capacity());
    out.clear();
    out.extend(x.chunks(2).map(|c| c.iter().sum::<f32>()));
    Ok(())
}

#[stage(inputs = [halves_out, halves_out[-1], sq_out])]
fn change_out(
    now: &Vec<f32>,
    before: Option<&Vec<f32>>,
    sq: &Vec<f32>,
    #[scratch] tmp: &mut Vec<f32>,
) -> f32 {
    // Scratch holds whatever an earlier call left: overwritten before use.
    tmp.clear();
    tmp.extend(now.iter().rev());
    let d: f32 = before.map_or(0.0, |b| {
        tmp.iter().rev().zip(b).map(|(x, y)| (x - y).abs()).sum()
    });
    d + sq[0]
}

#[stage(inputs = [change_out])]
fn running_out(c: &f32, #[state] acc: &mut f32) -> f32 {
    *acc = 0.9 * *acc + c;
    *acc
}

pipeline! {
    /// `#[out]` and `#[scratch]`.
    pub struct Reused {
        params: f32,
        stages: [sq_out, halves_out, change_out, running_out],
        output: [running_out, halves_out],
    }
}

// --- the cases -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Case {
    signal: Vec<f32>,
    w: usize,
    h: usize,
    k: u64,
    lru: usize,
    workers: usize,
    chunk: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(-1.0f32..1.0, 40..400),
        1usize..12,
        1usize..6,
        1u64..6,
        prop_oneof![Just(0usize), Just(600), Just(1 << 20)],
        1usize..=3,
        1usize..40,
    )
        .prop_map(|(signal, w, h, k, lru, workers, chunk)| Case {
            signal,
            w: w * 2,
            h: h.min(w * 2),
            k,
            lru,
            workers,
            chunk,
        })
}

fn config(c: &Case, mode: Mode) -> Config {
    Config::default()
        .with_window(c.w)
        .with_hop(c.h)
        .with_checkpoints(Checkpoints::Every(c.k))
        .with_lru_bytes(c.lru)
        .with_checkpoint_bytes(1 << 20)
        .with_mode(mode)
        .with_max_workers(c.workers)
}

fn pipe<G: sqrtspace::graph::Graph<Params = f32>>(c: &Case, mode: Mode) -> Pipeline<G> {
    let mut p = Pipeline::<G>::new(config(c, mode), 0.5).unwrap();
    p.force_workers(Some((c.workers, 4)));
    p
}

type Out = (f32, Vec<f32>);

fn bits(v: &[Out]) -> Vec<(u32, Vec<u32>)> {
    v.iter()
        .map(|(a, b)| (a.to_bits(), b.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// Everything the owned style emits, by push in chunks of `c.chunk`.
fn pushed<G>(c: &Case, mode: Mode) -> Vec<Out>
where
    G: sqrtspace::graph::Graph<Params = f32, Sample = f32, Output = Out>,
{
    let mut p = pipe::<G>(c, mode);
    let mut got = Vec::new();
    for chunk in c.signal.chunks(c.chunk) {
        if p.push_samples(chunk).is_err() {
            got.extend(p.pull_until(u64::MAX).unwrap());
            p.push_samples(chunk).unwrap();
        }
    }
    got.extend(p.pull_until(u64::MAX).unwrap());
    got
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn reuse_is_bit_identical_to_owned_in_every_mode(c in case()) {
        let windows = config(&c, Mode::Sqrt).windows_in(c.signal.len() as u64);
        prop_assume!(windows > 0);
        let mut owned = pipe::<Owned>(&c, Mode::Sqrt);
        owned.force_workers(Some((1, 4)));
        let one: Vec<f32> = owned.evaluate::<running>(&c.signal, 0..windows).unwrap();
        let reference = pushed::<Owned>(&c, Mode::Sqrt);
        prop_assert_eq!(reference.len() as u64, windows);
        for mode in [Mode::Classic, Mode::Sqrt, Mode::Auto] {
            let mut p = pipe::<Reused>(&c, mode);
            let got: Vec<f32> = p.evaluate::<running_out>(&c.signal, 0..windows).unwrap();
            prop_assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                one.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "pull, {}", mode
            );
            prop_assert_eq!(bits(&pushed::<Reused>(&c, mode)), bits(&reference), "push, {}", mode);
            assert_pool_exact(&p);
        }
        let mut p = pipe::<Reused>(&c, Mode::Sqrt);
        let mut streamed = Vec::new();
        p.stream(c.signal.chunks(c.chunk).map(Ok::<_, Error>), |_, o| streamed.push(o)).unwrap();
        prop_assert_eq!(bits(&streamed), bits(&reference), "stream over borrowed chunks");
        assert_pool_exact(&p);
    }
}

/// `Pipeline::pool_bytes` is the sum of the bytes of the buffers in the pools, and each pool
/// holds at most `POOL_CAP` of them.
fn assert_pool_exact(p: &Pipeline<Reused>) {
    let slots = [
        (p.slot::<sq_out>().pooled(), p.slot::<sq_out>().pool_bytes()),
        (
            p.slot::<halves_out>().pooled(),
            p.slot::<halves_out>().pool_bytes(),
        ),
    ];
    assert!(slots.iter().all(|&(n, _)| n <= POOL_CAP));
    // Stages without `#[out]` have no pool.
    assert_eq!(p.slot::<change_out>().pooled(), 0);
    assert_eq!(p.slot::<running_out>().pooled(), 0);
    assert_eq!(p.pool_bytes(), slots.iter().map(|s| s.1).sum::<usize>());
}

/// After a run with a small LRU, the pools hold spent outputs (byte for byte as counted), later
/// windows were computed in recycled buffers, and the live bytes count the pools.
#[test]
fn pools_are_fed_and_accounted_exactly() {
    let signal: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.01).sin()).collect();
    let c = Case {
        signal: signal.clone(),
        w: 64,
        h: 32,
        k: 4,
        // Room for a few windows: evictions feed the pools of the re-read outputs.
        lru: 4096,
        workers: 1,
        chunk: 100,
    };
    let windows = config(&c, Mode::Sqrt).windows_in(signal.len() as u64);
    let mut p = pipe::<Reused>(&c, Mode::Sqrt);
    let before = REUSED.load(Ordering::Relaxed);
    p.evaluate::<running_out>(&signal, 0..windows).unwrap();
    // Both `#[out]` stages run once per window; all but the first few calls reuse a buffer.
    let reused = REUSED.load(Ordering::Relaxed) - before;
    assert!(
        reused >= 2 * windows - 16,
        "{reused} reuses over {windows} windows"
    );
    // `sq_out` is read by `halves_out` and `change_out` (through the LRU): its evicted outputs
    // feed its pool; `halves_out` is re-read by the next window's `change_out`.
    let sq = Vec::<f32>::with_capacity(64).byte_size();
    assert_eq!(p.slot::<sq_out>().pool_bytes() % sq, 0);
    assert_pool_exact(&p);
    assert!(p.counters().live_bytes_high_water >= p.pool_bytes());
    // After a reset the pools are empty and counted so.
    p.reset();
    assert_eq!(p.pool_bytes(), 0);
    assert_eq!(p.slot::<sq_out>().pooled(), 0);
}
