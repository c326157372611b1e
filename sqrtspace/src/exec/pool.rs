//! The worker threads of parallel evaluation ([`crate::exec::parallel`]): a chunk's inputs
//! ([`View`]), computing a chunk ahead on any thread, the pool threads that serve owned jobs,
//! and [`run_batch`], which splits a batch of windows into chunks, hands them out and collects
//! the results in order.

use crate::config::Config;
use crate::graph::frames::KeyCut;
use crate::graph::workers::{
    thread_cpu_ns, Chunk, Erased, Failure, Job, Pool, PoolThread, Prefetch, SPARE_BUFFERS,
};
use crate::graph::{Core, Exec, Frames, Graph};
use crate::metrics::Counters;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::Instant;

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
pub(crate) struct View<'a, G: Graph> {
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

impl<'a, G: Graph> View<'a, G> {
    /// The inputs of a chunk computed on the calling thread.
    pub(crate) fn local(
        frames: Frames<'a, G::Sample>,
        core: &'a Core<G>,
        lru: usize,
        stages: &'a [(usize, Erased<G>)],
        limit: &'a [u64],
        failed: &'a AtomicU64,
    ) -> Self {
        View {
            frames,
            params: &core.params,
            config: &core.config,
            reused: &core.reused,
            lru,
            k: core.k,
            stages,
            limit,
            failed,
        }
    }
}

/// A job for a pool thread: the chunk `range` of `stages` with its own copy of the samples it
/// reads (from `span` windows before it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn job<G: Graph>(
    core: &mut Core<G>,
    frames: &Frames<'_, G::Sample>,
    span: u64,
    lru: usize,
    stages: &Arc<[(usize, Erased<G>)]>,
    limit: &Arc<[u64]>,
    range: Range<u64>,
    failed: &Arc<AtomicU64>,
) -> Job<G> {
    let mut samples = core.workers.spare.pop().unwrap_or_default();
    let (first, keys, first_window) = region(frames, &range, span, &mut samples);
    Job::<G> {
        samples,
        first,
        keys,
        key_origin: frames.keys.map_or(0, |k| k.origin),
        first_window,
        windows: frames.windows,
        params: Arc::clone(&core.params),
        config: core.config.clone(),
        reused: core.reused.clone(),
        lru,
        k: core.k,
        stages: Arc::clone(stages),
        limit: Arc::clone(limit),
        range,
        failed: Arc::clone(failed),
        sent: Instant::now(),
    }
}

pub(crate) fn work<G: Graph>(job: &View<'_, G>, range: Range<u64>) -> Chunk<G::Sample> {
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
        buffer: Vec::new(),
        counters,
        live_high_water: high,
        busy_ns: 0,
        cpu_ns: 0,
        runqueue_ns: 0,
        wake_ns: 0,
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The body of a pool thread: runs the jobs it receives until the pool is dropped.
fn serve<G: Graph>(jobs: &Receiver<Job<G>>, results: &SyncSender<Chunk<G::Sample>>) {
    let mut free_since = Instant::now();
    while let Ok(job) = jobs.recv() {
        let start = Instant::now();
        let cpu0 = thread_cpu_ns();
        let mut frames = Frames::count(
            &job.samples[..],
            job.first,
            job.windows,
            job.config.window,
            job.config.hop,
        );
        frames.keys = job.config.key_windows.map(|windows| KeyCut {
            keys: &job.keys[..],
            windows,
            origin: job.key_origin,
            first_window: job.first_window,
        });
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
        let mut chunk = work::<G>(&view, job.range.clone());
        let end = Instant::now();
        chunk.busy_ns = nanos(end - start);
        chunk.wake_ns = nanos(start.saturating_duration_since(job.sent.max(free_since)));
        if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
            chunk.cpu_ns = b.0.saturating_sub(a.0);
            chunk.runqueue_ns = b.1.saturating_sub(a.1);
        }
        free_since = end;
        chunk.buffer = job.samples;
        if results.send(chunk).is_err() {
            return;
        }
    }
}

/// A pool of `n` threads (named `sqrtspace-worker-1..=n`), each with job and result channels
/// of capacity 2: with at most 2 jobs handed to a thread and not collected, neither side ever
/// blocks on a send.
pub(crate) fn pool<G: Graph>(n: usize) -> Pool<G> {
    let threads = (1..=n)
        .filter_map(|j| {
            let (job_tx, job_rx) = sync_channel::<Job<G>>(2);
            let (res_tx, res_rx) = sync_channel::<Chunk<G::Sample>>(2);
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

pub(crate) fn merge(into: &mut Counters, from: &Counters) {
    for (a, b) in into.stages.iter_mut().zip(&from.stages) {
        a.evaluations += b.evaluations;
        a.cache_hits += b.cache_hits;
        a.recomputes += b.recomputes;
        a.computed_to = a.computed_to.max(b.computed_to);
    }
}

/// The stages computed ahead from window `t0` on, with their entry points (registered when
/// the engine first evaluated them).
pub(crate) fn ahead_stages<G: Graph>(
    core: &Core<G>,
    pf: &Prefetch,
    t0: u64,
) -> Vec<(usize, Erased<G>)> {
    G::TOPO
        .iter()
        .filter(|&&i| pf.boundary[i] && t0 < pf.limit[i])
        .filter_map(|&i| core.workers.erased[i].map(|f| (i, f)))
        .collect()
}

/// Makes sure the pipeline has at least `helpers` pool threads (only called with no job in
/// flight: a replaced pool's threads are joined).
pub(crate) fn ensure_pool<G: Graph>(core: &mut Core<G>, helpers: usize) {
    if core
        .workers
        .pool
        .as_ref()
        .is_none_or(|p| p.threads.len() < helpers)
    {
        core.workers.pool = Some(pool::<G>(helpers));
    }
}

/// Puts a collected chunk's outputs into the prefetch store and its counters and timings into
/// the core; returns the chunk's high-water mark of live bytes.
pub(crate) fn absorb<G: Graph>(
    core: &mut Core<G>,
    pf: &mut Prefetch,
    c: Chunk<G::Sample>,
) -> usize {
    merge(&mut core.counters, &c.counters);
    if c.buffer.capacity() > 0 && core.workers.spare.len() < SPARE_BUFFERS {
        core.workers.spare.push(c.buffer);
    }
    let st = &mut core.workers.stats;
    st.pool_busy_ns += c.busy_ns;
    st.pool_cpu_ns += c.cpu_ns;
    st.pool_runqueue_ns += c.runqueue_ns;
    st.wake_ns += c.wake_ns;
    for (i, t, r) in c.results {
        if let Ok((_, b)) = &r {
            pf.bytes += b;
        }
        pf.store.insert((i, t), r);
    }
    c.live_high_water
}

/// Computes the boundary stages over `[t0, t0 + batch)` (within their limits), in one go:
/// the first chunk on the calling thread, the others on the pool's threads (each handed a
/// copy of the samples its chunk reads), into the prefetch store. Classic mode's path (it
/// keeps every batch); the other modes pipeline ([`crate::exec::schedule`]).
pub(crate) fn run_batch<G: Graph>(ex: &mut Exec<'_, G>, t0: u64) {
    let Some(mut pf) = ex.core.workers.active.take() else {
        return;
    };
    run_batch_with(ex, &mut pf, t0);
    ex.core.workers.active = Some(pf);
}

fn run_batch_with<G: Graph>(ex: &mut Exec<'_, G>, pf: &mut Prefetch, t0: u64) {
    let core = &mut *ex.core;
    let stages = ahead_stages(core, pf, t0);
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
    core.workers.stats.batches += 1;
    let n = end - t0;
    let w = (pf.workers as u64).min(n).max(1);
    let chunks: Vec<Range<u64>> = (0..w)
        .map(|j| t0 + n * j / w..t0 + n * (j + 1) / w)
        .collect();
    ensure_pool(core, chunks.len() - 1);
    let failed = Arc::new(AtomicU64::new(u64::MAX));
    let stages: Arc<[(usize, Erased<G>)]> = stages.into();
    let limit: Arc<[u64]> = pf.limit.clone().into();
    let frames = ex.frames;
    let (w, h) = core.config.overlap();
    let span = crate::graph::span::<G>(w, h);
    // Hand the other chunks to the pool (what a thread cannot take is computed here).
    let dispatch = Instant::now();
    let mut local = vec![chunks[0].clone()];
    let mut sent = Vec::new();
    let threads = core.workers.pool.as_ref().map_or(0, |p| p.threads.len());
    for (j, r) in chunks[1..].iter().enumerate() {
        let handed = j < threads && {
            let job = job(
                core,
                &frames,
                span,
                pf.worker_lru,
                &stages,
                &limit,
                r.clone(),
                &failed,
            );
            let copied = job.samples.len() as u64;
            let ok = core.workers.pool.as_ref().is_some_and(|p| {
                p.threads[j]
                    .jobs
                    .as_ref()
                    .is_some_and(|tx| tx.send(job).is_ok())
            });
            if ok {
                let st = &mut core.workers.stats;
                st.samples_copied += copied;
                st.jobs += 1;
                st.pool_windows += r.end - r.start;
            }
            ok
        };
        if handed {
            sent.push((r.clone(), j));
        } else {
            local.push(r.clone());
        }
    }
    core.workers.stats.dispatch_ns += nanos(dispatch.elapsed());
    core.workers.stats.main_windows += local.iter().map(|r| r.end - r.start).sum::<u64>();
    let cpu0 = thread_cpu_ns();
    let mut done: Vec<Chunk<G::Sample>> = {
        let view = View::local(frames, core, pf.worker_lru, &stages, &limit, &failed);
        local.into_iter().map(|r| work::<G>(&view, r)).collect()
    };
    if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
        core.workers.stats.main_ahead_cpu_ns += b.0.saturating_sub(a.0);
    }
    let waiting = Instant::now();
    for (r, j) in sent {
        let got = core
            .workers
            .pool
            .as_ref()
            .and_then(|p| p.threads[j].results.recv().ok());
        // A thread that died (it cannot: stage panics are caught) is replaced by local work.
        done.push(got.unwrap_or_else(|| {
            let view = View::local(frames, core, pf.worker_lru, &stages, &limit, &failed);
            work::<G>(&view, r)
        }));
    }
    core.workers.stats.wait_ns += nanos(waiting.elapsed());
    let mut workers_high = 0;
    for c in done {
        workers_high += absorb(core, pf, c);
    }
    core.note_live_plus(workers_high + pf.bytes);
}

/// Copies into `out` (cleared first) the samples that windows `r` of the boundary stages can
/// read: from `span` windows before `r` (the longest lookback chain is shorter) to the end of
/// its last frame, within what `frames` holds. Returns the first absolute sample of the copy,
/// the keys of the copied samples (key windows; empty for the count framing), and the oldest
/// window the copy holds whole.
pub(crate) fn region<T: Copy>(
    frames: &Frames<'_, T>,
    r: &Range<u64>,
    span: u64,
    out: &mut Vec<T>,
) -> (u64, Arc<[i64]>, u64) {
    let lo = r.start.saturating_sub(span);
    let (from, to) = frames.covering(lo, r.end);
    let (a, b) = (
        usize::try_from(from - frames.first).unwrap_or(0),
        usize::try_from(to - frames.first).unwrap_or(0),
    );
    out.clear();
    out.extend_from_slice(&frames.samples[a..b.max(a)]);
    let keys: Arc<[i64]> = frames
        .keys
        .map_or(Arc::from(Vec::new()), |k| k.keys[a..b.max(a)].into());
    let first_window = frames.keys.map_or(0, |k| lo.max(k.first_window));
    (from, keys, first_window)
}
