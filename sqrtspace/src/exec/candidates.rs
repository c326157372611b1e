//! The planner's candidate plans timed on the probe prefix: the workers the model chose
//! against one worker, each evaluated for real over the first windows of the range (3% of the
//! signal's windows, at least 8, at most 64), so that `auto` does not rest on the model
//! alone where the machine (its load, its caches, the threads' hand-overs) decides.

use crate::config::Config;
use crate::exec::parallel;
use crate::exec::pull::depth_first;
use crate::graph::{needs, Compute, Core, Exec, Frames, Has};
use crate::parallel::{Candidate, Parallelism};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Times `par` (more than one worker) and one worker over the probe prefix of `range` on a
/// scratch engine state (the pipeline's own caches and checkpoints are untouched; the pool
/// threads are lent and given back), and records both in `par`, which falls back to one
/// worker when the measured parallel time is not [`crate::parallel::MIN_SPEEDUP_PERCENT`]
/// faster. Nothing is recorded when the prefix is too short to split or a stage fails or
/// panics there (the evaluation reports that error).
pub(crate) fn time_candidates<G: Has<S>, S: Compute<G>>(
    core: &mut Core<G>,
    frames: Frames<'_, G::Sample>,
    windows: u64,
    range: &Range<u64>,
    par: &mut Parallelism,
) {
    let n = (windows * 3 / 100).clamp(8, 64);
    let prefix = range.start..range.end.min(range.start + n);
    let len = prefix.end - prefix.start;
    if par.workers <= 1 || len < 4 * par.workers as u64 {
        return;
    }
    let started = Instant::now();
    let idx = <G as Has<S>>::INDEX;
    let need = needs::<G>(idx, prefix.clone());
    // Batches small enough that the prefix holds a few of them.
    let batch = par.batch.min(len / 2).max(par.workers as u64);
    let mut timed = Vec::new();
    for (workers, batch) in [(1, 1), (par.workers, batch)] {
        let mut scratch = Core::<G>::worker(
            Arc::clone(&core.params),
            Config::clone(&core.config),
            core.reused.clone(),
            par.main_lru_bytes,
            core.k,
        );
        scratch.workers.pool = core.workers.pool.take();
        let mut p = par.clone();
        p.workers = workers;
        p.batch = batch;
        parallel::start(&mut scratch, &p, &[idx], &need, false);
        let mut ex = Exec {
            core: &mut scratch,
            frames,
        };
        ex.core.begin();
        let t0 = Instant::now();
        // A stage's panic here is left for the evaluation to meet (and report) in its place.
        let r = catch_unwind(AssertUnwindSafe(|| {
            depth_first::<G, S>(&mut ex, prefix.clone(), &mut |_, _| {})
        }));
        let ns = nanos(t0.elapsed());
        parallel::stop(ex.core);
        core.workers.pool = scratch.workers.pool.take();
        if !matches!(r, Ok(Ok(()))) {
            return;
        }
        timed.push(Candidate {
            workers,
            batch,
            nanos_per_window: ns / len,
        });
    }
    *par = par.clone().measured(timed, len, nanos(started.elapsed()));
}
