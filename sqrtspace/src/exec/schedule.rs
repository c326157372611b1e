//! Pipelined scheduling of parallel evaluation (every mode but classic): the pool threads
//! compute batch `n + 1` while the calling thread consumes batch `n`.
//!
//! A batch `[t0, t0 + batch)` is split in two: the calling thread's share `[t0, t0 + m)`,
//! which it computes itself, on demand, through the ordinary sequential path (no copy, no
//! box, its own LRU), and the pool's part `[t0 + m, t0 + batch)`, split into one chunk per
//! pool thread and handed out one batch ahead: when the calling thread starts consuming batch
//! `n`, the pool part of batch `n + 1` is handed out, so the pool threads go on to it as soon
//! as they finish batch `n`'s, while the calling thread computes its share of batch `n` and
//! runs the sequential part over the whole batch. Nothing waits if both finish together:
//! with per-window costs `p` (prefix) and `s` (sequential), that is
//! `m p + batch s = (batch - m) p / (w - 1)`, so `m = batch (p - (w - 1) s) / (w p)`
//! (never below 0: with a heavy sequential part the calling thread computes no prefix at all).
//! The share starts from the probe's costs (or `batch / w` when nothing was measured) and
//! is corrected after every batch from the measured times: the pool's CPU time per window
//! and the calling thread's CPU time over the batch (the kernel's per-thread accounting;
//! wall times less waits where the OS has none), so that the balance follows the work, not
//! other processes' load.
//!
//! Each pool thread has at most two jobs in flight (one per batch, the current and the
//! next), and its job and result channels hold two, so neither side ever blocks on a send:
//! the calling thread only blocks receiving a result it needs, which the thread computes
//! without waiting for anything. A jump (a replay from a checkpoint, the first window)
//! abandons the jobs in flight (they stop at their next window) and starts again there.

use crate::exec::pool::{absorb, ahead_stages, ensure_pool, job};
use crate::graph::workers::{thread_cpu_ns, Erased, Pending, Planned, Prefetch};
use crate::graph::{Core, Exec, Graph};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Makes the outputs of boundary stages at window `t` available in the prefetch store if the
/// pool computes them: collects the jobs up to `t`, advancing to the next batch or starting
/// again at `t` as needed. Leaves the store without `t` when the calling thread computes it
/// (its share of the batch, a lookback just before the batch, or a chunk no thread took).
pub(crate) fn locate<G: Graph>(ex: &mut Exec<'_, G>, t: u64) {
    let Some(mut pf) = ex.core.workers.active.take() else {
        return;
    };
    locate_in(ex, &mut pf, t);
    ex.core.workers.active = Some(pf);
}

fn locate_in<G: Graph>(ex: &mut Exec<'_, G>, pf: &mut Prefetch, t: u64) {
    for _ in 0..3 {
        if let Some(cur) = pf.sched.cur.clone() {
            if cur.range.contains(&t) {
                if t >= cur.main_end {
                    collect(ex.core, pf, t);
                }
                return;
            }
            if t < cur.range.start && t + pf.batch > cur.range.start {
                return;
            }
            if pf.sched.next.as_ref().is_some_and(|n| n.range.contains(&t)) {
                advance(ex, pf);
                continue;
            }
        }
        restart(ex, pf, t);
    }
}

/// The end of the windows any boundary stage is computed ahead for.
fn end_limit(pf: &Prefetch) -> u64 {
    pf.boundary
        .iter()
        .zip(&pf.limit)
        .filter(|(b, _)| **b)
        .map(|(_, &l)| l)
        .max()
        .unwrap_or(0)
}

/// Abandons the jobs in flight: they stop at their next window; their results are received
/// and dropped, so the channels are empty afterwards.
pub(crate) fn abandon<G: Graph>(core: &mut Core<G>, pf: &mut Prefetch) {
    if pf.sched.pending.is_empty() {
        return;
    }
    pf.sched.failed.store(0, Ordering::Relaxed);
    while let Some(j) = pf.sched.pending.pop_front() {
        let _ = core
            .workers
            .pool
            .as_ref()
            .and_then(|p| p.threads.get(j.thread))
            .and_then(|th| th.results.recv().ok());
        core.workers.stats.aborted_jobs += 1;
    }
    pf.sched.failed = Arc::new(AtomicU64::new(u64::MAX));
}

/// Starts the schedule again at `t`: drops what was computed ahead, plans the batch at `t`
/// and the next one, and hands out both pool parts.
fn restart<G: Graph>(ex: &mut Exec<'_, G>, pf: &mut Prefetch, t: u64) {
    abandon(ex.core, pf);
    pf.store.clear();
    pf.bytes = 0;
    let end = end_limit(pf);
    if t >= end {
        pf.sched.cur = None;
        pf.sched.next = None;
        return;
    }
    ensure_pool(ex.core, pf.workers.saturating_sub(1));
    pf.sched.threads = ex
        .core
        .workers
        .pool
        .as_ref()
        .map_or(0, |p| p.threads.len().min(pf.workers.saturating_sub(1)));
    let cur = plan(ex.core, pf, t, end);
    dispatch(ex, pf, &cur);
    pf.sched.cur = Some(cur.clone());
    pf.sched.next = (cur.range.end < end).then(|| {
        let next = plan(ex.core, pf, cur.range.end, end);
        dispatch(ex, pf, &next);
        next
    });
    start_batch(pf);
}

fn start_batch(pf: &mut Prefetch) {
    let s = &mut pf.sched;
    s.cur_started = Some(Instant::now());
    s.cur_cpu0 = thread_cpu_ns().map(|c| c.0);
    s.cur_wait_ns = 0;
    s.cur_pool_ns = 0;
    s.cur_pool_windows = 0;
}

/// Moves on to the next batch (the current one is consumed): corrects the calling thread's
/// share from the current batch's times, drops its leftovers, and hands out the batch after.
fn advance<G: Graph>(ex: &mut Exec<'_, G>, pf: &mut Prefetch) {
    let Some(next) = pf.sched.next.take() else {
        return;
    };
    // Jobs of the finished batch not collected (windows skipped): collect them now, so that
    // at most two jobs per thread are ever in flight.
    if let Some(front) = next.range.start.checked_sub(1) {
        collect(ex.core, pf, front);
    }
    adapt(pf);
    let from = next.range.start;
    let mut freed = 0;
    pf.store.retain(|&(_, w), r| {
        let keep = w >= from;
        if !keep {
            if let Ok((_, b)) = r {
                freed += *b;
            }
        }
        keep
    });
    pf.bytes = pf.bytes.saturating_sub(freed);
    let end = end_limit(pf);
    pf.sched.cur = Some(next.clone());
    pf.sched.next = (next.range.end < end).then(|| {
        let after = plan(ex.core, pf, next.range.end, end);
        dispatch(ex, pf, &after);
        after
    });
    start_batch(pf);
}

/// The calling thread's share that makes it finish the batch when the pool does, from the
/// batch just consumed: `m = (batch p - threads s) / ((threads + 1) p)` with `p` the pool's
/// nanoseconds per window and `s` the calling thread's busy time less its share's prefix
/// (`m_old p`); halfway from the old share to that, to damp noise.
fn adapt(pf: &mut Prefetch) {
    let s = &pf.sched;
    let (Some(cur), Some(started)) = (s.cur.as_ref(), s.cur_started) else {
        return;
    };
    if s.cur_pool_windows == 0 || s.threads == 0 {
        return;
    }
    let threads = s.threads as u64;
    let p = (s.cur_pool_ns / s.cur_pool_windows).max(1);
    let b = cur.range.end - cur.range.start;
    let m_old = cur.main_end - cur.range.start;
    // CPU time where the OS reports it: the balance then does not move with other
    // processes' load.
    let busy = match (s.cur_cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) => b.0.saturating_sub(a),
        _ => nanos(started.elapsed()).saturating_sub(s.cur_wait_ns),
    };
    let seq = busy.saturating_sub(m_old * p);
    let target = (u128::from(b) * u128::from(p))
        .saturating_sub(u128::from(threads) * u128::from(seq))
        / (u128::from(threads + 1) * u128::from(p));
    let target = u64::try_from(target).unwrap_or(b).min(pf.batch);
    pf.sched.main_share = (pf.sched.main_share + target).div_ceil(2).min(pf.batch);
}

/// The batch at `start`: at most `batch` windows before `end`, the calling thread's share
/// first (all of it when no pool thread runs).
fn plan<G: Graph>(core: &mut Core<G>, pf: &mut Prefetch, start: u64, end: u64) -> Planned {
    let range = start..end.min(start + pf.batch);
    let main_end = if pf.sched.threads == 0 {
        range.end
    } else {
        (start + pf.sched.main_share).min(range.end)
    };
    pf.batches += 1;
    core.workers.stats.batches += 1;
    core.workers.stats.main_windows += main_end - start;
    Planned { range, main_end }
}

/// Hands the pool part of `b` to the pool threads, one contiguous chunk each.
fn dispatch<G: Graph>(ex: &mut Exec<'_, G>, pf: &mut Prefetch, b: &Planned) {
    let threads = pf.sched.threads as u64;
    let (lo, hi) = (b.main_end, b.range.end);
    if threads == 0 || lo >= hi {
        return;
    }
    let started = Instant::now();
    let core = &mut *ex.core;
    let stages: Arc<[(usize, Erased<G>)]> = ahead_stages(core, pf, lo).into();
    if stages.is_empty() {
        return;
    }
    let limit: Arc<[u64]> = pf.limit.clone().into();
    let frames = ex.frames;
    let (w, h) = core.config.overlap();
    let span = crate::graph::span::<G>(w, h);
    let n = hi - lo;
    let chunks: Vec<Range<u64>> = (0..threads)
        .map(|j| lo + n * j / threads..lo + n * (j + 1) / threads)
        .collect();
    for (j, r) in chunks.into_iter().enumerate() {
        if r.is_empty() {
            continue;
        }
        let job = job(
            core,
            &frames,
            span,
            pf.worker_lru,
            &stages,
            &limit,
            r.clone(),
            &pf.sched.failed,
        );
        let copied = job.samples.len() as u64;
        let sent = core
            .workers
            .pool
            .as_ref()
            .and_then(|p| p.threads.get(j))
            .and_then(|th| th.jobs.as_ref())
            .is_some_and(|tx| tx.send(job).is_ok());
        if sent {
            let st = &mut core.workers.stats;
            st.jobs += 1;
            st.pool_windows += r.end - r.start;
            st.samples_copied += copied;
            pf.sched.pending.push_back(Pending {
                range: r,
                thread: j,
            });
        }
    }
    core.workers.stats.dispatch_ns += nanos(started.elapsed());
}

/// Receives, in the order they were handed out, the results of the jobs that start at or
/// before `t`, into the store.
fn collect<G: Graph>(core: &mut Core<G>, pf: &mut Prefetch, t: u64) {
    let mut high = 0;
    let cur_start = pf.sched.cur.as_ref().map_or(0, |c| c.range.start);
    while pf.sched.pending.front().is_some_and(|j| j.range.start <= t) {
        let Some(j) = pf.sched.pending.pop_front() else {
            break;
        };
        let waiting = Instant::now();
        let got = core
            .workers
            .pool
            .as_ref()
            .and_then(|p| p.threads.get(j.thread))
            .and_then(|th| th.results.recv().ok());
        let waited = nanos(waiting.elapsed());
        core.workers.stats.wait_ns += waited;
        pf.sched.cur_wait_ns += waited;
        // A thread that died (it cannot: stage panics are caught) leaves its windows to the
        // calling thread.
        if let Some(c) = got {
            if j.range.start >= cur_start {
                pf.sched.cur_pool_ns += if c.cpu_ns > 0 { c.cpu_ns } else { c.busy_ns };
                pf.sched.cur_pool_windows += j.range.end - j.range.start;
            }
            high += absorb(core, pf, c);
        }
    }
    core.note_live_plus(high + pf.bytes);
}

/// Plans and hands out the batch after the current one when the current one was the last the
/// limits allowed and the limits have grown since (push mode: more samples were pushed).
pub(crate) fn extend<G: Graph>(ex: &mut Exec<'_, G>) {
    let Some(mut pf) = ex.core.workers.active.take() else {
        return;
    };
    if !pf.keep && pf.sched.next.is_none() {
        let end = end_limit(&pf);
        if let Some(cur) = pf.sched.cur.clone() {
            if cur.range.end < end {
                let next = plan(ex.core, &mut pf, cur.range.end, end);
                dispatch(ex, &mut pf, &next);
                pf.sched.next = Some(next);
            }
        }
    }
    ex.core.workers.active = Some(pf);
}
