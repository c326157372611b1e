//! The data of parallel evaluation that lives in the engine state ([`Core`]): the type-erased
//! entry point of each stage (registered the first time the engine evaluates it), the outputs
//! computed ahead by worker threads for the running evaluation, and the probe's per-stage
//! timings. The executor that fills them is [`crate::exec::parallel`].

use crate::cache::{Lru, Ring};
use crate::config::Config;
use crate::error::Error;
use crate::graph::context::{Core, Exec};
use crate::graph::traits::Graph;
use crate::metrics::Counters;
use std::any::Any;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

/// An output computed on a worker, with its byte size.
pub(crate) type Boxed = (Box<dyn Any + Send>, usize);

/// A stage's output at a window, computed into a box (moved when the worker's LRU does not
/// hold it, cloned otherwise).
pub(crate) type Erased<G> = for<'a, 'b> fn(&'a mut Exec<'b, G>, u64) -> Result<Boxed, Error>;

/// Why a window computed ahead has no output.
pub(crate) enum Failure {
    /// A stage (or frame access) returned an error.
    Error(Error),
    /// A stage panicked; the payload is re-raised when the window is taken.
    Panic(Box<dyn Any + Send>),
}

/// What was computed ahead for one stage and window.
pub(crate) type Ahead = Result<Boxed, Failure>;

/// Outputs computed ahead for the running evaluation.
pub(crate) struct Prefetch {
    /// Threads per batch (the calling thread included).
    pub(crate) workers: usize,
    /// Windows per batch.
    pub(crate) batch: u64,
    /// Per stage: computed ahead (a stage of the pure prefix whose output the sequential part
    /// or the caller reads).
    pub(crate) boundary: Vec<bool>,
    /// Per stage: windows at or past this one are never computed ahead (the evaluation does
    /// not need them).
    pub(crate) limit: Vec<u64>,
    /// Keep every batch until the evaluation ends (classic mode fills columns stage by stage
    /// from them); otherwise a batch replaces the previous one.
    pub(crate) keep: bool,
    /// LRU budget of each worker's own engine state.
    pub(crate) worker_lru: usize,
    /// Windows the batches so far covered (the last batch unless `keep`).
    pub(crate) filled: Range<u64>,
    pub(crate) store: HashMap<(usize, u64), Ahead>,
    /// Bytes of the outputs in `store`.
    pub(crate) bytes: usize,
    /// Batches run.
    pub(crate) batches: u64,
}

impl Prefetch {
    /// A prefetch that computes stages `boundary` ahead below `limit`.
    pub(crate) fn new(
        workers: usize,
        batch: u64,
        boundary: Vec<bool>,
        limit: Vec<u64>,
        keep: bool,
        worker_lru: usize,
    ) -> Self {
        Prefetch {
            workers,
            batch: batch.max(1),
            boundary,
            limit,
            keep,
            worker_lru,
            filled: 0..0,
            store: HashMap::new(),
            bytes: 0,
            batches: 0,
        }
    }
}

/// Self time per stage during a timed probe: each stage's compute time less the time spent in
/// the computes it called (its inputs).
#[derive(Debug, Default)]
pub(crate) struct Timing {
    pub(crate) self_ns: Vec<u64>,
    pub(crate) calls: Vec<u64>,
    /// Time of nested computes, one accumulator per compute in progress.
    pub(crate) stack: Vec<u64>,
}

/// Parallel-evaluation data in [`Core`].
pub(crate) struct Workers<G: Graph> {
    /// Per stage: its type-erased entry point, once the engine has evaluated it.
    pub(crate) erased: Vec<Option<Erased<G>>>,
    /// The outputs computed ahead for the running evaluation (`None` with one worker).
    pub(crate) active: Option<Prefetch>,
    /// Set during a timed probe.
    pub(crate) timing: Option<Timing>,
    /// Nanoseconds per evaluation of each stage, measured by the last timed probe.
    pub(crate) costs: Option<Vec<u64>>,
    /// Workers and batch set by `Pipeline::force_workers`, bypassing the planner's choice.
    pub(crate) forced: Option<(usize, u64)>,
    /// The pool threads, started at the first batch and kept while the pipeline lives (so
    /// that stages' thread-local caches, such as FFT plans, persist).
    pub(crate) pool: Option<Pool<G>>,
    /// The most threads any evaluation of this pipeline has used (1 until one ran in parallel).
    pub(crate) most_used: usize,
}

/// One chunk of a batch handed to a pool thread: everything owned (`'static`).
pub(crate) struct Job<G: Graph> {
    /// A copy of the samples the chunk reads, starting at absolute sample `first`.
    pub(crate) samples: Arc<[G::Sample]>,
    pub(crate) first: u64,
    /// With key windows: the keys of `samples`, the origin, and the oldest window whose
    /// samples are all in `samples` (empty, 0, 0 for the count framing).
    pub(crate) keys: Arc<[i64]>,
    pub(crate) key_origin: i128,
    pub(crate) first_window: u64,
    /// Complete windows in the stream (as the calling thread's frames say).
    pub(crate) windows: u64,
    pub(crate) params: Arc<G::Params>,
    pub(crate) config: Config,
    pub(crate) reused: Vec<bool>,
    pub(crate) lru: usize,
    pub(crate) k: u64,
    pub(crate) stages: Arc<[(usize, Erased<G>)]>,
    pub(crate) limit: Arc<[u64]>,
    pub(crate) range: Range<u64>,
    /// The lowest window where a stage failed, shared by the chunks of a batch.
    pub(crate) failed: Arc<std::sync::atomic::AtomicU64>,
}

/// What one chunk of a batch returns.
pub(crate) struct Chunk {
    pub(crate) results: Vec<(usize, u64, Ahead)>,
    pub(crate) counters: Counters,
    pub(crate) live_high_water: usize,
}

/// One pool thread: its job and result channels (capacity 1 each) and its handle.
pub(crate) struct PoolThread<G: Graph> {
    pub(crate) jobs: Option<std::sync::mpsc::SyncSender<Job<G>>>,
    pub(crate) results: std::sync::mpsc::Receiver<Chunk>,
    pub(crate) handle: Option<std::thread::JoinHandle<()>>,
}

impl<G: Graph> Drop for PoolThread<G> {
    fn drop(&mut self) {
        // Closing the job channel ends the thread's loop.
        drop(self.jobs.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Threads that compute chunks of batches.
pub(crate) struct Pool<G: Graph> {
    pub(crate) threads: Vec<PoolThread<G>>,
}

impl<G: Graph> Default for Workers<G> {
    fn default() -> Self {
        Workers {
            erased: vec![None; G::STAGES.len()],
            active: None,
            timing: None,
            costs: None,
            forced: None,
            pool: None,
            most_used: 1,
        }
    }
}

impl<G: Graph> Workers<G> {
    /// Bytes of the outputs computed ahead and not yet taken.
    pub(crate) fn ahead_bytes(&self) -> usize {
        self.active.as_ref().map_or(0, |p| p.bytes)
    }
}

/// Runs `f` (one stage's compute at `idx`) and charges its self time when a timed probe runs.
#[inline]
pub(crate) fn timed<G: Graph, R>(
    ex: &mut Exec<'_, G>,
    idx: usize,
    f: impl FnOnce(&mut Exec<'_, G>) -> R,
) -> R {
    if ex.core.workers.timing.is_none() {
        return f(ex);
    }
    if let Some(t) = ex.core.workers.timing.as_mut() {
        t.stack.push(0);
    }
    let start = Instant::now();
    let r = f(ex);
    let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    if let Some(t) = ex.core.workers.timing.as_mut() {
        let nested = t.stack.pop().unwrap_or(0);
        if let Some(parent) = t.stack.last_mut() {
            *parent += elapsed;
        }
        if let (Some(s), Some(c)) = (t.self_ns.get_mut(idx), t.calls.get_mut(idx)) {
            *s += elapsed.saturating_sub(nested);
            *c += 1;
        }
    }
    r
}

impl<G: Graph> Core<G> {
    /// A worker's own engine state: empty caches, an LRU of `lru` bytes, no checkpoints (it
    /// computes pure stages only), the pipeline's parameters and configuration.
    pub(crate) fn worker(
        params: Arc<G::Params>,
        config: Config,
        reused: Vec<bool>,
        lru: usize,
        k: u64,
    ) -> Self {
        Core {
            slots: G::Slots::default(),
            lru: Lru::new(lru),
            ring: Ring::new(0),
            output_ring: Ring::new(0),
            save_output: vec![false; G::STAGES.len()],
            params,
            config,
            k,
            counters: Counters::new(G::STAGES),
            classic: false,
            column_bytes: 0,
            inflight_bytes: 0,
            pool_bytes: 0,
            reused,
            pins_dirty: false,
            cursors: vec![0; G::STAGES.len()],
            workers: Workers::default(),
        }
    }
}
