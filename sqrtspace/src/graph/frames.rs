//! The raw frames a stage reads: frame `t` is samples `[t*H, t*H + W)` of a borrowed run.

use crate::error::Error;

/// The raw frames: a borrowed run of samples starting at absolute sample `first`.
#[derive(Debug, Clone, Copy)]
pub struct Frames<'a, T> {
    pub(crate) samples: &'a [T],
    pub(crate) first: u64,
    pub(crate) windows: u64,
    pub(crate) window: usize,
    pub(crate) hop: usize,
}

impl<'a, T> Frames<'a, T> {
    /// Frame `t`: samples `[t*H, t*H + W)`.
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
        let start = t * self.hop as u64;
        if start < self.first {
            return Err(Error::FrameEvicted {
                t,
                oldest: self.first.div_ceil(self.hop as u64),
            });
        }
        let s = usize::try_from(start - self.first).unwrap_or(usize::MAX);
        Ok(&self.samples[s..s + self.window])
    }
}
