//! The push-mode input buffer: unprocessed samples plus the history that recomputation and
//! replays from checkpoints may still read (trimmed by the push API after each pull), and,
//! for key windows ([`crate::framing`]), the samples' keys beside them.

use crate::config::Config;
use crate::framing::below;

/// Push-mode input: unprocessed samples plus a bounded history for recomputation.
pub(crate) struct InputBuffer<T> {
    pub(crate) samples: Vec<T>,
    pub(crate) first: u64,
    pub(crate) total: u64,
    pub(crate) closed: bool,
    pub(crate) next_out: u64,
    /// Key windows: the key of each buffered sample (empty for the count framing).
    pub(crate) keys: Vec<i64>,
    /// Key windows: the last key pushed (`None` before the first).
    pub(crate) last_key: Option<i64>,
    /// Key windows: the start of window 0 (set by the first key).
    pub(crate) origin: i128,
    /// Key windows: the oldest window whose samples are all still buffered.
    pub(crate) first_window: u64,
}

impl<T> Default for InputBuffer<T> {
    fn default() -> Self {
        InputBuffer {
            samples: Vec::new(),
            first: 0,
            total: 0,
            closed: false,
            next_out: 0,
            keys: Vec::new(),
            last_key: None,
            origin: 0,
            first_window: 0,
        }
    }
}

impl<T> InputBuffer<T> {
    /// Windows complete so far: by count, or for key windows those whose end key has been
    /// passed (all that start at or before the last key once the stream is closed).
    pub(crate) fn windows(&self, c: &Config) -> u64 {
        match (c.key_windows, self.last_key) {
            (None, _) => c.windows_in(self.total),
            (Some(_), None) => 0,
            (Some(kw), Some(last)) if self.closed => kw.all_windows(self.origin, last),
            (Some(kw), Some(last)) => kw.complete_windows(self.origin, last),
        }
    }

    /// The absolute first sample of window `t` (at most `total`), which must not be older
    /// than the buffer.
    pub(crate) fn start_of(&self, c: &Config, t: u64) -> u64 {
        match c.key_windows {
            None => (t * c.hop as u64).min(self.total),
            Some(kw) if self.last_key.is_some() => {
                let t = t.max(self.first_window);
                self.first + below(&self.keys, kw.start_key(self.origin, t)) as u64
            }
            Some(_) => self.first,
        }
    }
}
