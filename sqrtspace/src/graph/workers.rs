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
}

impl<G: Graph> Default for Workers<G> {
    fn default() -> Self {
        Workers {
            erased: vec![None; G::STAGES.len()],
            active: None,
            timing: None,
            costs: None,
            forced: None,
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
            reused,
            pins_dirty: false,
            cursors: vec![0; G::STAGES.len()],
            workers: Workers::default(),
        }
    }
}
