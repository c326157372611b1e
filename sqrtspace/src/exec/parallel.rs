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
//!    reads) are computed ahead in batches of windows `[t, t + batch)`. Each pool thread has
//!    its own engine state (typed slots, an LRU, counters: nothing shared but the frames, the
//!    parameters and the configuration), so workers never lock;
//! 2. the calling thread evaluates windows in order exactly as with one worker: a fetch of a
//!    boundary stage takes its output from the batch instead of computing it;
//! 3. outputs reach the sink in window order from the calling thread, so delivery order,
//!    outputs (bit for bit), errors and counters of the sequential part are those of one
//!    worker.
//!
//! The batches are *pipelined* ([`crate::exec::schedule`]): the calling thread computes the
//! first part of each batch itself, inline (its *share*, sized so that it finishes the batch,
//! sequential part included, when the pool finishes the rest), and the pool threads are
//! handed the rest of batch `n + 1` while the calling thread consumes batch `n`. Computing
//! each batch in one go instead (the calling thread's chunk, a wait for the pool's, then the
//! sequential part over the batch while the pool sits idle) left both threads idle part of
//! the time: `benches/workers.rs` prints both schedules' per-thread CPU times and waits. The
//! first fetch outside the running batches (a replay from a checkpoint, a random access)
//! abandons the jobs in flight and starts again there (demand driven: replays, lookbacks and
//! push mode all go through the same path). Classic mode, which fills whole columns from the
//! batches, computes each batch in one go and keeps them.
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
//! The pool's chunks go to threads that the pipeline starts at its first batch and keeps
//! while it lives (`sqrtspace-worker-N`), each fed through a bounded channel and answering on
//! its own channel, with at most two jobs in flight per thread (the current batch's and the
//! next's), so that neither side ever blocks on a send: the calling thread waits only for a
//! result it needs, which the thread computes without waiting for anything, and a thread that
//! were gone would only make the calling thread compute those windows itself, so no wait can
//! deadlock. A pool thread gets an owned job (a copy of the samples its chunk reads, from the
//! longest lookback chain before it to its last frame's end, a few per cent of the chunk's
//! work; the parameters behind an `Arc`), so nothing borrowed crosses threads and the
//! pipeline needs no `unsafe`; in push mode the copy also lets the pool compute a batch while
//! the caller pushes more samples and the input buffer is trimmed. Persistent threads keep
//! stages' thread-local caches (FFT plans) warm and cost a channel round trip per chunk
//! (measured by the planner, a few microseconds) instead of a thread start; rayon would add a
//! dependency for the same, and its work stealing does not fit ordered consumption by one
//! thread. [`Pipeline::worker_stats`](crate::Pipeline::worker_stats) reports where the
//! threads' time went.
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
//! previous one, so what is held ahead is bounded by two batches (the one consumed and the
//! next, in the pool's hands), whatever the stream's length.
//! In classic mode the batches are kept until the columns are filled (classic materialises
//! every intermediate anyway). The live-bytes counter includes the batch and the workers'
//! high-water marks.

use crate::bytes::ByteSize;
use crate::config::Config;
use crate::error::Error;
pub use crate::exec::pool::panic_message;
use crate::exec::pool::run_batch;
use crate::exec::sqrt::fetch_output;
use crate::graph::workers::{Boxed, Failure, Prefetch, Timing};
use crate::graph::{index_of, needs, Compute, Core, Exec, Graph, Has};
use crate::parallel::{cores, spare_parallelism, Parallelism, StageCost, WorkerStats};
use std::ops::Range;
use std::panic::resume_unwind;
use std::sync::mpsc::sync_channel;
use std::sync::OnceLock;
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
        if !pf.keep && !ex.core.workers.synchronous {
            crate::exec::schedule::locate(ex, t);
        } else {
            // Inside the batch (taken already) or just before it (a lookback): compute here.
            let near = t < pf.filled.start && t + pf.batch > pf.filled.start;
            if pf.filled.contains(&t) || near {
                return Ok(None);
            }
            run_batch(ex, t);
        }
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
    stop(core);
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
        .with_main_share(main_share(par))
    });
}

/// Push mode: continues the running schedule with the windows of `need` (more samples were
/// pushed since the last pull) when it was started with the same workers and batch; `false`
/// when there is none to continue.
pub(crate) fn resume<G: Graph>(
    core: &mut Core<G>,
    par: &Parallelism,
    need: &[Option<Range<u64>>],
) -> bool {
    let synchronous = core.workers.synchronous;
    let Some(pf) = core.workers.active.as_mut() else {
        return false;
    };
    if pf.keep || synchronous || pf.workers != par.workers || pf.batch != par.batch.max(1) {
        return false;
    }
    for (l, n) in pf.limit.iter_mut().zip(need) {
        *l = (*l).max(n.as_ref().map_or(0, |r| r.end));
    }
    true
}

/// Hands out the next batch's pool part if the schedule ran out of windows before and more
/// are needed now (push mode, after more samples arrived).
pub(crate) fn extend<G: Graph>(ex: &mut Exec<'_, G>) {
    crate::exec::schedule::extend(ex);
}

/// The calling thread's share of a batch at the start (corrected after each batch from the
/// measured times, [`crate::exec::schedule`]): `batch (p - (w - 1) s) / (w p)` windows from
/// the probe's per-window costs `p` (prefix) and `s` (sequential part), `batch / w` when they
/// were not measured.
fn main_share(par: &Parallelism) -> u64 {
    let w = par.workers.max(1) as u64;
    let seq: u64 = par
        .stages
        .iter()
        .filter(|s| s.sequential)
        .map(|s| s.nanos)
        .sum();
    let pre: u64 = par
        .stages
        .iter()
        .filter(|s| !s.sequential)
        .map(|s| s.nanos)
        .sum();
    if pre == 0 {
        return par.batch / w;
    }
    let num = u128::from(pre).saturating_sub(u128::from(w - 1) * u128::from(seq));
    u64::try_from(u128::from(par.batch) * num / (u128::from(w) * u128::from(pre)))
        .unwrap_or(par.batch)
        .min(par.batch)
}

/// Ends computing ahead: abandons the jobs in flight and drops what was not taken.
pub(crate) fn stop<G: Graph>(core: &mut Core<G>) {
    if let Some(mut pf) = core.workers.active.take() {
        crate::exec::schedule::abandon(core, &mut pf);
    }
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

    /// Computes each batch in one go (the calling thread's chunk, then a wait for the pool's)
    /// before consuming it, instead of pipelining batches (`false`, the default; see
    /// [`crate::exec::parallel`]). For measurements side by side; outputs are the same.
    #[doc(hidden)]
    pub fn set_synchronous_batches(&mut self, synchronous: bool) {
        self.core.workers.synchronous = synchronous;
    }

    /// Where parallel evaluation spent its time, summed over this pipeline's evaluations
    /// (all zero while every evaluation ran on one worker). For benches and reports.
    #[must_use]
    pub fn worker_stats(&self) -> WorkerStats {
        self.core.workers.stats.clone()
    }
}
