//! The pull API over a borrowed signal: a [`Session`] ([`Pipeline::over`]) borrows the signal
//! for as long as it keeps outputs, state and checkpoints computed from it, so the borrow
//! checker (not the signal's address) guarantees that cached outputs belong to the signal;
//! [`Pipeline::evaluate`] is a one-call session.

use crate::config::{Config, Mode};
use crate::error::Error;
use crate::exec::classic::run_classic;
use crate::exec::parallel;
use crate::exec::pipeline::Pipeline;
use crate::exec::sink::{Sink, SinkFlow};
use crate::exec::sqrt::fetch_owned;
use crate::graph::frames::KeyCut;
use crate::graph::{needs, span, Compute, Exec, Frames, Graph, Has};
use crate::plan::Plan;
use std::ops::Range;

/// Pull-mode evaluation of one signal: borrows the pipeline mutably and the signal immutably,
/// and keeps the outputs, state and checkpoints computed from that signal for later calls on
/// it (random access resumes from the nearest checkpoint). Made by [`Pipeline::over`], which
/// starts from empty caches: a session can never see another signal's outputs, and the signal
/// cannot change or be dropped while the session lives. Dereferences to the [`Pipeline`] for
/// its counters, slots and last plan.
///
/// ```
/// # use sqrtspace::{pipeline, stage, Config};
/// # #[stage(inputs = [input])]
/// # fn mean(f: &[f32]) -> f32 { f.iter().sum::<f32>() / f.len() as f32 }
/// # pipeline! { pub struct Means { stages: [mean], output: mean } }
/// let signal = vec![1.0f32; 4096];
/// let mut p = Means::new(Config::default().with_window(64).with_hop(16), ())?;
/// let mut s = p.over(&signal);
/// let all = s.evaluate::<mean>(0..253)?;
/// let again = s.evaluate::<mean>(100..110)?; // from the session's caches and checkpoints
/// assert_eq!(&all[100..110], &again[..]);
/// # Ok::<(), sqrtspace::Error>(())
/// ```
pub struct Session<'p, 's, G: Graph> {
    pipeline: &'p mut Pipeline<G>,
    signal: &'s [G::Sample],
    /// One key per sample, for key windows ([`Pipeline::over_keyed`]).
    pub(super) keys: Option<&'s [i64]>,
}

impl<G: Graph> Pipeline<G> {
    /// Starts pull-mode evaluation of `signal`: drops every output, state, checkpoint and
    /// buffered push input held from before, and returns a [`Session`] that keeps what it
    /// computes from `signal` until it is dropped.
    pub fn over<'p, 's>(&'p mut self, signal: &'s [G::Sample]) -> Session<'p, 's, G> {
        self.reset();
        self.bound = true;
        Session {
            pipeline: self,
            signal,
            keys: None,
        }
    }

    /// Evaluates stage `S` over windows `range` of `signal` in the configured mode and returns
    /// its outputs, one per window (`range.len()` items): a one-call [`Session`]
    /// (`self.over(signal).evaluate::<S>(range)`), so nothing computed before is reused. Use
    /// [`over`](Self::over) to evaluate several ranges of one signal with shared caches.
    ///
    /// # Errors
    /// [`Error::EmptyRange`], [`Error::RangeOutOfBounds`] (checked before anything is
    /// allocated), or a stage's error.
    pub fn evaluate<S: Compute<G>>(
        &mut self,
        signal: &[G::Sample],
        range: Range<u64>,
    ) -> Result<Vec<S::Output>, Error>
    where
        G: Has<S>,
    {
        self.over(signal).evaluate::<S>(range)
    }

    /// [`evaluate`](Self::evaluate), handing each output to `sink(t, output)` in window order
    /// instead of collecting them (memory independent of the range in `sqrt` mode). When a
    /// stage fails at window `t`, every window before `t` has reached `sink`. The sink
    /// returns `()`, `ControlFlow<()>` (`Break` stops after this window, `Ok` is returned) or
    /// `Result<(), E>` (`Err` stops with [`Error::Sink`]): see [`SinkFlow`].
    ///
    /// # Errors
    /// As [`evaluate`](Self::evaluate); [`Error::Sink`] when the sink returns `Err`.
    pub fn evaluate_with<S: Compute<G>>(
        &mut self,
        signal: &[G::Sample],
        range: Range<u64>,
        sink: impl Sink<S::Output>,
    ) -> Result<(), Error>
    where
        G: Has<S>,
    {
        self.over(signal).evaluate_with::<S>(range, sink)
    }

    /// Plans the evaluation of `S` over `range` of `signal` without running it (a one-call
    /// [`Session`]).
    ///
    /// # Errors
    /// Range errors, or whatever the probe's stage calls return.
    pub fn plan<S: Compute<G>>(
        &mut self,
        signal: &[G::Sample],
        range: Range<u64>,
    ) -> Result<Plan, Error>
    where
        G: Has<S>,
    {
        self.over(signal).plan::<S>(range)
    }
}

impl<G: Graph> Session<'_, '_, G> {
    /// The signal this session evaluates.
    #[must_use]
    pub fn signal(&self) -> &[G::Sample] {
        self.signal
    }

    /// Evaluates stage `S` over windows `range` of the session's signal in the configured
    /// mode and returns its outputs, one per window (`range.len()` items). Outputs, state and
    /// checkpoints stay in the session for later calls.
    ///
    /// # Errors
    /// [`Error::EmptyRange`], [`Error::RangeOutOfBounds`] (checked before anything is
    /// allocated), or a stage's error (use [`evaluate_with`](Self::evaluate_with) to receive
    /// the outputs of the windows before it).
    pub fn evaluate<S: Compute<G>>(&mut self, range: Range<u64>) -> Result<Vec<S::Output>, Error>
    where
        G: Has<S>,
    {
        self.pipeline.check_range(self.signal, self.keys, &range)?;
        let len = usize::try_from(range.end - range.start).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        out.try_reserve_exact(len).map_err(|_| Error::OutOfMemory {
            bytes: len.saturating_mul(std::mem::size_of::<S::Output>()),
            what: "the outputs evaluate collects",
        })?;
        let (signal, keys) = (self.signal, self.keys);
        self.pipeline
            .guarded(|p| p.evaluate_bound::<S>(signal, keys, range, |_, o| out.push(o)))?;
        Ok(out)
    }

    /// [`evaluate`](Self::evaluate), handing each output to `sink(t, output)` in window order
    /// instead of collecting them (memory independent of the range in `sqrt` mode). When a
    /// stage fails at window `t`, every window before `t` has reached `sink`, and the session
    /// stays usable. The sink returns `()`, `ControlFlow<()>` (`Break` stops after this
    /// window, `Ok` is returned) or `Result<(), E>` (`Err` stops with [`Error::Sink`]): see
    /// [`SinkFlow`].
    ///
    /// # Errors
    /// As [`evaluate`](Self::evaluate); [`Error::Sink`] when the sink returns `Err`.
    pub fn evaluate_with<S: Compute<G>>(
        &mut self,
        range: Range<u64>,
        sink: impl Sink<S::Output>,
    ) -> Result<(), Error>
    where
        G: Has<S>,
    {
        let (signal, keys) = (self.signal, self.keys);
        self.pipeline
            .guarded(|p| p.evaluate_bound::<S>(signal, keys, range, sink))
    }

    /// Drops every output, state and checkpoint computed so far (the signal stays).
    pub fn reset(&mut self) {
        self.pipeline.reset();
        self.pipeline.bound = true;
    }

    /// Resets the pipeline's counters to zero.
    pub fn reset_counters(&mut self) {
        self.pipeline.reset_counters();
    }

    /// Sets the executor mode for later evaluations in this session (what is cached stays
    /// valid: outputs do not depend on the mode).
    pub fn set_mode(&mut self, mode: Mode) {
        self.pipeline.set_mode(mode);
    }

    /// Plans the evaluation of `S` over `range` without running it.
    ///
    /// # Errors
    /// Range errors, or whatever the probe's stage calls return.
    pub fn plan<S: Compute<G>>(&mut self, range: Range<u64>) -> Result<Plan, Error>
    where
        G: Has<S>,
    {
        let (signal, keys) = (self.signal, self.keys);
        self.pipeline
            .guarded(|p| p.plan_bound::<S>(signal, keys, range))
    }
}

impl<G: Graph> std::ops::Deref for Session<'_, '_, G> {
    type Target = Pipeline<G>;
    fn deref(&self) -> &Pipeline<G> {
        self.pipeline
    }
}

impl<G: Graph> Pipeline<G> {
    /// Output bytes per window of each stage, in [`Graph::STAGES`] order: the largest
    /// [`ByteSize`](crate::ByteSize) of its output over the first (up to) 4 windows of `signal`,
    /// by the same probe [`plan`](Self::plan) runs. For planning before the signal exists
    /// (from a file header, say), probe a few windows of a representative signal, such as
    /// silence when output sizes do not depend on the content.
    ///
    /// Leaves nothing behind: cached outputs, checkpoints and state are dropped afterwards, as
    /// when a new signal is bound (the counters keep the probe's evaluations).
    ///
    /// # Errors
    /// [`Error::RangeOutOfBounds`] when `signal` holds no complete window; whatever the stage
    /// calls return.
    pub fn probe_output_bytes(&mut self, signal: &[G::Sample]) -> Result<Vec<usize>, Error> {
        self.reset();
        let windows = self.check_range(signal, None, &(0..1))?;
        // Checkpoints the probe saves follow the grid an evaluation of `signal` would use.
        let c = &self.core.config;
        let (w, h) = c.overlap();
        self.core.k = Self::planner_mut(&mut self.planner).k_for(
            c,
            Some(windows),
            span::<G>(w, h),
            G::state_bytes(&self.core.params),
        );
        let probed = self.guarded(|p| p.probe(signal, None, windows));
        self.reset();
        probed
    }

    fn plan_bound<S: Compute<G>>(
        &mut self,
        signal: &[G::Sample],
        keys: Option<&[i64]>,
        range: Range<u64>,
    ) -> Result<Plan, Error>
    where
        G: Has<S>,
    {
        let windows = self.check_range(signal, keys, &range)?;
        // The probe below may advance stateful stages: it must save their checkpoints on the
        // same grid as the evaluation, or a later lookup finds none before the probed windows.
        let c = &self.core.config;
        let (w, h) = c.overlap();
        let (k, k_reason) = Self::planner_mut(&mut self.planner).k_with_reason(
            c,
            Some(windows),
            span::<G>(w, h),
            G::state_bytes(&self.core.params),
        );
        self.core.k = k;
        let per_window = match self.probed.take() {
            Some(p) => p,
            None => self.probe(signal, keys, windows)?,
        };
        let need = needs::<G>(<G as Has<S>>::INDEX, range.clone());
        let mut plan = Self::planner_mut(&mut self.planner).plan::<G>(
            &self.core.config,
            &range,
            &need,
            &per_window,
            G::state_bytes(&self.core.params),
            signal.len(),
        );
        if self.core.config.key_windows.is_some() {
            // The planner counts windows by `window`/`hop`; key windows were counted above.
            (plan.k, plan.k_reason) = (k, k_reason);
        }
        if (self.core.config.max_workers > 1 || self.core.workers.forced.is_some())
            && self.core.workers.costs.is_none()
        {
            self.time_probe(signal, keys, windows, &range);
        }
        plan.parallel = parallel::choose::<G>(
            &self.core.config,
            self.core.workers.costs.as_deref(),
            &[<G as Has<S>>::INDEX],
            &need,
            &per_window,
            plan.lru_bytes,
            self.core.workers.forced,
        );
        // From the start of the signal only: a scratch state elsewhere would first replay
        // the stateful stages from window 0.
        if self.core.workers.forced.is_none()
            && plan.parallel.workers > 1
            && plan.mode != Mode::Classic
            && range.start == 0
        {
            let cfg = self.core_cfg();
            crate::exec::candidates::time_candidates::<G, S>(
                &mut self.core,
                whole(signal, keys, windows, &cfg),
                windows,
                &range,
                &mut plan.parallel,
            );
        }
        plan.workers = plan.parallel.workers;
        self.probed = Some(per_window);
        Ok(plan)
    }

    /// Output bytes per window of each stage: the largest over the first (up to) 4 windows.
    fn probe(
        &mut self,
        signal: &[G::Sample],
        keys: Option<&[i64]>,
        windows: u64,
    ) -> Result<Vec<usize>, Error> {
        let n = G::STAGES.len();
        let mut bytes = vec![0usize; n];
        let mut per_window = vec![0usize; n];
        let cfg = self.core_cfg();
        for t in 0..windows.min(4) {
            let mut ex = Exec {
                core: &mut self.core,
                frames: whole(signal, keys, windows, &cfg),
            };
            ex.core.begin();
            G::probe(&mut ex, t, &mut bytes)?;
            ex.core.end();
            for (p, b) in per_window.iter_mut().zip(&bytes) {
                *p = (*p).max(*b);
            }
        }
        Ok(per_window)
    }

    /// Measures each stage's time per evaluation over the first windows of `range` (3% of
    /// the signal's windows, at least 8, at most 64), for the choice of workers. An error
    /// there is left for the evaluation to report.
    fn time_probe(
        &mut self,
        signal: &[G::Sample],
        keys: Option<&[i64]>,
        windows: u64,
        range: &Range<u64>,
    ) {
        let n = (windows * 3 / 100).clamp(8, 64);
        let cfg = self.core_cfg();
        let mut bytes = vec![0usize; G::STAGES.len()];
        parallel::start_timing(&mut self.core);
        for t in range.start..range.end.min(range.start + n) {
            let mut ex = Exec {
                core: &mut self.core,
                frames: whole(signal, keys, windows, &cfg),
            };
            ex.core.begin();
            if G::probe(&mut ex, t, &mut bytes).is_err() {
                break;
            }
            ex.core.end();
        }
        parallel::end_timing(&mut self.core);
    }

    fn core_cfg(&self) -> Config {
        self.core.config.clone()
    }

    /// Windows of `signal` (framed by `keys` for key windows), and that `range` is in them.
    fn check_range(
        &self,
        signal: &[G::Sample],
        keys: Option<&[i64]>,
        range: &Range<u64>,
    ) -> Result<u64, Error> {
        let c = &self.core.config;
        let windows = match (c.key_windows, keys) {
            (None, None) => c.windows_in(signal.len() as u64),
            (Some(_), None) => return Err(Error::KeysRequired),
            (None, Some(_)) => return Err(Error::KeysUnexpected),
            (Some(kw), Some(keys)) => match (keys.first(), keys.last()) {
                (Some(&a), Some(&b)) => kw.all_windows(kw.origin(a), b),
                _ => 0,
            },
        };
        if range.start >= range.end {
            return Err(Error::EmptyRange {
                start: range.start,
                end: range.end,
            });
        }
        if range.end > windows {
            return Err(Error::RangeOutOfBounds {
                requested: range.clone(),
                available: windows,
                window: c.window,
                hop: c.hop,
            });
        }
        Ok(windows)
    }

    fn evaluate_bound<S: Compute<G>>(
        &mut self,
        signal: &[G::Sample],
        keys: Option<&[i64]>,
        range: Range<u64>,
        mut sink: impl Sink<S::Output>,
    ) -> Result<(), Error>
    where
        G: Has<S>,
    {
        let plan = self.plan_bound::<S>(signal, keys, range.clone())?;
        let windows = self.check_range(signal, keys, &range)?;
        self.core.k = plan.k;
        let mode = plan.mode;
        if mode == Mode::Classic {
            let signal_bytes = std::mem::size_of_val(signal) as u64;
            reserve_classic(plan.classic_bytes.saturating_sub(signal_bytes))?;
        }
        self.core.set_lru_budget(if plan.parallel.workers > 1 {
            plan.parallel.main_lru_bytes
        } else {
            plan.lru_bytes
        });
        let need = needs::<G>(<G as Has<S>>::INDEX, range.clone());
        parallel::start(
            &mut self.core,
            &plan.parallel,
            &[<G as Has<S>>::INDEX],
            &need,
            mode == Mode::Classic,
        );
        self.core.save_output = G::STAGES
            .iter()
            .map(|s| plan.checkpointed_outputs.contains(&s.name))
            .collect();
        self.plan = Some(plan);
        let cfg = self.core_cfg();
        let mut ex = Exec {
            core: &mut self.core,
            frames: whole(signal, keys, windows, &cfg),
        };
        ex.core.begin();
        let result = match mode {
            Mode::Classic => match run_classic::<G, S>(&mut ex, range.clone(), &mut sink) {
                Ok(_) => Ok(()),
                // A stage failed while the columns were computed, so no output reached the
                // sink: deliver the windows before the failure depth-first (the same error
                // then stops it at the first window that needs the failing one).
                Err(Error::Stage { .. }) => depth_first::<G, S>(&mut ex, range, &mut sink),
                Err(e) => Err(e),
            },
            _ => depth_first::<G, S>(&mut ex, range, &mut sink),
        };
        parallel::stop(ex.core);
        result?;
        ex.core.end();
        Ok(())
    }
}

/// Depth-first, each output of `S` to the sink as it is computed, until the sink stops.
/// Classic mode materialises every intermediate of the range, and a stage allocates each
/// window's output (a spectrum, say) with an ordinary, infallible allocation: when memory runs
/// out midway, the process aborts. So before a classic run the planner's estimate of the
/// intermediates (`bytes`, [`Plan::classic_bytes`] less the signal the caller already holds)
/// is reserved once and released: an address space that cannot hold it (`RLIMIT_AS`, or more
/// than the kernel's overcommit allows) is [`Error::OutOfMemory`] before any work, naming the
/// size. Nothing is touched, so the check costs no RSS.
fn reserve_classic(bytes: u64) -> Result<(), Error> {
    let oom = || Error::OutOfMemory {
        bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
        what: "classic mode's intermediates (the planner's estimate)",
    };
    let n = usize::try_from(bytes).map_err(|_| oom())?;
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(n).map_err(|_| oom())?;
    drop(probe);
    Ok(())
}

pub(crate) fn depth_first<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    range: Range<u64>,
    sink: &mut impl Sink<S::Output>,
) -> Result<(), Error> {
    for t in range {
        let o = fetch_owned::<G, S>(ex, t)?;
        if sink(t, o).flow(t)?.is_break() {
            break;
        }
    }
    Ok(())
}

fn whole<'a, T>(
    signal: &'a [T],
    keys: Option<&'a [i64]>,
    windows: u64,
    c: &Config,
) -> Frames<'a, T> {
    let mut f = Frames::count(signal, 0, windows, c.window, c.hop);
    if let (Some(kw), Some(keys)) = (c.key_windows, keys) {
        f.keys = Some(KeyCut {
            keys,
            windows: kw,
            origin: keys.first().map_or(0, |&k| kw.origin(k)),
            first_window: 0,
        });
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_classic_working_set_that_cannot_be_reserved_is_a_typed_error() {
        let e = reserve_classic(u64::MAX >> 1).unwrap_err();
        assert!(
            matches!(e, Error::OutOfMemory { bytes, .. } if bytes == usize::MAX >> 1),
            "{e:?}"
        );
        assert!(e.to_string().contains("Mode::Sqrt"), "{e}");
        assert!(reserve_classic(1 << 20).is_ok());
    }
}
