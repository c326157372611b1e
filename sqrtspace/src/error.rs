//! The typed errors of the runtime.

use std::ops::Range;

/// An invalid [`Config`](crate::Config) value. Each message names the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `window` was 0.
    #[error("window must be at least 1 sample; set Config::window to the frame length in samples (e.g. 4096)")]
    ZeroWindow,
    /// `hop` was 0.
    #[error("hop must be at least 1 sample; set Config::hop to the frame advance in samples (e.g. window / 4)")]
    ZeroHop,
    /// `hop > window` would skip samples between frames.
    #[error("hop ({hop} samples) is larger than window ({window} samples), so samples between frames would be skipped; use hop <= window")]
    HopExceedsWindow {
        /// The configured hop in samples.
        hop: usize,
        /// The configured window in samples.
        window: usize,
    },
    /// A fixed checkpoint interval of 0.
    #[error("checkpoint interval k must be at least 1 window; use Checkpoints::Every(k) with k >= 1 or Checkpoints::Auto")]
    ZeroCheckpointInterval,
    /// `input_buffer_blocks` was 0.
    #[error("input_buffer_blocks must be at least 1 window; it bounds how many unprocessed windows push_samples buffers")]
    ZeroInputBuffer,
    /// `input_buffer_blocks x window` overflows or exceeds
    /// [`MAX_INPUT_BUFFER_SAMPLES`](crate::config::MAX_INPUT_BUFFER_SAMPLES).
    #[error("input_buffer_blocks x window ({blocks} x {window} samples) is over the limit of {max} samples; lower Config::input_buffer_blocks or the window")]
    InputBufferTooLarge {
        /// The configured `input_buffer_blocks`.
        blocks: usize,
        /// The configured window in samples.
        window: usize,
        /// The limit in samples.
        max: usize,
    },
    /// `max_workers` was 0.
    #[error("max_workers must be at least 1")]
    ZeroWorkers,
    /// [`KeyWindows`](crate::framing::KeyWindows) with `every` or `period` not above 0.
    #[error("key windows need every > 0 and period > 0 (got every {every}, period {period}, in key units); e.g. every 5m and period 1h")]
    KeyWindowsNotPositive {
        /// The distance between window starts given.
        every: i64,
        /// The window length given.
        period: i64,
    },
    /// [`KeyWindows`](crate::framing::KeyWindows) with `period < every`: samples between
    /// windows would belong to none.
    #[error("key windows with period ({period}) shorter than every ({every}) leave keys between windows that no window covers; use period >= every")]
    PeriodShorterThanEvery {
        /// The distance between window starts given.
        every: i64,
        /// The window length given.
        period: i64,
    },
    /// `checkpoint_bytes` cannot hold two checkpoints of the pipeline's state (the one a
    /// replay resumes from and the next), so replays could not stay within k windows and push
    /// mode could not bound its history.
    #[error("checkpoint_bytes ({budget} bytes) cannot hold two checkpoints of the pipeline's state ({needed} bytes: twice the initial state of every stateful stage); set Config::checkpoint_bytes to at least {needed} (the default is 16 MiB), or to 0 for no checkpoints (replays then start at window 0)")]
    CheckpointBudgetTooSmall {
        /// The configured `checkpoint_bytes`.
        budget: usize,
        /// Bytes of two checkpoints of every stateful stage's initial state.
        needed: usize,
    },
}

/// An error while evaluating or streaming a pipeline.
///
/// Its `Debug` output is the message followed by its causes (as `anyhow` prints them), so a
/// `main` that returns `Result<(), sqrtspace::Error>` shows the user what to change rather
/// than the variant's fields:
///
/// ```no_run
/// fn main() -> Result<(), sqrtspace::Error> {
///     let bytes = std::fs::read("recording.raw")?; // io::Error converts into Error::Io
///     # let _ = bytes;
///     Ok(())
/// }
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The requested window range is empty or reversed.
    #[error("empty window range {start}..{end}: ranges are half-open [t0, t1) with t0 < t1")]
    EmptyRange {
        /// Requested t0.
        start: u64,
        /// Requested t1.
        end: u64,
    },
    /// The requested windows go past the end of the signal.
    #[error("window range {requested:?} needs windows past the end: the signal has {available} complete windows (window {window}, hop {hop} samples); request at most ..{available}")]
    RangeOutOfBounds {
        /// The requested half-open range of window indices.
        requested: Range<u64>,
        /// Complete windows the signal holds.
        available: u64,
        /// Window in samples.
        window: usize,
        /// Hop in samples.
        hop: usize,
    },
    /// `push_samples` was refused: buffering the chunk would exceed `input_buffer_blocks` windows.
    /// Nothing was enqueued.
    #[error("backpressure: buffering {offered} more samples would hold {would_hold} unprocessed samples, over the capacity of {capacity} (input_buffer_blocks x window); pull outputs first (pull_until) or push smaller chunks")]
    Backpressure {
        /// Samples in the refused chunk.
        offered: usize,
        /// Unprocessed samples the buffer would hold.
        would_hold: u64,
        /// Capacity in samples.
        capacity: u64,
    },
    /// A sample was pushed after `close()`.
    #[error("push after close: the stream was closed after {total} samples; create a new pipeline or call reset() to start another stream")]
    PushAfterClose {
        /// Samples accepted before close.
        total: u64,
    },
    /// A frame that the evaluation needs is no longer buffered (push mode keeps a bounded history).
    #[error("window {t} is no longer buffered: push mode keeps windows from {oldest} on; pull outputs in order")]
    FrameEvicted {
        /// Window index that was needed.
        t: u64,
        /// Oldest window still buffered.
        oldest: u64,
    },
    /// A frame that is not yet available (not enough samples pushed).
    #[error("window {t} is not complete yet: only {available} complete windows have been pushed")]
    FrameNotReady {
        /// Window index that was needed.
        t: u64,
        /// Complete windows available.
        available: u64,
    },
    /// Reading samples from a byte stream failed ([`crate::source`]).
    #[error("reading samples failed after {samples_read} complete samples: {source}")]
    Read {
        /// Complete samples read before the failure (all of them were handed on).
        samples_read: u64,
        /// The reader's error.
        #[source]
        source: std::io::Error,
    },
    /// A byte stream ended inside a sample ([`crate::source`]).
    #[error("the stream ended inside a sample: {trailing_bytes} trailing byte(s) after {samples_read} complete samples of {sample_bytes} bytes; the input is truncated or holds another sample type (check the sample format)")]
    TruncatedSample {
        /// Complete samples read (all of them were handed on).
        samples_read: u64,
        /// Bytes of the incomplete last sample.
        trailing_bytes: usize,
        /// Bytes per sample of the expected type.
        sample_bytes: usize,
    },
    /// A stage returned an error of its own (a stage function returning `Result<T, E>`). The
    /// outputs of every window before `window` were delivered; see `#[stage]` for what the
    /// pipeline does next.
    #[error("stage `{stage}` failed at window {window}: {source}")]
    Stage {
        /// Stage name.
        stage: &'static str,
        /// Window index.
        window: u64,
        /// The stage's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// A sink callback returned `Err(e)` for the output of `window` (see
    /// [`SinkFlow`](crate::exec::SinkFlow)): the run stopped there. The outputs of every
    /// window up to and including `window` were handed to the sink; nothing after it was
    /// evaluated.
    #[error("the sink failed at window {window}: {source}")]
    Sink {
        /// Window index whose output the sink could not take.
        window: u64,
        /// The sink's error (e.g. an `std::io::Error` of a writer).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Memory for a result or a classic-mode column could not be reserved.
    #[error("out of memory: could not reserve {bytes} bytes for {what}; evaluate a shorter range, use Mode::Sqrt (memory independent of the range), or a sink (evaluate_with) instead of collecting")]
    OutOfMemory {
        /// Bytes asked for.
        bytes: usize,
        /// What they were for.
        what: &'static str,
    },
    /// An I/O error of the caller's own (opening a file, ...), so that `?` works in a `main`
    /// returning `Result<(), sqrtspace::Error>`.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A sample's key is below the key before it: key windows need non-decreasing keys.
    #[error("keys go backwards at sample {index}: key {key} after {previous}; key windows need non-decreasing keys (sort the input by its key, or drop or count the out-of-order rows before pushing them)")]
    KeysBackwards {
        /// Absolute index of the offending sample in the stream.
        index: u64,
        /// Its key.
        key: i64,
        /// The key of the sample before it.
        previous: i64,
    },
    /// Keys and samples of different lengths were pushed together.
    #[error("{keys} keys for {samples} samples: push exactly one key per sample")]
    KeysLength {
        /// Keys given.
        keys: usize,
        /// Samples given.
        samples: usize,
    },
    /// Samples without keys were given to a pipeline that frames by key.
    #[error("this pipeline frames by key (Config::key_windows is set): give every sample its key with push_keyed, stream_keyed or over_keyed, or clear Config::key_windows to frame by sample count")]
    KeysRequired,
    /// Keys were given to a pipeline that frames by sample count.
    #[error("keys were given but this pipeline frames by sample count (Config::key_windows is None): set Config::with_key_windows(every, period) to frame by key, or use push_samples, stream or over")]
    KeysUnexpected,
    /// A key window holds more samples than the push-mode input buffer can take before it
    /// completes.
    #[error("window {window} is still open after {held} samples, the whole input buffer ({capacity} samples = input_buffer_blocks x window): a key window holds up to period x the highest sample rate; raise Config::input_buffer_blocks (or window, its unit), or shorten the period")]
    FrameTooLarge {
        /// The window that cannot complete.
        window: u64,
        /// Unprocessed samples buffered (all in live windows).
        held: u64,
        /// The input buffer's capacity in samples.
        capacity: u64,
    },
    /// A stage panicked during an earlier call: the engine's state may be half updated, so the
    /// pipeline refuses further work until [`Pipeline::reset`](crate::Pipeline::reset).
    #[error("the pipeline is poisoned: a stage panicked during an earlier call; call reset() (or build a new pipeline) before using it again")]
    Poisoned,
}

/// The message and its chain of causes: what `main() -> Result<(), Error>` prints on failure.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = self.to_string();
        write!(f, "{message}")?;
        let mut source = std::error::Error::source(self);
        let mut first = true;
        while let Some(cause) = source {
            let text = cause.to_string();
            // Most messages already quote their cause (`invalid configuration: {0}`).
            if !message.contains(&text) {
                if first {
                    write!(f, "\n\nCaused by:")?;
                    first = false;
                }
                write!(f, "\n    {text}")?;
            }
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_the_message_and_its_causes_for_main() {
        let e = Error::from(ConfigError::ZeroHop);
        assert_eq!(format!("{e:?}"), format!("{e}"));
        assert!(format!("{e:?}").starts_with("invalid configuration: hop must be at least 1"));
        let io = Error::from(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        let text = format!("{io:?}");
        assert!(text.starts_with(&io.to_string()), "{text}");
        assert!(!text.contains("Io("), "{text}");
    }
}
