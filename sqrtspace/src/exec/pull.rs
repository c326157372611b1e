//! The pull API: [`Pipeline::plan`], [`Pipeline::evaluate`] and
//! [`Pipeline::evaluate_with`] over a borrowed signal, in the planned mode.

use crate::config::{Config, Mode};
use crate::error::Error;
use crate::exec::classic::run_classic;
use crate::exec::pipeline::Pipeline;
use crate::exec::sqrt::fetch_owned;
use crate::graph::{needs, span, Compute, Exec, Frames, Graph, Has};
use crate::plan::Plan;
use std::ops::Range;

impl<G: Graph> Pipeline<G> {
    /// Plans the evaluation of `S` over `range` of `signal` without running it.
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
        self.bind(signal);
        let windows = self.check_range(signal, &range)?;
        // The probe below may advance stateful stages: it must save their checkpoints on the
        // same grid as the evaluation, or a later lookup finds none before the probed windows.
        let c = &self.core.config;
        self.core.k = self.planner.k_for(
            c,
            Some(windows),
            span::<G>(c.window, c.hop),
            G::state_bytes(),
        );
        let per_window = match self.probed.take() {
            Some(p) => p,
            None => self.probe(signal, windows)?,
        };
        let need = needs::<G>(<G as Has<S>>::INDEX, range.clone());
        let plan = self.planner.plan::<G>(
            &self.core.config,
            &range,
            &need,
            &per_window,
            G::state_bytes(),
            signal.len(),
        );
        self.probed = Some(per_window);
        Ok(plan)
    }

    /// Output bytes per window of each stage: the largest over the first (up to) 4 windows.
    fn probe(&mut self, signal: &[G::Sample], windows: u64) -> Result<Vec<usize>, Error> {
        let n = G::STAGES.len();
        let mut bytes = vec![0usize; n];
        let mut per_window = vec![0usize; n];
        let cfg = self.core_cfg();
        for t in 0..windows.min(4) {
            let mut ex = Exec {
                core: &mut self.core,
                frames: whole(signal, windows, &cfg),
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

    fn core_cfg(&self) -> Config {
        self.core.config.clone()
    }

    fn check_range(&self, signal: &[G::Sample], range: &Range<u64>) -> Result<u64, Error> {
        if range.start >= range.end {
            return Err(Error::EmptyRange {
                start: range.start,
                end: range.end,
            });
        }
        let c = &self.core.config;
        let windows = c.windows_in(signal.len() as u64);
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

    /// Evaluates stage `S` over windows `range` of `signal` in the configured mode and returns
    /// its outputs, one per window (`range.len()` items).
    ///
    /// Outputs, state and checkpoints of `signal` are kept for later calls on the same slice
    /// (random access resumes from the nearest checkpoint); a different slice clears them.
    /// Call [`reset`](Self::reset) after changing a signal in place.
    ///
    /// # Errors
    /// [`Error::EmptyRange`], [`Error::RangeOutOfBounds`], or a stage's error.
    pub fn evaluate<S: Compute<G>>(
        &mut self,
        signal: &[G::Sample],
        range: Range<u64>,
    ) -> Result<Vec<S::Output>, Error>
    where
        G: Has<S>,
    {
        let mut out =
            Vec::with_capacity(usize::try_from(range.end.saturating_sub(range.start)).unwrap_or(0));
        self.evaluate_with::<S>(signal, range, |_, o| out.push(o))?;
        Ok(out)
    }

    /// [`evaluate`](Self::evaluate), handing each output to `sink(t, output)` in window order
    /// instead of collecting them (memory independent of the range in `sqrt` mode).
    ///
    /// # Errors
    /// As [`evaluate`](Self::evaluate).
    pub fn evaluate_with<S: Compute<G>>(
        &mut self,
        signal: &[G::Sample],
        range: Range<u64>,
        mut sink: impl FnMut(u64, S::Output),
    ) -> Result<(), Error>
    where
        G: Has<S>,
    {
        let plan = self.plan::<S>(signal, range.clone())?;
        let windows = self.core.config.windows_in(signal.len() as u64);
        self.core.k = plan.k;
        let mode = plan.mode;
        self.core.set_lru_budget(plan.lru_bytes);
        self.core.save_output = G::STAGES
            .iter()
            .map(|s| plan.checkpointed_outputs.contains(&s.name))
            .collect();
        self.plan = Some(plan);
        let cfg = self.core_cfg();
        let mut ex = Exec {
            core: &mut self.core,
            frames: whole(signal, windows, &cfg),
        };
        ex.core.begin();
        match mode {
            Mode::Classic => run_classic::<G, S>(&mut ex, range, &mut sink)?,
            _ => {
                for t in range {
                    let o = fetch_owned::<G, S>(&mut ex, t)?;
                    sink(t, o);
                }
            }
        }
        ex.core.end();
        Ok(())
    }
}

fn whole<'a, T>(signal: &'a [T], windows: u64, c: &Config) -> Frames<'a, T> {
    Frames {
        samples: signal,
        first: 0,
        windows,
        window: c.window,
        hop: c.hop,
    }
}
