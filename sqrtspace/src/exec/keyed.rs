//! Streaming with key windows ([`crate::framing`]): [`Pipeline::stream_keyed`] pushes
//! `(keys, samples)` chunks in pieces that fit the input buffer and pulls windows as they
//! complete.

use crate::error::Error;
use crate::exec::parallel;
use crate::exec::pipeline::Pipeline;
use crate::exec::push::StreamEnd;
use crate::exec::sink::Sink;
use crate::graph::{Graph, OutputOf};
use std::ops::ControlFlow;

impl<G: Graph> Pipeline<G> {
    /// [`stream`](Self::stream) for a pipeline that frames by key
    /// ([`Config::key_windows`](crate::Config::key_windows)): each chunk is `(keys, samples)`,
    /// one non-decreasing key per sample. Outputs go to `sink(t, output)` in window order as
    /// their windows complete (a key at or past a window's end arrives), and the windows
    /// still open at the end of `chunks` (those starting at or before the last key) are
    /// evaluated then. Memory is bounded by the samples of the live windows (period x the
    /// highest sample rate, within `input_buffer_blocks x window` samples), not by the
    /// stream's length.
    ///
    /// # Errors
    /// [`Error::KeysUnexpected`] when the pipeline frames by count; [`Error::KeysLength`];
    /// [`Error::KeysBackwards`] (every window completed before the offending sample has
    /// reached `sink`); [`Error::FrameTooLarge`] when one window holds more samples than the
    /// input buffer; a stage's error; [`Error::Sink`]; or an error of the chunk source.
    pub fn stream_keyed<I, K, C, E>(
        &mut self,
        chunks: I,
        mut sink: impl Sink<OutputOf<G>>,
    ) -> Result<StreamEnd, E>
    where
        I: IntoIterator<Item = Result<(K, C), E>>,
        K: AsRef<[i64]>,
        C: AsRef<[G::Sample]>,
        E: From<Error>,
    {
        if self.core.config.key_windows.is_none() {
            return Err(Error::KeysUnexpected.into());
        }
        for chunk in chunks {
            let (keys, samples) = chunk?;
            if self
                .feed_keyed(keys.as_ref(), samples.as_ref(), &mut sink)?
                .is_break()
            {
                return Ok(self.stopped());
            }
        }
        // The end of the stream completes the windows still open.
        self.input.closed = true;
        if self.pull_flow(u64::MAX, &mut sink)?.is_break() {
            return Ok(self.stopped());
        }
        Ok(self.close())
    }

    /// Pushes `(keys, samples)` in pieces that fit the input buffer, pulling completed
    /// windows into `sink` as it goes (the body of [`stream_keyed`](Self::stream_keyed)).
    fn feed_keyed(
        &mut self,
        keys: &[i64],
        samples: &[G::Sample],
        sink: &mut impl Sink<OutputOf<G>>,
    ) -> Result<ControlFlow<()>, Error> {
        if keys.len() != samples.len() {
            return Err(Error::KeysLength {
                keys: keys.len(),
                samples: samples.len(),
            });
        }
        let mut at = 0;
        while at < samples.len() {
            let mut room = self.room();
            if room == 0 {
                if self.pull_flow(u64::MAX, &mut *sink)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
                room = self.room();
            }
            // With no room after pulling every complete window, push_keyed names the window.
            let n = room.clamp(1, samples.len() - at);
            self.push_keyed(&keys[at..at + n], &samples[at..at + n])?;
            at += n;
            let batch =
                parallel::push_parallelism(&self.core.config, 0, self.core.workers.forced).batch;
            if self.windows_available() >= self.input.next_out + batch
                && self.pull_flow(u64::MAX, &mut *sink)?.is_break()
            {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Samples the input buffer can take now before its capacity is reached.
    fn room(&self) -> usize {
        let c = &self.core.config;
        let capacity = (c.input_buffer_blocks * c.window) as u64;
        let held = self.input.total - self.input.start_of(c, self.input.next_out);
        usize::try_from(capacity.saturating_sub(held)).unwrap_or(usize::MAX)
    }
}
