//! The push and stream API: [`Pipeline::push_samples`] into a bounded input buffer with
//! backpressure, [`Pipeline::pull_until`] / [`Pipeline::pull_with`] in window order, history
//! trimming after each pull, and [`Pipeline::stream`] / [`Pipeline::stream_reader`] on top.

use crate::cache::Key;
use crate::config::Mode;
use crate::error::Error;
use crate::exec::parallel;
use crate::exec::pipeline::Pipeline;
use crate::exec::sink::{Sink, SinkFlow};
use crate::graph::frames::KeyCut;
use crate::graph::{span, Core, Exec, Frames, Graph, OutputOf};
use std::ops::ControlFlow;

/// Where a stream ended: see [`Pipeline::close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    /// Samples pushed in all.
    pub samples: u64,
    /// Complete windows (all were evaluated by [`Pipeline::stream`], unless the sink stopped
    /// it: see `stopped_at`).
    pub windows: u64,
    /// Samples after the start of the last complete window's successor that no complete
    /// window covers (`samples - (windows-1)*H - W` beyond the last frame's end); reported,
    /// never silently dropped. Always 0 with key windows: the last window starts at or before
    /// the last key and ends after it.
    pub tail_samples: u64,
    /// The window after whose output the sink returned `ControlFlow::Break` (see
    /// [`SinkFlow`]): [`Pipeline::stream`] and [`Pipeline::stream_reader`] stopped there,
    /// every output up to it was delivered, nothing after it was read or evaluated. `None`
    /// when the stream ran to its end.
    pub stopped_at: Option<u64>,
}

impl<G: Graph> Pipeline<G> {
    /// Push mode: appends samples to the input buffer.
    ///
    /// Backpressure: when the unprocessed samples would exceed `input_buffer_blocks x window`,
    /// the whole chunk is refused with [`Error::Backpressure`] and nothing is enqueued; pull
    /// outputs ([`pull_until`](Self::pull_until)) and push again. Pushing a signal in any
    /// chunking gives the same windows and outputs as pushing it at once.
    ///
    /// # Errors
    /// [`Error::Backpressure`], [`Error::PushAfterClose`].
    pub fn push_samples(&mut self, chunk: &[G::Sample]) -> Result<(), Error> {
        if self.core.config.key_windows.is_some() {
            return Err(Error::KeysRequired);
        }
        if self.input.closed {
            return Err(Error::PushAfterClose {
                total: self.input.total,
            });
        }
        if self.bound {
            self.reset();
        }
        let c = &self.core.config;
        let capacity = (c.input_buffer_blocks * c.window) as u64;
        let consumed = (self.input.next_out * c.hop as u64).min(self.input.total);
        let would_hold = self.input.total + chunk.len() as u64 - consumed;
        if would_hold > capacity {
            return Err(Error::Backpressure {
                offered: chunk.len(),
                would_hold,
                capacity,
            });
        }
        self.input.samples.extend_from_slice(chunk);
        self.input.total += chunk.len() as u64;
        Ok(())
    }

    /// Samples the push-mode input buffer holds now: the unprocessed ones plus the history
    /// that recomputation and replays from checkpoints may still read (see
    /// [`pull_until`](Self::pull_until)).
    #[must_use]
    pub fn buffered_samples(&self) -> usize {
        self.input.samples.len()
    }

    /// Complete windows pushed so far.
    #[must_use]
    pub fn windows_available(&self) -> u64 {
        self.input.windows(&self.core.config)
    }

    /// Push mode: evaluates the output stage (or stages: [`Graph::Output`]) for every window
    /// from the last pulled one up to `t` (exclusive), or up to the last complete window if
    /// fewer are available, and returns those outputs in order.
    ///
    /// When a stage fails at window `u`, the outputs of the windows before `u` are returned
    /// (`Ok`), and the position stays at `u`: the next call fails at `u` with the stage's
    /// error (nothing computed is lost, and the error is never skipped silently). The caller
    /// then either stops (everything before `u` was delivered) or calls
    /// [`skip_window`](Self::skip_window) to go on after `u`.
    ///
    /// # Errors
    /// A stage's error at the first window asked for ([`Error::Stage`] for a fallible stage).
    pub fn pull_until(&mut self, t: u64) -> Result<Vec<OutputOf<G>>, Error> {
        let mut out = Vec::new();
        match self.pull_with(t, |_, o| out.push(o)) {
            Err(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// Push mode: the next window [`pull_until`](Self::pull_until) or
    /// [`pull_with`](Self::pull_with) evaluates.
    #[must_use]
    pub fn next_window(&self) -> u64 {
        self.input.next_out
    }

    /// Push mode, after a stage failed at window [`next_window`](Self::next_window): gives up
    /// that window's outputs and moves on to the next one. Later windows that need the failed
    /// one again (a lookback onto it, or a stateful stage replaying through it) fail again
    /// with the same error; windows that do not are evaluated as usual. Returns the window
    /// skipped.
    pub fn skip_window(&mut self) -> u64 {
        let skipped = self.input.next_out;
        if skipped < self.windows_available() {
            self.input.next_out += 1;
        }
        skipped
    }

    /// [`pull_until`](Self::pull_until), handing each output to `sink(t, output)`. When a stage
    /// fails at window `u`, every window before `u` has reached `sink`, and the position stays
    /// at `u` (see [`skip_window`](Self::skip_window)). The sink returns `()`,
    /// `ControlFlow<()>` or `Result<(), E>` ([`SinkFlow`]): after a `Break` or an `Err` at
    /// window `u`, the position is `u + 1` (that output was handed over) and nothing after it
    /// is evaluated.
    ///
    /// # Errors
    /// A stage's error; [`Error::Sink`] when the sink returns `Err`; [`Error::Poisoned`] after
    /// a stage panicked in an earlier call.
    pub fn pull_with(&mut self, t: u64, sink: impl Sink<OutputOf<G>>) -> Result<(), Error> {
        self.pull_flow(t, sink).map(|_| ())
    }

    /// [`pull_with`](Self::pull_with), saying whether the sink stopped.
    pub(super) fn pull_flow(
        &mut self,
        t: u64,
        sink: impl Sink<OutputOf<G>>,
    ) -> Result<ControlFlow<()>, Error> {
        self.guarded(|p| p.pull_with_unguarded(t, sink))
    }

    fn pull_with_unguarded(
        &mut self,
        t: u64,
        mut sink: impl Sink<OutputOf<G>>,
    ) -> Result<ControlFlow<()>, Error> {
        let available = self.windows_available();
        let end = t.min(available);
        // The stream's length is unknown: k is the configured one, or the default raised to
        // the dependency span.
        let c = &self.core.config;
        let (w, h) = c.overlap();
        let planner = Self::planner_mut(&mut self.planner);
        self.core.k = planner.k_for(c, None, span::<G>(w, h), G::state_bytes(&self.core.params));
        let lru = planner.lru_for(&self.core.config, Mode::Sqrt, 0);
        let par = parallel::push_parallelism(&self.core.config, lru, self.core.workers.forced);
        self.core.set_lru_budget(if par.workers > 1 {
            par.main_lru_bytes
        } else {
            lru
        });
        self.core.save_output.fill(false);
        if par.workers > 1 && self.input.next_out < end {
            // Everything pushed may be computed ahead, so that the pool goes on with the
            // windows after `end` while the caller pushes more (the schedule stays between
            // pulls: see `feed`).
            let need = parallel::union_needs::<G>(G::OUTPUTS, self.input.next_out..available);
            if !parallel::resume(&mut self.core, &par, &need) {
                parallel::start(&mut self.core, &par, G::OUTPUTS, &need, false);
            }
        } else if par.workers <= 1 {
            parallel::stop(&mut self.core);
        }
        let first = self.input.first;
        let mut flow = Ok(ControlFlow::Continue(()));
        {
            let mut frames = Frames::count(
                &self.input.samples,
                first,
                available,
                self.core.config.window,
                self.core.config.hop,
            );
            frames.keys = self.core.config.key_windows.map(|windows| KeyCut {
                keys: &self.input.keys,
                windows,
                origin: self.input.origin,
                first_window: self.input.first_window,
            });
            let mut ex = Exec {
                core: &mut self.core,
                frames,
            };
            ex.core.begin();
            parallel::extend(&mut ex);
            let mut result = Ok(());
            while self.input.next_out < end {
                let tt = self.input.next_out;
                let o = match G::output(&mut ex, tt) {
                    Ok(o) => o,
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                };
                self.input.next_out += 1;
                match sink(tt, o).flow(tt) {
                    Ok(ControlFlow::Continue(())) => {}
                    stop => {
                        flow = stop;
                        break;
                    }
                }
            }
            if result.is_err() || !matches!(flow, Ok(ControlFlow::Continue(()))) {
                parallel::stop(ex.core);
            }
            result?;
            ex.core.end();
        }
        self.trim();
        flow
    }

    /// Push mode: drops the samples and checkpoints that no later window can need.
    ///
    /// Outputs are pulled in order, so every later fetch of an output stage is at window
    /// `next_out` or after. Walking the graph from the outputs down, each stage's lowest
    /// future window follows: a pure stage computes the windows asked of it; a stateful one
    /// continues from its current position or resumes from its latest checkpoint at or before
    /// the lowest window asked of it (window 0 without one); its inputs are then needed from
    /// there, less their lookback offsets. That checkpoint is protected in the ring until the
    /// next trim, older checkpoints of the stage are dropped, and samples before the lowest
    /// frame needed are released. With checkpoints every k windows the history kept is
    /// bounded by the checkpoint interval and the lookback spans, whatever the stream's length.
    fn trim(&mut self) {
        let stages = G::STAGES;
        let next = self.input.next_out;
        let mut need: Vec<Option<u64>> = vec![None; stages.len()];
        for &o in G::OUTPUTS {
            need[o] = Some(next);
        }
        let mut first_frame = next;
        let mut resume: Vec<Key> = Vec::new();
        for &i in G::TOPO.iter().rev() {
            let Some(u) = need[i] else { continue };
            let low = if stages[i].stateful {
                let c = self.core.ring.latest(i, u);
                if let Some(c) = c {
                    resume.push((i, c));
                }
                self.core.cursors[i].min(c.unwrap_or(0))
            } else {
                u
            };
            for e in stages[i].inputs {
                let w = low.saturating_sub(e.offset);
                match e.stage.and_then(|id| crate::graph::index_of(stages, id)) {
                    Some(d) => need[d] = Some(need[d].map_or(w, |x| x.min(w))),
                    None => first_frame = first_frame.min(w),
                }
            }
        }
        let Core {
            ring, lru, slots, ..
        } = &mut self.core;
        // Outputs before the lowest window still asked of their stage were emitted or consumed:
        // nobody reads them again.
        let ((), pooled) = crate::graph::pool::evicting(|| {
            lru.drop_where(
                |(s, t)| need[s].is_none_or(|u| t < u),
                |(s, t)| G::evict_output(slots, s, t),
            );
        });
        ring.drop_where(
            |(s, t)| resume.iter().any(|&(rs, rt)| rs == s && t < rt),
            |(s, t)| G::evict_checkpoint(slots, s, t),
        );
        ring.protect(&resume);
        self.core.pool_bytes += pooled;

        let keep_from = self.input.start_of(&self.core.config, first_frame);
        let drop = keep_from.saturating_sub(self.input.first);
        // Compact when the dead prefix is at least half the buffer (amortised O(1) per sample).
        if drop > 0 && drop as usize >= self.input.samples.len() / 2 {
            let n = usize::try_from(drop)
                .unwrap_or(usize::MAX)
                .min(self.input.samples.len());
            self.input.samples.drain(..n);
            if self.core.config.key_windows.is_some() {
                // Every sample dropped has a key below the start of `first_frame`.
                self.input.keys.drain(..n);
                self.input.first_window = self.input.first_window.max(first_frame);
            }
            self.input.first += drop;
        }
    }

    /// Push mode: ends the stream. Later pushes fail with [`Error::PushAfterClose`]. With key
    /// windows ([`crate::framing`]) the windows still open (those starting at or before the
    /// last key) complete here: pull them after closing.
    #[must_use = "the StreamEnd says how many trailing samples no complete window covers"]
    pub fn close(&mut self) -> StreamEnd {
        self.input.closed = true;
        let windows = self.windows_available();
        let c = &self.core.config;
        let covered = if windows == 0 {
            0
        } else if c.key_windows.is_some() {
            // The last window starts at or before the last key and ends after it.
            self.input.total
        } else {
            (windows - 1) * c.hop as u64 + c.window as u64
        };
        StreamEnd {
            samples: self.input.total,
            windows,
            tail_samples: self.input.total - covered,
            stopped_at: None,
        }
    }

    /// The [`StreamEnd`] of a stream whose sink stopped it after window `next_out - 1`.
    pub(super) fn stopped(&mut self) -> StreamEnd {
        StreamEnd {
            stopped_at: self.input.next_out.checked_sub(1),
            ..self.close()
        }
    }

    /// Streams `chunks` (any iterator of sample slices, e.g. a decoder's output) through the
    /// pipeline, handing each window's output ([`Graph::Output`]) to `sink(t, output)` as soon
    /// as the window is complete. Chunks larger than the input buffer are split; backpressure is
    /// handled by pulling. Memory is independent of the stream's length.
    ///
    /// The sink returns `()`, `ControlFlow<()>` or `Result<(), E>` ([`SinkFlow`]): a `Break`
    /// ends the stream there ([`StreamEnd::stopped_at`]), an `Err` (a failing writer) stops it
    /// with [`Error::Sink`]; either way no further chunk is read.
    ///
    /// # Errors
    /// A stage's error, [`Error::Sink`], or an error of the chunk source (`Err` items are
    /// returned as is).
    pub fn stream<I, C, E>(
        &mut self,
        chunks: I,
        mut sink: impl Sink<OutputOf<G>>,
    ) -> Result<StreamEnd, E>
    where
        I: IntoIterator<Item = Result<C, E>>,
        C: AsRef<[G::Sample]>,
        E: From<Error>,
    {
        for chunk in chunks {
            if self.feed(chunk?.as_ref(), &mut sink)?.is_break() {
                return Ok(self.stopped());
            }
        }
        if self.pull_flow(u64::MAX, &mut sink)?.is_break() {
            return Ok(self.stopped());
        }
        Ok(self.close())
    }

    /// Streams raw little-endian samples from `reader` (a file, a pipe, standard input)
    /// through the pipeline, like [`stream`](Self::stream): outputs go to `sink(t, output)` as
    /// their windows complete, through one reused read buffer ([`RawReader`]) of half the
    /// input buffer; memory is independent of the stream's length.
    ///
    /// # Errors
    /// A stage's error; [`Error::Read`] when the reader fails; [`Error::TruncatedSample`]
    /// when the stream ends inside a sample (every window of the complete samples before it
    /// has been handed to `sink` by then); [`Error::Sink`] when the sink returns `Err` (it
    /// stops as in [`stream`](Self::stream), as does a `Break`).
    ///
    /// [`RawReader`]: crate::source::RawReader
    pub fn stream_reader<R: std::io::Read>(
        &mut self,
        reader: R,
        mut sink: impl Sink<OutputOf<G>>,
    ) -> Result<StreamEnd, Error>
    where
        G::Sample: crate::source::RawSample,
    {
        let c = &self.core.config;
        // Half the input buffer, at most 64 Ki samples: the read buffer is allocated up front,
        // and a huge window must not make it huge (the input buffer itself grows only with
        // the samples that arrive).
        let chunk = (c.input_buffer_blocks * c.window / 2).clamp(1, 1 << 16);
        let mut source = crate::source::RawReader::<R, G::Sample>::new(reader, chunk);
        loop {
            match source.next_chunk() {
                Ok(Some(samples)) => {
                    if self.feed(samples, &mut sink)?.is_break() {
                        return Ok(self.stopped());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Every complete sample was accepted: hand out the windows they complete.
                    if self.pull_flow(u64::MAX, &mut sink)?.is_break() {
                        return Ok(self.stopped());
                    }
                    return Err(e);
                }
            }
        }
        if self.pull_flow(u64::MAX, &mut sink)?.is_break() {
            return Ok(self.stopped());
        }
        Ok(self.close())
    }

    /// Pushes `chunk` in pieces that fit the input buffer, pulling completed windows into
    /// `sink` as it goes (the body of [`stream`](Self::stream)).
    fn feed(
        &mut self,
        chunk: &[G::Sample],
        sink: &mut impl Sink<OutputOf<G>>,
    ) -> Result<ControlFlow<()>, Error> {
        // After pulling every complete window at most `window - 1` unprocessed samples stay
        // buffered, so pieces of `capacity - (window - 1)` samples always fit after a pull.
        let c = &self.core.config;
        // With several workers, windows are pulled a batch at a time, and the last batch
        // pushed is left to the pool threads while the caller pushes the next piece.
        let batch =
            parallel::push_parallelism(&self.core.config, 0, self.core.workers.forced).batch;
        let ahead = if batch > 1 { batch } else { 0 };
        let left = usize::try_from(ahead).unwrap_or(0) * c.hop;
        let piece = (c.input_buffer_blocks * c.window)
            .saturating_sub(c.window - 1 + left)
            .max(1);
        for part in chunk.chunks(piece) {
            match self.push_samples(part) {
                Err(Error::Backpressure { .. }) => {
                    if self.pull_flow(u64::MAX, &mut *sink)?.is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                    self.push_samples(part)?;
                }
                other => other?,
            }
            let available = self.windows_available();
            if available >= self.input.next_out + batch + ahead
                && self.pull_flow(available - ahead, &mut *sink)?.is_break()
            {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}
