//! Parallel evaluation: the pure prefix of the graph computed ahead in batches on worker
//! threads, the rest evaluated in window order on the calling thread.
//!
//! # Design
//!
//! A stage's output at window `t` depends only on its inputs when it is *pure* and nothing
//! upstream of it carries state: such a stage (the *pure prefix*) can be computed for any
//! window on any thread, in any order, and gives the same bits. Stateful stages, and every
//! stage downstream of one, must see the windows in order. So with `w` workers:
//!
//! 1. the *boundary* stages (stages of the prefix that the sequential part or the caller
//!    reads) are computed ahead for a batch of windows `[t, t + batch)`, split into `w`
//!    contiguous chunks, one per thread (the calling thread takes the first). Each thread has
//!    its own engine state (typed slots, an LRU, counters: nothing shared but the frames, the
//!    parameters and the configuration), so workers never lock;
//! 2. the calling thread then evaluates windows in order exactly as with one worker: a fetch
//!    of a boundary stage takes its output from the batch instead of computing it, and the
//!    first fetch that finds no output there starts the next batch at that window (demand
//!    driven: replays from checkpoints, lookbacks and the classic mode's columns all go
//!    through the same path);
//! 3. outputs reach the sink in window order from the calling thread, so delivery order,
//!    outputs (bit for bit), errors and counters of the sequential part are those of one
//!    worker.
//!
//! Segments started from checkpoints would also parallelise stateful stages, but only on a
//! second pass (checkpoints must exist first) and with replays of up to `k` windows per
//! segment; the prefix design works on the first pass, and the stateful tail is usually the
//! cheap part (trackers, smoothers). The limit is visible: the planner measures each stage's
//! cost in its probe and reports the sequential fraction and Amdahl's bound
//! ([`crate::parallel::Parallelism`]).
//!
//! # Threads
//!
//! The chunks after the first go to a pool of threads that the pipeline starts at its first
//! batch and keeps while it lives (`sqrtspace-worker-N`), each fed through a bounded channel
//! of capacity 1 and answering on its own channel: the calling thread waits for exactly the
//! chunks it handed out, and a thread that were gone would only make it compute that chunk
//! itself, so no wait can deadlock. A pool thread gets an owned job (a copy of the samples
//! its chunk reads, from the longest lookback chain before it to its last frame's end; the
//! parameters behind an `Arc`), so nothing borrowed crosses threads and the pipeline needs no
//! `unsafe`. Persistent threads keep stages' thread-local caches (FFT plans) warm and cost a
//! channel round trip per chunk (measured by the planner, a few microseconds) instead of a
//! thread start; rayon would add a dependency for the same. The batch size keeps that cost
//! under 2% of a batch's work.
//!
//! # Errors and panics
//!
//! A worker stores a stage's error (or catches its panic) for the window where it happened,
//! stops its chunk there, and the other workers stop before later windows. Nothing is
//! reported until the calling thread takes that window: it then returns the same error one
//! worker would have returned at the same point (and windows before it have reached the
//! sink), or resumes the panic with a message naming the stage computed ahead and the window.
//! Windows past the end of the evaluation are never computed ahead, so an error one worker
//! would not meet is never reported.
//!
//! # Memory
//!
//! The LRU budget holds for all threads together: the sequential part gets half (less what
//! the batch does not use), the batch of outputs computed ahead at most a quarter, and the
//! workers' own LRUs share the last quarter (see [`Parallelism::choose`]). A batch replaces the
//! previous one, so what is held ahead is bounded by one batch, whatever the stream's length.
//! In classic mode the batches are kept until the columns are filled (classic materialises
//! every intermediate anyway). The live-bytes counter includes the batch and the workers'
//! high-water marks.

use crate::bytes::ByteSize;
use crate::config::Config;
use crate::error::Error;
use crate::exec::sqrt::fetch_output;
use crate::graph::workers::{
    Boxed, Chunk, Erased, Failure, Job, Pool, PoolThread, Prefetch, Timing,
};
use crate::graph::{index_of, needs, Compute, Core, Exec, Frames, Graph, Has};
use crate::metrics::Counters;
use crate::parallel::{cores, spare_parallelism, Parallelism, StageCost};
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Registers the type-erased entry point of `S` (done the first time the engine evaluates it).
#[inline]
pub(crate) fn register<G: Has<S>, S: Compute<G>>(core: &mut Core<G>) {
    let idx = <G as Has<S>>::INDEX;
    if core.workers.erased[idx].is_none() {
        core.workers.erased[idx] = Some(erased::<G, S>);
    }
}

fn erased<G: Has<S>, S: Compute<G>>(ex: &mut Exec<'_, G>, t: u64) -> Result<Boxed, Error> {
    let o = fetch_output::<G, S>(ex, t)?;
    let bytes = o.byte_size();
    Ok((Box::new(o), bytes))
}

/// The output of boundary stage `S` at `t` computed ahead, starting a batch at `t` when it
/// is not there; `None` when `S` is not computed ahead, or was taken already (the caller
/// computes it).
///
/// # Errors
/// The error a worker met computing it.
///
/// # Panics
/// Resumes a worker's panic in that computation.
pub(crate) fn take<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    t: u64,
) -> Result<Option<S::Output>, Error> {
    let idx = <G as Has<S>>::INDEX;
    let Some(pf) = ex.core.workers.active.as_mut() else {
        return Ok(None);
    };
    if !pf.boundary[idx] || t >= pf.limit[idx] {
        return Ok(None);
    }
    if !pf.store.contains_key(&(idx, t)) {
        // Inside the batch (taken already) or just before it (a lookback): compute here.
        let near = t < pf.filled.start && t + pf.batch > pf.filled.start;
        if pf.filled.contains(&t) || near {
            return Ok(None);
        }
        run_batch(ex, t);
    }
    let Some(pf) = ex.core.workers.active.as_mut() else {
        return Ok(None);
    };
    match pf.store.remove(&(idx, t)) {
        None => Ok(None),
        Some(Ok((b, bytes))) => {
            pf.bytes = pf.bytes.saturating_sub(bytes);
            match b.downcast::<S::Output>() {
                Ok(o) => Ok(Some(*o)),
                Err(_) => Ok(None),
            }
        }
        Some(Err(Failure::Error(e))) => Err(e),
        Some(Err(Failure::Panic(p))) => {
            pf.store.clear();
            pf.bytes = 0;
            resume_unwind(Box::new(format!(
                "stage panicked on a worker thread while computing `{}` at window {t}: {}",
                S::META.name,
                panic_message(p.as_ref())
            )))
        }
    }
}

/// The text of a panic payload (`&str` or `String`), else a placeholder.
#[must_use]
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// The inputs of one chunk, borrowed (on the calling thread) or from a [`Job`] (on a pool
/// thread).
struct View<'a, G: Graph> {
    frames: Frames<'a, G::Sample>,
    params: &'a Arc<G::Params>,
    config: &'a Config,
    reused: &'a [bool],
    lru: usize,
    k: u64,
    stages: &'a [(usize, Erased<G>)],
    limit: &'a [u64],
    failed: &'a AtomicU64,
}

fn work<G: Graph>(job: &View<'_, G>, range: Range<u64>) -> Chunk {
    let fresh = || {
        Core::<G>::worker(
            Arc::clone(job.params),
            job.config.clone(),
            job.reused.to_vec(),
            job.lru,
            job.k,
        )
    };
    let mut core = fresh();
    let mut results = Vec::new();
    let mut counters = Counters::new(G::STAGES);
    let mut high = 0;
    'windows: for t in range {
        if t > job.failed.load(Ordering::Relaxed) {
            break;
        }
        for &(i, f) in job.stages {
            if t >= job.limit[i] {
                continue;
            }
            core.begin();
            let r = catch_unwind(AssertUnwindSafe(|| {
                f(
                    &mut Exec {
                        core: &mut core,
                        frames: job.frames,
                    },
                    t,
                )
            }));
            let failed = match r {
                Ok(Ok(v)) => {
                    core.end();
                    results.push((i, t, Ok(v)));
                    false
                }
                Ok(Err(e)) => {
                    results.push((i, t, Err(Failure::Error(e))));
                    true
                }
                Err(p) => {
                    results.push((i, t, Err(Failure::Panic(p))));
                    true
                }
            };
            if failed {
                job.failed.fetch_min(t, Ordering::Relaxed);
                merge(&mut counters, &core.counters);
                high = high.max(core.counters.live_bytes_high_water);
                core = fresh();
                break 'windows;
            }
        }
    }
    merge(&mut counters, &core.counters);
    high = high.max(core.counters.live_bytes_high_water);
    Chunk {
        results,
        counters,
        live_high_water: high,
    }
}

/// The body of a pool thread: runs the jobs it receives until the pool is dropped.
fn serve<G: Graph>(jobs: &Receiver<Job<G>>, results: &SyncSender<Chunk>) {
    while let Ok(job) = jobs.recv() {
        let frames = Frames {
            samples: &job.samples[..],
            first: job.first,
            windows: job.windows,
            window: job.config.window,
            hop: job.config.hop,
        };
        let view = View::<G> {
            frames,
            params: &job.params,
            config: &job.config,
            reused: &job.reused,
            lru: job.lru,
            k: job.k,
            stages: &job.stages,
            limit: &job.limit,
            failed: &job.failed,
        };
        if results.send(work::<G>(&view, job.range.clone())).is_err() {
            return;
        }
    }
}

/// A pool of `n` threads (named `sqrtspace-worker-1..=n`).
fn pool<G: Graph>(n: usize) -> Pool<G> {
    let threads = (1..=n)
        .filter_map(|j| {
            let (job_tx, job_rx) = sync_channel::<Job<G>>(1);
            let (res_tx, res_rx) = sync_channel::<Chunk>(1);
            let handle = std::thread::Builder::new()
                .name(format!("sqrtspace-worker-{j}"))
                .spawn(move || serve::<G>(&job_rx, &res_tx))
                .ok()?;
            Some(PoolThread {
                jobs: Some(job_tx),
                results: res_rx,
                handle: Some(handle),
            })
        })
        .collect();
    Pool { threads }
}

fn merge(into: &mut Counters, from: &Counters) {
    for (a, b) in into.stages.iter_mut().zip(&from.stages) {
        a.evaluations += b.evaluations;
        a.cache_hits += b.cache_hits;
        a.recomputes += b.recomputes;
        a.computed_to = a.computed_to.max(b.computed_to);
    }
}

/// Computes the boundary stages over `[t0, t0 + batch)` (within their limits): the first
/// chunk on the calling thread, the others on the pool's threads (each handed a copy of the
/// samples its chunk reads), into the prefetch store.
fn run_batch<G: Graph>(ex: &mut Exec<'_, G>, t0: u64) {
    let core = &mut *ex.core;
    let Some(pf) = core.workers.active.as_mut() else {
        return;
    };
    let stages: Vec<(usize, Erased<G>)> = G::TOPO
        .iter()
        .filter(|&&i| pf.boundary[i] && t0 < pf.limit[i])
        .filter_map(|&i| core.workers.erased[i].map(|f| (i, f)))
        .collect();
    let Some(end) = stages.iter().map(|&(i, _)| pf.limit[i]).max() else {
        return;
    };
    let end = end.min(t0 + pf.batch);
    if !pf.keep {
        pf.store.clear();
        pf.bytes = 0;
        pf.filled = t0..end;
    } else if pf.filled.is_empty() {
        pf.filled = t0..end;
    } else {
        pf.filled = pf.filled.start.min(t0)..pf.filled.end.max(end);
    }
    pf.batches += 1;
    let n = end - t0;
    let w = (pf.workers as u64).min(n).max(1);
    let chunks: Vec<Range<u64>> = (0..w)
        .map(|j| t0 + n * j / w..t0 + n * (j + 1) / w)
        .collect();
    let helpers = chunks.len() - 1;
    if core
        .workers
        .pool
        .as_ref()
        .is_none_or(|p| p.threads.len() < helpers)
    {
        core.workers.pool = Some(pool::<G>(helpers));
    }
    let failed = Arc::new(AtomicU64::new(u64::MAX));
    let stages: Arc<[(usize, Erased<G>)]> = stages.into();
    let limit: Arc<[u64]> = pf.limit.clone().into();
    let frames = ex.frames;
    let span = crate::graph::span::<G>(frames.window, frames.hop);
    // Hand the other chunks to the pool (what a thread cannot take is computed here).
    let mut local = vec![chunks[0].clone()];
    let mut sent = Vec::new();
    if let Some(pool) = core.workers.pool.as_ref() {
        for (r, th) in chunks[1..].iter().zip(&pool.threads) {
            let job = Job::<G> {
                samples: region(&frames, r, span),
                first: region_first(&frames, r, span),
                windows: frames.windows,
                params: Arc::clone(&core.params),
                config: core.config.clone(),
                reused: core.reused.clone(),
                lru: pf.worker_lru,
                k: core.k,
                stages: Arc::clone(&stages),
                limit: Arc::clone(&limit),
                range: r.clone(),
                failed: Arc::clone(&failed),
            };
            let handed = th.jobs.as_ref().is_some_and(|tx| tx.send(job).is_ok());
            if handed {
                sent.push((r.clone(), th));
            } else {
                local.push(r.clone());
            }
        }
    } else {
        local.extend(chunks[1..].iter().cloned());
    }
    let view = View::<G> {
        frames,
        params: &core.params,
        config: &core.config,
        reused: &core.reused,
        lru: pf.worker_lru,
        k: core.k,
        stages: &stages,
        limit: &limit,
        failed: &failed,
    };
    let mut done: Vec<Chunk> = local.into_iter().map(|r| work::<G>(&view, r)).collect();
    for (r, th) in sent {
        // A thread that died (it cannot: stage panics are caught) is replaced by local work.
        done.push(th.results.recv().unwrap_or_else(|_| work::<G>(&view, r)));
    }
    let mut workers_high = 0;
    for c in done {
        merge(&mut core.counters, &c.counters);
        workers_high += c.live_high_water;
        for (i, t, r) in c.results {
            if let Ok((_, b)) = &r {
                pf.bytes += b;
            }
            pf.store.insert((i, t), r);
        }
    }
    core.note_live_plus(workers_high);
}

/// The first absolute sample of [`region`].
fn region_first<T>(frames: &Frames<'_, T>, r: &Range<u64>, span: u64) -> u64 {
    (r.start.saturating_sub(span) * frames.hop as u64).max(frames.first)
}

/// A copy of the samples that windows `r` of the boundary stages can read: from `span`
/// windows before `r` (the longest lookback chain is shorter) to the end of its last frame,
/// within what `frames` holds.
fn region<T: Copy>(frames: &Frames<'_, T>, r: &Range<u64>, span: u64) -> Arc<[T]> {
    let from = region_first(frames, r, span) - frames.first;
    let to = ((r.end.saturating_sub(1)) * frames.hop as u64 + frames.window as u64)
        .saturating_sub(frames.first);
    let len = frames.samples.len() as u64;
    let (from, to) = (
        usize::try_from(from.min(len)).unwrap_or(0),
        usize::try_from(to.min(len)).unwrap_or(0),
    );
    frames.samples[from..to.max(from)].into()
}

/// Per stage: part of the pure prefix (not stateful, nothing stateful upstream).
fn pure_prefix<G: Graph>() -> Vec<bool> {
    let stages = G::STAGES;
    let mut pure = vec![false; stages.len()];
    for &i in G::TOPO {
        pure[i] = !stages[i].stateful
            && stages[i].inputs.iter().all(|e| {
                e.stage
                    .and_then(|id| index_of(stages, id))
                    .is_none_or(|d| pure[d])
            });
    }
    pure
}

/// Per stage: computed ahead when `targets` are evaluated and stage `i` is needed over
/// `need[i]`: a needed stage of the pure prefix that is a target or read by a needed stage
/// outside the prefix.
pub(crate) fn boundary<G: Graph>(targets: &[usize], need: &[Option<Range<u64>>]) -> Vec<bool> {
    let stages = G::STAGES;
    let pure = pure_prefix::<G>();
    let mut b = vec![false; stages.len()];
    for &t in targets {
        b[t] = pure[t] && need[t].is_some();
    }
    for (j, s) in stages.iter().enumerate() {
        if pure[j] || need[j].is_none() {
            continue;
        }
        for e in s.inputs {
            if let Some(d) = e.stage.and_then(|id| index_of(stages, id)) {
                b[d] |= pure[d] && need[d].is_some();
            }
        }
    }
    b
}

/// The measured cost of each needed stage, marked sequential outside the pure prefix.
pub(crate) fn stage_costs<G: Graph>(costs: &[u64], need: &[Option<Range<u64>>]) -> Vec<StageCost> {
    let pure = pure_prefix::<G>();
    G::TOPO
        .iter()
        .filter(|&&i| need[i].is_some())
        .map(|&i| StageCost {
            name: G::STAGES[i].name,
            nanos: costs.get(i).copied().unwrap_or(0),
            sequential: !pure[i],
        })
        .collect()
}

/// The cost of handing a chunk to a pool thread and getting its result back (two channel
/// hand-overs and a wake-up), in nanoseconds: the median of 15 round trips to an idle thread,
/// measured once per process.
#[must_use]
pub fn pool_overhead_ns() -> u64 {
    static MEASURED: OnceLock<u64> = OnceLock::new();
    *MEASURED.get_or_init(|| {
        let (job_tx, job_rx) = sync_channel::<u64>(1);
        let (res_tx, res_rx) = sync_channel::<u64>(1);
        let echo = std::thread::spawn(move || {
            while let Ok(x) = job_rx.recv() {
                if res_tx.send(x).is_err() {
                    return;
                }
            }
        });
        let mut trials: Vec<u64> = (0..15u64)
            .map(|i| {
                let start = Instant::now();
                let ok = job_tx.send(i).is_ok() && res_rx.recv().is_ok();
                let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                if ok {
                    ns
                } else {
                    u64::MAX
                }
            })
            .collect();
        drop(job_tx);
        let _ = echo.join();
        trials.sort_unstable();
        trials[trials.len() / 2]
    })
}

/// The parallelism of an evaluation of `targets` over `need`, from the probe's costs (if
/// measured) and the per-window output bytes `per_window`.
pub(crate) fn choose<G: Graph>(
    config: &Config,
    costs: Option<&[u64]>,
    targets: &[usize],
    need: &[Option<Range<u64>>],
    per_window: &[usize],
    lru_bytes: usize,
    forced: Option<(usize, u64)>,
) -> Parallelism {
    if let Some((w, batch)) = forced {
        let mut p = Parallelism::single(config.max_workers, lru_bytes);
        if let Some(costs) = costs {
            let c = stage_costs::<G>(costs, need);
            let seq: u64 = c.iter().filter(|s| s.sequential).map(|s| s.nanos).sum();
            let total = c.iter().map(|s| s.nanos).sum::<u64>().max(1);
            p.sequential_permille = u32::try_from(seq * 1000 / total).unwrap_or(1000);
            p.stages = c;
        }
        return p.forced(w, batch, lru_bytes);
    }
    let Some(costs) = costs.filter(|_| config.max_workers > 1) else {
        return Parallelism::single(config.max_workers, lru_bytes);
    };
    let b = boundary::<G>(targets, need);
    let ahead: usize = b
        .iter()
        .zip(per_window)
        .filter(|(b, _)| **b)
        .map(|(_, &p)| p)
        .sum();
    Parallelism::choose(
        config.max_workers,
        cores(),
        stage_costs::<G>(costs, need),
        ahead,
        lru_bytes,
        pool_overhead_ns(),
    )
    .capped_by_load(spare_parallelism())
}

/// Push mode's parallelism (no probe, the stream's length unknown): the configured workers
/// capped at the cores (and at 1 on a busy machine: [`Parallelism::capped_by_load`]), batches
/// of half the input buffer (at most 256 windows).
pub(crate) fn push_parallelism(
    config: &Config,
    lru_bytes: usize,
    forced: Option<(usize, u64)>,
) -> Parallelism {
    let mut p = Parallelism::single(config.max_workers, lru_bytes);
    if let Some((w, batch)) = forced {
        return p.forced(w, batch, lru_bytes);
    }
    let w = config.max_workers.min(p.cores);
    if w > 1 {
        p.workers = w;
        p.batch = ((config.input_buffer_blocks / 2) as u64).clamp(w as u64, 256);
        p.worker_lru_bytes = lru_bytes / 4 / w;
        p.main_lru_bytes = lru_bytes / 2;
        p = p.capped_by_load(spare_parallelism());
    }
    p
}

/// The windows each stage needs for `outputs` over `range` (the union of [`needs`]).
pub(crate) fn union_needs<G: Graph>(
    outputs: &[usize],
    range: Range<u64>,
) -> Vec<Option<Range<u64>>> {
    let mut all: Vec<Option<Range<u64>>> = vec![None; G::STAGES.len()];
    for &o in outputs {
        for (a, n) in all.iter_mut().zip(needs::<G>(o, range.clone())) {
            if let Some(n) = n {
                *a = Some(match a.take() {
                    Some(x) => x.start.min(n.start)..x.end.max(n.end),
                    None => n,
                });
            }
        }
    }
    all
}

/// Starts computing ahead for an evaluation of `targets` over `need` with `par` (nothing
/// with one worker).
pub(crate) fn start<G: Graph>(
    core: &mut Core<G>,
    par: &Parallelism,
    targets: &[usize],
    need: &[Option<Range<u64>>],
    keep: bool,
) {
    core.workers.most_used = core.workers.most_used.max(par.workers);
    core.workers.active = (par.workers > 1).then(|| {
        Prefetch::new(
            par.workers,
            par.batch,
            boundary::<G>(targets, need),
            need.iter()
                .map(|r| r.as_ref().map_or(0, |r| r.end))
                .collect(),
            keep,
            par.worker_lru_bytes,
        )
    });
}

/// Ends computing ahead: drops what was not taken.
pub(crate) fn stop<G: Graph>(core: &mut Core<G>) {
    core.workers.active = None;
}

/// Whether classic mode skips the column of stage `i`: it is computed inside the workers
/// (part of the prefix, read only by the prefix).
pub(crate) fn skip_column<G: Graph>(core: &Core<G>, i: usize) -> bool {
    core.workers
        .active
        .as_ref()
        .is_some_and(|p| !p.boundary[i] && pure_prefix::<G>()[i])
}

/// Starts a timed probe.
pub(crate) fn start_timing<G: Graph>(core: &mut Core<G>) {
    let n = G::STAGES.len();
    core.workers.timing = Some(Timing {
        self_ns: vec![0; n],
        calls: vec![0; n],
        stack: Vec::new(),
    });
}

/// Ends a timed probe: the nanoseconds per evaluation of each stage.
pub(crate) fn end_timing<G: Graph>(core: &mut Core<G>) {
    if let Some(t) = core.workers.timing.take() {
        core.workers.costs = Some(
            t.self_ns
                .iter()
                .zip(&t.calls)
                .map(|(&s, &c)| s.checked_div(c).unwrap_or(0))
                .collect(),
        );
    }
}

impl<G: Graph> crate::exec::Pipeline<G> {
    /// Uses exactly `workers` threads (the calling thread included) and batches of `batch`
    /// windows for later evaluations, bypassing the planner's choice and the cap at the
    /// cores (`None` restores the planner's choice). For tests and benches: with one worker
    /// the evaluation is the sequential one, with more it runs the parallel path even where
    /// the planner estimates it does not pay.
    pub fn force_workers(&mut self, forced: Option<(usize, u64)>) {
        self.core.workers.forced = forced.map(|(w, b)| (w.max(1), b.max(1)));
    }
}
