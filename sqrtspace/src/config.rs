//! The engine's knobs, with the spec's defaults, validated into a [`Config`].

use crate::error::ConfigError;
use crate::framing::KeyWindows;
use std::fmt;

/// 1 MiB in bytes.
pub const MIB: usize = 1 << 20;

/// Which executor evaluates a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Mode {
    /// Let the [planner](crate::plan) choose from the estimated working set, RAM and LLC.
    #[default]
    Auto,
    /// Stage by stage over the whole range, materialising every intermediate (the baseline).
    Classic,
    /// Depth-first per window with a byte-bounded LRU and checkpoints (memory independent of length).
    Sqrt,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Auto => "auto",
            Mode::Classic => "classic",
            Mode::Sqrt => "sqrt",
        })
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Mode::Auto),
            "classic" => Ok(Mode::Classic),
            "sqrt" => Ok(Mode::Sqrt),
            other => Err(format!("unknown mode `{other}`: use auto, classic or sqrt")),
        }
    }
}

/// How often stateful stages are checkpointed, in windows (`k`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Checkpoints {
    /// `k = ceil(sqrt(T))` for a request of `T` windows, [`DEFAULT_K`] when `T` is unknown
    /// (streaming); never below the dependency span, raised so checkpoints fit their byte budget.
    #[default]
    Auto,
    /// Every `k` windows (`k >= 1`).
    Every(u64),
}

/// The checkpoint interval used when the stream length is unknown (the spec's default, 16).
pub const DEFAULT_K: u64 = 16;

/// The most samples the push-mode input buffer may hold (`input_buffer_blocks x window`):
/// 2^40 (`usize::MAX / 8` on 32-bit targets), a limit far above any machine's memory that keeps the products computed from it
/// (bytes, sample positions) from overflowing.
pub const MAX_INPUT_BUFFER_SAMPLES: usize = if usize::BITS >= 64 {
    (1u64 << 40) as usize
} else {
    usize::MAX / 8
};

/// Engine configuration. Build with [`Config::default`] and the `with_*` setters, then
/// [`validate`](Config::validate) (the pipeline constructors validate for you).
///
/// | field | unit | default |
/// |---|---|---|
/// | `window` | samples per frame | 4096 |
/// | `hop` | samples between frame starts | 1024 |
/// | `checkpoints` | windows between checkpoints (`k`) | `Auto` |
/// | `lru_bytes` | bytes of cached stage outputs | 64 MiB |
/// | `checkpoint_bytes` | bytes of checkpointed state | 16 MiB |
/// | `max_workers` | threads | 1 |
/// | `input_buffer_blocks` | windows of unprocessed samples `push_samples` buffers | 64 |
/// | `mode` | executor | `Auto` |
/// | `ram_budget` | bytes the planner may assume free (None: read from the OS) | None |
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Config {
    /// Frame length `W` in samples.
    pub window: usize,
    /// Frame advance `H` in samples (`1 <= H <= W`).
    pub hop: usize,
    /// Checkpoint interval `k` in windows.
    pub checkpoints: Checkpoints,
    /// Byte budget of the LRU over all stages' outputs (0 forces recomputation).
    pub lru_bytes: usize,
    /// Byte budget of the checkpoint ring.
    pub checkpoint_bytes: usize,
    /// Most worker threads (the calling thread included). With more than 1, the pure prefix
    /// of the graph is computed ahead in batches on that many threads, capped at the cores,
    /// and only when the planner's probe estimates it pays ([`crate::exec::parallel`],
    /// [`crate::parallel::Parallelism`]); outputs are identical to one worker's.
    pub max_workers: usize,
    /// Capacity of the push-mode input buffer, in windows of unprocessed samples.
    pub input_buffer_blocks: usize,
    /// Which executor to use.
    pub mode: Mode,
    /// RAM the planner may use, in bytes; `None` reads available memory from the OS.
    pub ram_budget: Option<u64>,
    /// Frames by key instead of by sample count ([`crate::framing`]): window `t` covers the
    /// samples whose keys are in `[origin + t*every, origin + t*every + period)`, and the
    /// input is pushed with one key per sample (`push_keyed`, `stream_keyed`, `over_keyed`).
    /// `window` is then only the unit of the input budget (`input_buffer_blocks x window`
    /// samples) and `hop` is unused. `None` (the default): frames by `window`/`hop`.
    pub key_windows: Option<KeyWindows>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window: 4096,
            hop: 1024,
            checkpoints: Checkpoints::Auto,
            lru_bytes: 64 * MIB,
            checkpoint_bytes: 16 * MIB,
            max_workers: 1,
            input_buffer_blocks: 64,
            mode: Mode::Auto,
            ram_budget: None,
            key_windows: None,
        }
    }
}

impl Config {
    /// Sets the frame length in samples.
    #[must_use]
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window;
        self
    }
    /// Sets the hop in samples.
    #[must_use]
    pub fn with_hop(mut self, hop: usize) -> Self {
        self.hop = hop;
        self
    }
    /// Sets the checkpoint policy.
    #[must_use]
    pub fn with_checkpoints(mut self, checkpoints: Checkpoints) -> Self {
        self.checkpoints = checkpoints;
        self
    }
    /// Sets the LRU budget in bytes.
    #[must_use]
    pub fn with_lru_bytes(mut self, bytes: usize) -> Self {
        self.lru_bytes = bytes;
        self
    }
    /// Sets the checkpoint ring budget in bytes.
    #[must_use]
    pub fn with_checkpoint_bytes(mut self, bytes: usize) -> Self {
        self.checkpoint_bytes = bytes;
        self
    }
    /// Sets the executor mode.
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// Sets the push-mode input buffer capacity in windows.
    #[must_use]
    pub fn with_input_buffer_blocks(mut self, blocks: usize) -> Self {
        self.input_buffer_blocks = blocks;
        self
    }
    /// Sets the most worker threads (see [`Config::max_workers`]; 0 is rejected by
    /// [`validate`](Config::validate)).
    #[must_use]
    pub fn with_max_workers(mut self, workers: usize) -> Self {
        self.max_workers = workers;
        self
    }
    /// Sets the RAM budget the planner assumes, in bytes.
    #[must_use]
    pub fn with_ram_budget(mut self, bytes: u64) -> Self {
        self.ram_budget = Some(bytes);
        self
    }

    /// Frames by key: window `t` covers keys `[origin + t*every, origin + t*every + period)`
    /// (see [`crate::framing`]; `every` and `period` in the keys' unit).
    #[must_use]
    pub fn with_key_windows(mut self, every: i64, period: i64) -> Self {
        self.key_windows = Some(KeyWindows { every, period });
        self
    }

    /// The `(window, hop)` pair whose `ceil(window / hop)` is how many frames overlap a
    /// sample: `(W, H)` for the count framing, `(ceil(period / every), 1)` for key windows.
    /// For [`crate::graph::span`].
    #[must_use]
    pub fn overlap(&self) -> (usize, usize) {
        match self.key_windows {
            None => (self.window, self.hop),
            Some(k) => (
                usize::try_from((k.period.max(1) as u64).div_ceil(k.every.max(1) as u64))
                    .unwrap_or(usize::MAX),
                1,
            ),
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first invalid field and what to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.window == 0 {
            return Err(ConfigError::ZeroWindow);
        }
        if self.hop == 0 {
            return Err(ConfigError::ZeroHop);
        }
        // With key windows the hop is unused (and the window only the input budget's unit).
        if self.hop > self.window && self.key_windows.is_none() {
            return Err(ConfigError::HopExceedsWindow {
                hop: self.hop,
                window: self.window,
            });
        }
        if self.checkpoints == Checkpoints::Every(0) {
            return Err(ConfigError::ZeroCheckpointInterval);
        }
        if self.input_buffer_blocks == 0 {
            return Err(ConfigError::ZeroInputBuffer);
        }
        if self
            .input_buffer_blocks
            .checked_mul(self.window)
            .is_none_or(|s| s > MAX_INPUT_BUFFER_SAMPLES)
        {
            return Err(ConfigError::InputBufferTooLarge {
                blocks: self.input_buffer_blocks,
                window: self.window,
                max: MAX_INPUT_BUFFER_SAMPLES,
            });
        }
        if self.max_workers == 0 {
            return Err(ConfigError::ZeroWorkers);
        }
        if let Some(KeyWindows { every, period }) = self.key_windows {
            if every <= 0 || period <= 0 {
                return Err(ConfigError::KeyWindowsNotPositive { every, period });
            }
            if period < every {
                return Err(ConfigError::PeriodShorterThanEvery { every, period });
            }
        }
        Ok(())
    }

    /// Complete windows in a signal of `samples` samples: `(samples - W) / H + 1`, or 0 when
    /// `samples < W`.
    #[must_use]
    pub fn windows_in(&self, samples: u64) -> u64 {
        let w = self.window as u64;
        if samples < w {
            0
        } else {
            (samples - w) / self.hop as u64 + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::default();
        assert_eq!(
            (c.window, c.hop, c.lru_bytes, c.input_buffer_blocks),
            (4096, 1024, 64 * MIB, 64)
        );
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn invalid_values_are_typed_errors() {
        let c = Config::default();
        assert_eq!(
            c.clone().with_window(0).validate(),
            Err(ConfigError::ZeroWindow)
        );
        assert_eq!(c.clone().with_hop(0).validate(), Err(ConfigError::ZeroHop));
        assert_eq!(
            c.clone().with_window(8).with_hop(9).validate(),
            Err(ConfigError::HopExceedsWindow { hop: 9, window: 8 })
        );
        assert_eq!(
            c.clone().with_checkpoints(Checkpoints::Every(0)).validate(),
            Err(ConfigError::ZeroCheckpointInterval)
        );
        assert_eq!(
            c.clone().with_input_buffer_blocks(0).validate(),
            Err(ConfigError::ZeroInputBuffer)
        );
        assert_eq!(
            c.clone().with_key_windows(0, 5).validate(),
            Err(ConfigError::KeyWindowsNotPositive {
                every: 0,
                period: 5
            })
        );
        assert_eq!(
            c.clone().with_key_windows(10, 5).validate(),
            Err(ConfigError::PeriodShorterThanEvery {
                every: 10,
                period: 5
            })
        );
        assert_eq!(c.clone().with_key_windows(5, 12).overlap(), (3, 1));
        let msg = ConfigError::HopExceedsWindow { hop: 9, window: 8 }.to_string();
        assert!(msg.contains("use hop <= window"), "{msg}");
    }

    #[test]
    fn window_count() {
        let c = Config::default().with_window(4).with_hop(2);
        assert_eq!(c.windows_in(3), 0);
        assert_eq!(c.windows_in(4), 1);
        assert_eq!(c.windows_in(5), 1);
        assert_eq!(c.windows_in(6), 2);
    }
}
