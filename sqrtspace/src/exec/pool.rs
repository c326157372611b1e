//! The worker threads of parallel evaluation ([`crate::exec::parallel`]): a chunk's inputs
//! ([`View`]), computing a chunk ahead on any thread, the pool threads that serve owned jobs,
//! and [`run_batch`], which splits a batch of windows into chunks, hands them out and collects
//! the results in order.

use crate::config::Config;
use crate::graph::frames::KeyCut;
use crate::graph::workers::{Chunk, Erased, Failure, Job, Pool, PoolThread};
use crate::graph::{Core, Exec, Frames, Graph};
use crate::metrics::Counters;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

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
pub(crate) fn run_batch<G: Graph>(ex: &mut Exec<'_, G>, t0: u64) {
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
    let (w, h) = core.config.overlap();
    let span = crate::graph::span::<G>(w, h);
    // Hand the other chunks to the pool (what a thread cannot take is computed here).
    let mut local = vec![chunks[0].clone()];
    let mut sent = Vec::new();
    if let Some(pool) = core.workers.pool.as_ref() {
        for (r, th) in chunks[1..].iter().zip(&pool.threads) {
            let (first, samples, keys, first_window) = region(&frames, r, span);
            let job = Job::<G> {
                samples,
                first,
                keys,
                key_origin: frames.keys.map_or(0, |k| k.origin),
                first_window,
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

/// A copy of the samples (and keys, for key windows) that windows `r` of the boundary stages
/// can read: from `span` windows before `r` (the longest lookback chain is shorter) to the end
/// of its last frame, within what `frames` holds. Returns the first absolute sample of the
/// copy, the samples, the keys, and the oldest window the copy holds whole.
#[allow(clippy::type_complexity)]
fn region<T: Copy>(
    frames: &Frames<'_, T>,
    r: &Range<u64>,
    span: u64,
) -> (u64, Arc<[T]>, Arc<[i64]>, u64) {
    let lo = r.start.saturating_sub(span);
    let (from, to) = frames.covering(lo, r.end);
    let (a, b) = (
        usize::try_from(from - frames.first).unwrap_or(0),
        usize::try_from(to - frames.first).unwrap_or(0),
    );
    let keys: Arc<[i64]> = frames
        .keys
        .map_or(Arc::from(Vec::new()), |k| k.keys[a..b].into());
    let first_window = frames.keys.map_or(0, |k| lo.max(k.first_window));
    (from, frames.samples[a..b].into(), keys, first_window)
}
