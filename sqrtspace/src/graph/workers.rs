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
use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::atomic::AtomicU64;
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
    /// Pipelined scheduling (every mode but classic): the batch the calling thread consumes
    /// now, the next one (its pool part already handed out), and the jobs in flight.
    pub(crate) sched: Sched,
}

/// One batch of a pipelined evaluation: the calling thread computes `[range.start,
/// main_end)` itself when it gets there, the pool threads the rest.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) range: Range<u64>,
    pub(crate) main_end: u64,
}

/// A job handed to pool thread `thread` and not yet collected.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) range: Range<u64>,
    pub(crate) thread: usize,
}

/// The state of pipelined scheduling ([`crate::exec::schedule`]).
#[derive(Debug)]
pub(crate) struct Sched {
    /// The batch being consumed.
    pub(crate) cur: Option<Planned>,
    /// The batch after it, its pool part already handed out.
    pub(crate) next: Option<Planned>,
    /// Jobs handed out, in the order they were handed out.
    pub(crate) pending: VecDeque<Pending>,
    /// The calling thread's share of a batch: windows it computes itself, at its start.
    pub(crate) main_share: u64,
    /// Lowest window where a pool job failed (`u64::MAX` if none); 0 aborts the jobs.
    pub(crate) failed: Arc<AtomicU64>,
    /// When the current batch started (wall clock, and the calling thread's CPU time if the
    /// OS reports it), and the calling thread's wait for results in it.
    pub(crate) cur_started: Option<Instant>,
    pub(crate) cur_cpu0: Option<u64>,
    pub(crate) cur_wait_ns: u64,
    /// Pool compute time (CPU time where the OS reports it, else wall time) and windows of
    /// the current batch's jobs collected so far.
    pub(crate) cur_pool_ns: u64,
    pub(crate) cur_pool_windows: u64,
    /// Pool threads used (`workers - 1` unless some could not start).
    pub(crate) threads: usize,
}

impl Sched {
    fn new(main_share: u64) -> Self {
        Sched {
            cur: None,
            next: None,
            pending: VecDeque::new(),
            main_share,
            failed: Arc::new(AtomicU64::new(u64::MAX)),
            cur_started: None,
            cur_cpu0: None,
            cur_wait_ns: 0,
            cur_pool_ns: 0,
            cur_pool_windows: 0,
            threads: 0,
        }
    }
}

/// Instrumentation of parallel evaluation, summed over a pipeline's evaluations: where the
/// calling thread and the pool threads spent their time. Load-independent figures come from
/// the kernel's per-thread accounting (`/proc/thread-self/schedstat` on Linux; zero elsewhere).
/// Plain data, for benches and reports ([`crate::Pipeline::worker_stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WorkerStats {
    /// Batches planned.
    pub batches: u64,
    /// Jobs handed to pool threads.
    pub jobs: u64,
    /// Jobs abandoned (the evaluation stopped or jumped before their windows).
    pub aborted_jobs: u64,
    /// Windows of boundary stages scheduled on the calling thread / on pool threads.
    pub main_windows: u64,
    /// Windows scheduled on pool threads.
    pub pool_windows: u64,
    /// Samples copied into jobs (each job gets the samples its windows read).
    pub samples_copied: u64,
    /// Nanoseconds the calling thread spent preparing and handing out jobs (copies included).
    pub dispatch_ns: u64,
    /// CPU nanoseconds the calling thread spent computing its chunks of batches computed in
    /// one go (with pipelining it computes its share inline, counted in its own CPU time).
    pub main_ahead_cpu_ns: u64,
    /// Nanoseconds the calling thread waited for a pool thread's results.
    pub wait_ns: u64,
    /// Nanoseconds pool threads spent computing jobs (wall time inside the job).
    pub pool_busy_ns: u64,
    /// CPU nanoseconds pool threads spent computing jobs (kernel accounting).
    pub pool_cpu_ns: u64,
    /// Nanoseconds pool threads were runnable inside jobs but not running (other processes
    /// held the cores: the load's share of `pool_busy_ns`).
    pub pool_runqueue_ns: u64,
    /// Nanoseconds from handing a job to an idle pool thread until it started (wake-up
    /// latency; a job queued behind another counts from when the thread got free).
    pub wake_ns: u64,
}

/// The calling thread's CPU time and run-queue wait so far, in nanoseconds: CPU time from
/// `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (exact), the time runnable but not running from
/// `/proc/thread-self/schedstat` (Linux; updated by the kernel at scheduler ticks and
/// switches, so a few milliseconds stale; 0 where absent); `None` where the OS reports no
/// thread CPU time.
#[must_use]
pub fn thread_cpu_ns() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use nix::time::{clock_gettime, ClockId};
        let ts = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
        let cpu =
            u64::try_from(ts.tv_sec()).ok()? * 1_000_000_000 + u64::try_from(ts.tv_nsec()).ok()?;
        let runqueue = std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0);
        Some((cpu, runqueue))
    }
    #[cfg(not(unix))]
    {
        None
    }
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
            sched: Sched::new(0),
        }
    }

    /// `self` scheduling the calling thread's share as `main_share` windows of each batch.
    pub(crate) fn with_main_share(mut self, main_share: u64) -> Self {
        self.sched.main_share = main_share.min(self.batch);
        self
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

/// Most job sample buffers kept for reuse: enough for two jobs in flight on each of 16 pool
/// threads.
pub(crate) const SPARE_BUFFERS: usize = 32;

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
    /// Instrumentation, summed over evaluations.
    pub(crate) stats: WorkerStats,
    /// Sample buffers of finished jobs, reused for the next jobs (at most [`SPARE_BUFFERS`]).
    pub(crate) spare: Vec<Vec<G::Sample>>,
    /// Batches computed in one go before the calling thread consumes them (the schedule
    /// before pipelining; for side-by-side measurements).
    pub(crate) synchronous: bool,
}

/// One chunk of a batch handed to a pool thread: everything owned (`'static`).
pub(crate) struct Job<G: Graph> {
    /// A copy of the samples the chunk reads, starting at absolute sample `first` (in a
    /// buffer recycled from earlier jobs, so that copying does not fault in fresh pages).
    pub(crate) samples: Vec<G::Sample>,
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
    /// When it was handed out.
    pub(crate) sent: Instant,
}

/// What one chunk of a batch returns.
pub(crate) struct Chunk<T> {
    pub(crate) results: Vec<(usize, u64, Ahead)>,
    /// The job's sample buffer, handed back for the next job (empty for chunks computed on
    /// the calling thread).
    pub(crate) buffer: Vec<T>,
    pub(crate) counters: Counters,
    pub(crate) live_high_water: usize,
    /// Wall, CPU and run-queue nanoseconds of the job, and its wake-up latency (zero for
    /// chunks computed on the calling thread).
    pub(crate) busy_ns: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) runqueue_ns: u64,
    pub(crate) wake_ns: u64,
}

/// One pool thread: its job and result channels (capacity 1 each) and its handle.
pub(crate) struct PoolThread<G: Graph> {
    pub(crate) jobs: Option<std::sync::mpsc::SyncSender<Job<G>>>,
    pub(crate) results: std::sync::mpsc::Receiver<Chunk<G::Sample>>,
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
            stats: WorkerStats::default(),
            spare: Vec::new(),
            synchronous: false,
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
