//! The input API of key windows ([`crate::framing`]): [`Pipeline::over_keyed`] (pull),
//! [`Pipeline::push_keyed`] (push) and [`Pipeline::stream_keyed`], which pushes
//! `(keys, samples)` chunks in pieces that fit the input buffer and pulls windows as they
//! complete.

use crate::error::Error;
use crate::exec::parallel;
use crate::exec::pipeline::Pipeline;
use crate::exec::pull::Session;
use crate::exec::push::StreamEnd;
use crate::exec::sink::Sink;
use crate::graph::{Graph, OutputOf};
use std::ops::ControlFlow;

impl<G: Graph> Pipeline<G> {
    /// [`over`](Self::over) for a pipeline that frames by key ([`Config::key_windows`](crate::Config::key_windows)):
    /// `keys[i]` is the key (timestamp) of `signal[i]`, non-decreasing, and window `t` is the
    /// samples whose keys fall in `[origin + t*every, origin + t*every + period)` (see
    /// [`crate::framing`]). The signal has `floor((last - origin) / every) + 1` windows (none
    /// when it is empty), empty ones included.
    ///
    /// # Errors
    /// [`Error::KeysUnexpected`] when the pipeline frames by count, [`Error::KeysLength`],
    /// [`Error::KeysBackwards`] (checked before anything runs).
    pub fn over_keyed<'p, 's>(
        &'p mut self,
        signal: &'s [G::Sample],
        keys: &'s [i64],
    ) -> Result<Session<'p, 's, G>, Error> {
        if self.core.config.key_windows.is_none() {
            return Err(Error::KeysUnexpected);
        }
        if keys.len() != signal.len() {
            return Err(Error::KeysLength {
                keys: keys.len(),
                samples: signal.len(),
            });
        }
        crate::framing::check_keys(keys, None, 0)?;
        let mut s = self.over(signal);
        s.keys = Some(keys);
        Ok(s)
    }

    /// Push mode with key windows ([`Config::key_windows`](crate::Config::key_windows), see
    /// [`crate::framing`]): appends `samples` with their `keys` (one per sample,
    /// non-decreasing across pushes). The first key sets the origin. A window is complete,
    /// and can be pulled, once a key at or past its end has been pushed; the windows still
    /// open complete at [`close`](Self::close) (pull them after it).
    ///
    /// Backpressure as for [`push_samples`](Self::push_samples): the chunk is refused whole
    /// when the samples from the start of the next window to pull on would exceed
    /// `input_buffer_blocks x window`. [`stream_keyed`](Self::stream_keyed) sizes its pushes
    /// to fit and pulls as it goes.
    ///
    /// # Errors
    /// [`Error::KeysUnexpected`] when the pipeline frames by count; [`Error::KeysLength`];
    /// [`Error::KeysBackwards`] (nothing is enqueued); [`Error::PushAfterClose`];
    /// [`Error::Backpressure`]; [`Error::FrameTooLarge`] when the buffer is full with samples
    /// of a window that is still open, so that no pull can make room.
    pub fn push_keyed(&mut self, keys: &[i64], samples: &[G::Sample]) -> Result<(), Error> {
        let Some(kw) = self.core.config.key_windows else {
            return Err(Error::KeysUnexpected);
        };
        if keys.len() != samples.len() {
            return Err(Error::KeysLength {
                keys: keys.len(),
                samples: samples.len(),
            });
        }
        if self.input.closed {
            return Err(Error::PushAfterClose {
                total: self.input.total,
            });
        }
        if self.bound {
            self.reset();
        }
        crate::framing::check_keys(keys, self.input.last_key, self.input.total)?;
        let c = &self.core.config;
        let capacity = (c.input_buffer_blocks * c.window) as u64;
        let consumed = self.input.start_of(c, self.input.next_out);
        let held = self.input.total - consumed;
        let would_hold = held + samples.len() as u64;
        if would_hold > capacity && !samples.is_empty() {
            if held >= capacity && self.input.next_out >= self.input.windows(c) {
                return Err(Error::FrameTooLarge {
                    window: self.input.next_out,
                    held,
                    capacity,
                });
            }
            return Err(Error::Backpressure {
                offered: samples.len(),
                would_hold,
                capacity,
            });
        }
        if let (None, Some(&k)) = (self.input.last_key, keys.first()) {
            self.input.origin = kw.origin(k);
        }
        if let Some(&k) = keys.last() {
            self.input.last_key = Some(k);
        }
        self.input.keys.extend_from_slice(keys);
        self.input.samples.extend_from_slice(samples);
        self.input.total += samples.len() as u64;
        Ok(())
    }

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
