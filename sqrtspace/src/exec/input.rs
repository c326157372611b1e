//! The push-mode input buffer: unprocessed samples plus the history that recomputation and
//! replays from checkpoints may still read (trimmed by the push API after each pull).

/// Push-mode input: unprocessed samples plus a bounded history for recomputation.
pub(crate) struct InputBuffer<T> {
    pub(crate) samples: Vec<T>,
    pub(crate) first: u64,
    pub(crate) total: u64,
    pub(crate) closed: bool,
    pub(crate) next_out: u64,
}

impl<T> Default for InputBuffer<T> {
    fn default() -> Self {
        InputBuffer {
            samples: Vec::new(),
            first: 0,
            total: 0,
            closed: false,
            next_out: 0,
        }
    }
}
