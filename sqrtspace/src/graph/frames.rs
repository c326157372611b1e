//! The raw frames a stage reads: frame `t` is samples `[start(t), end(t))` of a borrowed run,
//! `[t*H, t*H + W)` for the count framing, or the samples whose keys fall in window `t` for
//! key windows ([`crate::framing`]).

use crate::error::Error;
use crate::framing::{below, KeyWindows};

/// The raw frames: a borrowed run of samples starting at absolute sample `first`.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a, T> {
    pub(crate) samples: &'a [T],
    pub(crate) first: u64,
    pub(crate) windows: u64,
    pub(crate) window: usize,
    pub(crate) hop: usize,
    /// Key windows: `None` for the count framing.
    pub(crate) keys: Option<KeyCut<'a>>,
}

/// The key framing of a run of [`Frames`]: the keys of its samples (same length and first
/// sample) and where its windows start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyCut<'a> {
    pub(crate) keys: &'a [i64],
    pub(crate) windows: KeyWindows,
    pub(crate) origin: i128,
    /// The oldest window whose samples are all in the run (every sample before the run has a
    /// key below its start).
    pub(crate) first_window: u64,
}

impl<'a, T> Frames<'a, T> {
    /// Count framing over a whole run starting at absolute sample `first`.
    pub(crate) fn count(
        samples: &'a [T],
        first: u64,
        windows: u64,
        window: usize,
        hop: usize,
    ) -> Self {
        Frames {
            samples,
            first,
            windows,
            window,
            hop,
            keys: None,
        }
    }

    /// Frame `t`: samples `[start(t), end(t))`.
    ///
    /// # Errors
    /// [`Error::FrameNotReady`] past the last complete window, [`Error::FrameEvicted`] before
    /// the oldest buffered sample.
    pub fn frame(&self, t: u64) -> Result<&'a [T], Error> {
        if t >= self.windows {
            return Err(Error::FrameNotReady {
                t,
                available: self.windows,
            });
        }
        let (start, end) = self.bounds(t)?;
        let s = usize::try_from(start - self.first).unwrap_or(usize::MAX);
        let e = usize::try_from(end - self.first).unwrap_or(usize::MAX);
        Ok(&self.samples[s..e])
    }

    /// Absolute sample bounds `[start, end)` of frame `t`, which must be buffered.
    pub(crate) fn bounds(&self, t: u64) -> Result<(u64, u64), Error> {
        match self.keys {
            None => {
                let start = t * self.hop as u64;
                if start < self.first {
                    return Err(Error::FrameEvicted {
                        t,
                        oldest: self.first.div_ceil(self.hop as u64),
                    });
                }
                Ok((start, start + self.window as u64))
            }
            Some(k) => {
                if t < k.first_window {
                    return Err(Error::FrameEvicted {
                        t,
                        oldest: k.first_window,
                    });
                }
                let s = below(k.keys, k.windows.start_key(k.origin, t));
                let e = below(k.keys, k.windows.end_key(k.origin, t));
                Ok((self.first + s as u64, self.first + e as u64))
            }
        }
    }

    /// Absolute sample range `[from, to)` that frames `lo..hi` read, within the run (`lo`
    /// raised to the oldest buffered window).
    pub(crate) fn covering(&self, lo: u64, hi: u64) -> (u64, u64) {
        let end_run = self.first + self.samples.len() as u64;
        if hi == 0 || lo >= hi {
            return (self.first, self.first);
        }
        let oldest = match self.keys {
            None => self.first.div_ceil(self.hop as u64),
            Some(k) => k.first_window,
        };
        let lo = lo.max(oldest).min(hi - 1);
        let from = self.bounds(lo).map_or(self.first, |b| b.0);
        let to = self.bounds(hi - 1).map_or(end_run, |b| b.1);
        (
            from.clamp(self.first, end_run),
            to.clamp(self.first, end_run),
        )
    }
}
