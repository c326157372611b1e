//! The planner: estimates working sets against RAM and the last-level cache and returns a
//! [`Plan`] (plain data, printable) with the reason for its choice. Execution reads the plan;
//! the planner never executes.
//!
//! Guard rails (from the sqrtspace-streams spec): classic when its working set fits
//! `0.6 x LLC` (it then runs from cache, with no bookkeeping); classic when it fits half the
//! RAM budget and sqrt would recompute more than
//! [`MAX_RECOMPUTE_PERCENT`](crate::cost::MAX_RECOMPUTE_PERCENT) of a pass (estimated from the
//! cost hints, [`crate::cost`]); otherwise sqrt, which measured faster than classic even when
//! classic fits in RAM (materialising columns costs page faults and cache misses:
//! `sqrtspace bench audio --extreme`), and which is the only choice when the working set
//! exceeds half the RAM budget. The sqrt LRU is the configured budget capped at `0.6 x LLC`,
//! raised (within the configured budget) to hold the outputs that are read again.
//! `k = ceil(sqrt(T))` for `T` windows, never below the dependency span, raised until
//! `ceil(T/k)` checkpoints fit the checkpoint budget.

use crate::config::{Checkpoints, Config, Mode, DEFAULT_K};
use crate::cost::{checkpointed_outputs, RecomputeEstimate, MAX_RECOMPUTE_PERCENT};
use crate::graph::Graph;
pub use crate::units::human;
use std::fmt;
use std::ops::Range;

/// The fallback last-level cache size when the OS does not report one: 32 MiB.
pub const LLC_FALLBACK: u64 = 32 << 20;

/// The least LRU budget the planner gives sqrt mode (when the configuration allows it): 1 MiB.
pub const LRU_FLOOR: u64 = 1 << 20;

/// What the planner knows about the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Machine {
    /// Available RAM in bytes (sysinfo's `available_memory`).
    pub ram_available: u64,
    /// Last-level cache in bytes.
    pub llc_bytes: u64,
    /// Where `llc_bytes` came from: `LLC_BYTES`, `/sys`, or `fallback`.
    pub llc_source: &'static str,
}

impl Machine {
    /// Reads the machine: RAM from sysinfo (0 where it cannot be read), LLC from the `LLC_BYTES` environment variable,
    /// else the highest-level cache in `/sys/devices/system/cpu/cpu0/cache`, else
    /// [`LLC_FALLBACK`].
    #[must_use]
    pub fn probe() -> Self {
        // RAM unknown (sysinfo cannot read this system): 0, so `auto` keeps to bounded memory.
        let ram_available = sysinfo::System::new().map_or(0, |mut sys| {
            sys.refresh_memory();
            sys.available_memory()
        });
        let (llc_bytes, llc_source) = llc();
        Machine {
            ram_available,
            llc_bytes,
            llc_source,
        }
    }
}

fn llc() -> (u64, &'static str) {
    if let Some(b) = std::env::var("LLC_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return (b, "LLC_BYTES");
    }
    let mut best: Option<(u32, u64)> = None;
    if let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache") {
        for e in dir.flatten() {
            let p = e.path();
            let level = std::fs::read_to_string(p.join("level"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok());
            let size = std::fs::read_to_string(p.join("size"))
                .ok()
                .and_then(|s| parse_size(s.trim()));
            if let (Some(l), Some(s)) = (level, size) {
                if best.is_none_or(|(bl, _)| l > bl) {
                    best = Some((l, s));
                }
            }
        }
    }
    best.map_or((LLC_FALLBACK, "fallback"), |(_, s)| (s, "/sys"))
}

fn parse_size(s: &str) -> Option<u64> {
    let (num, mul) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// Chooses modes and `k`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planner {
    /// The machine it plans for.
    pub machine: Machine,
}

impl Planner {
    /// A planner for this machine ([`Machine::probe`]).
    #[must_use]
    pub fn from_machine() -> Self {
        Planner {
            machine: Machine::probe(),
        }
    }

    /// The checkpoint interval and why: see the module docs.
    #[must_use]
    pub fn k_with_reason(
        &self,
        config: &Config,
        windows: Option<u64>,
        span: u64,
        state_bytes: usize,
    ) -> (u64, String) {
        if let Checkpoints::Every(k) = config.checkpoints {
            return (k, format!("k = {k} set by the configuration"));
        }
        let (mut k, mut why) = match windows {
            Some(t) => {
                let k = t.isqrt() + u64::from(t.isqrt() * t.isqrt() < t);
                (
                    k.max(1),
                    format!("k = ceil(sqrt({t} windows)) = {}", k.max(1)),
                )
            }
            None => (
                DEFAULT_K,
                format!("k = {DEFAULT_K} (stream length unknown)"),
            ),
        };
        if k < span {
            k = span;
            why = format!("{why}, raised to the dependency span of {span} windows");
        }
        if let (Some(t), true) = (windows, state_bytes > 0) {
            let fit = (t * state_bytes as u64).div_ceil(config.checkpoint_bytes.max(1) as u64);
            if fit > k {
                k = fit;
                why = format!("{why}, raised to {fit} so ceil(T/k) checkpoints of {state_bytes} bytes fit {} bytes", config.checkpoint_bytes);
            }
        }
        (k, why)
    }

    /// The LRU budget in bytes for `mode` when `hot_bytes` of outputs are read again
    /// ([`RecomputeEstimate::hot_bytes`], charged with the LRU's per-entry bytes; 0 when
    /// unknown): the configured one, capped in sqrt mode at `max(4 x hot_bytes,
    /// LRU_FLOOR)` and at `max(0.6 x LLC, hot_bytes)` (the spec's guard rail: hot outputs
    /// should stay cache-resident; one too small for the re-read outputs makes sqrt recompute
    /// them, but a larger one only adds hash-table cache misses and memory: a hop-1 lookback
    /// chain ran at 1.0 M windows/s with a 19 MiB LRU and 4.7 M windows/s with 1 MiB,
    /// `examples/rolling.rs`).
    #[must_use]
    pub fn lru_for(&self, config: &Config, mode: Mode, hot_bytes: u64) -> usize {
        match mode {
            Mode::Sqrt => {
                let cap = (self.machine.llc_bytes * 6 / 10)
                    .max(hot_bytes)
                    .min(hot_bytes.saturating_mul(4).max(LRU_FLOOR));
                config
                    .lru_bytes
                    .min(usize::try_from(cap).unwrap_or(usize::MAX))
            }
            _ => config.lru_bytes,
        }
    }

    /// [`k_with_reason`](Self::k_with_reason) without the reason.
    #[must_use]
    pub fn k_for(
        &self,
        config: &Config,
        windows: Option<u64>,
        span: u64,
        state_bytes: usize,
    ) -> u64 {
        self.k_with_reason(config, windows, span, state_bytes).0
    }

    /// Plans evaluating `range` when stage `i` needs windows `need[i]` and outputs about
    /// `per_window[i]` bytes a window, with `state_bytes` of state and a signal of
    /// `signal_samples` samples.
    #[must_use]
    pub fn plan<G: Graph>(
        &self,
        config: &Config,
        range: &Range<u64>,
        need: &[Option<Range<u64>>],
        per_window: &[usize],
        state_bytes: usize,
        signal_samples: usize,
    ) -> Plan {
        let windows = range.end - range.start;
        let (w, h) = config.overlap();
        let span = crate::graph::span::<G>(w, h);
        // k depends on the signal, not on the request, so that successive requests on one
        // signal share one grid of checkpoints.
        let total_windows = config.windows_in(signal_samples as u64).max(range.end);
        let (k, k_reason) = self.k_with_reason(config, Some(total_windows), span, state_bytes);
        let intermediates: u64 = need
            .iter()
            .zip(per_window)
            .map(|(r, &b)| r.as_ref().map_or(0, |r| (r.end - r.start) * b as u64))
            .sum();
        // What the LRU charges per output: the value and the entry's own bytes
        // (`lru_entry_overhead`, taking the value's inline size as at most 16 bytes).
        let charged: Vec<usize> = per_window
            .iter()
            .map(|&b| b + crate::cache::lru_entry_overhead(b.min(16)))
            .collect();
        let lru_intermediates: u64 = need
            .iter()
            .zip(&charged)
            .map(|(r, &b)| r.as_ref().map_or(0, |r| (r.end - r.start) * b as u64))
            .sum();
        let signal_bytes = (signal_samples * std::mem::size_of::<G::Sample>()) as u64;
        let classic_bytes = intermediates + signal_bytes;
        let checkpoints =
            (state_bytes as u64 * range.end.div_ceil(k)).min(config.checkpoint_bytes as u64);
        let recompute = RecomputeEstimate::new(G::STAGES, G::TOPO, need, &charged, k);
        let sqrt_lru = self.lru_for(config, Mode::Sqrt, recompute.hot_bytes);
        let recompute_percent = recompute.overhead_percent(sqrt_lru as u64);
        let sqrt_bytes = (sqrt_lru as u64).min(lru_intermediates) + checkpoints;
        let ram = config.ram_budget.unwrap_or(self.machine.ram_available);
        let llc = self.machine.llc_bytes;
        let (mode, reason) = match config.mode {
            Mode::Classic => (Mode::Classic, "classic requested by the configuration".to_string()),
            Mode::Sqrt => (Mode::Sqrt, "sqrt requested by the configuration".to_string()),
            Mode::Auto if classic_bytes * 10 <= llc * 6 => (
                Mode::Classic,
                format!("classic working set {} fits 0.6 x LLC ({}): nothing to save", human(classic_bytes), human(llc)),
            ),
            Mode::Auto if classic_bytes * 2 <= ram && recompute_percent > MAX_RECOMPUTE_PERCENT => (
                Mode::Classic,
                format!(
                    "classic working set {} fits the RAM budget ({}), and sqrt would recompute about {recompute_percent}% of a pass (cost hints; over {MAX_RECOMPUTE_PERCENT}%) because its LRU ({}) cannot hold the {} of outputs read again",
                    human(classic_bytes),
                    human(ram),
                    human(sqrt_lru as u64),
                    human(recompute.hot_bytes)
                ),
            ),
            Mode::Auto if classic_bytes * 2 <= ram => (
                Mode::Sqrt,
                format!(
                    "classic working set {} fits the RAM budget ({}) but not 0.6 x LLC ({}): materialising it costs page faults and cache misses, so sqrt is faster and bounds live memory to about {}",
                    human(classic_bytes),
                    human(ram),
                    human(llc * 6 / 10),
                    human(sqrt_bytes)
                ),
            ),
            Mode::Auto => (
                Mode::Sqrt,
                format!(
                    "classic working set {} exceeds half the RAM budget ({}); sqrt bounds live memory to about {}",
                    human(classic_bytes),
                    human(ram),
                    human(sqrt_bytes)
                ),
            ),
        };
        // Outputs worth a copy in the checkpoint ring, when sqrt expects to recompute.
        let checkpointed_outputs = if mode == Mode::Sqrt && recompute_percent > 0 {
            checkpointed_outputs(G::STAGES, G::TOPO, k)
                .into_iter()
                .enumerate()
                .filter(|&(i, c)| c && need[i].is_some())
                .map(|(i, _)| G::STAGES[i].name)
                .collect()
        } else {
            Vec::new()
        };
        let mut warnings = Vec::new();
        let lookback = G::STAGES
            .iter()
            .flat_map(|s| s.inputs)
            .any(|e| e.offset > 0);
        let stateful = G::STAGES.iter().any(|s| s.stateful);
        if mode == Mode::Sqrt
            && lookback
            && stateful
            && config.checkpoint_bytes == 0
            && sqrt_lru == 0
        {
            // Each lookback onto a stateful stage's past, with nothing cached and no
            // checkpoint to resume from, replays that stage from window 0.
            let replays = u128::from(range.end) * u128::from(range.end) / 2;
            warnings.push(format!(
                "no LRU and no checkpoints with lookback onto stateful stages: each lookback replays from window 0, about {replays} stage evaluations for {} windows (quadratic); give the LRU a budget (Config::lru_bytes) or checkpoints (Config::checkpoint_bytes)",
                range.end
            ));
        }
        warnings.extend(push_warnings::<G>(config));
        Plan {
            warnings,
            pipeline: G::NAME.to_string(),
            requested: config.mode,
            mode,
            window: config.window,
            hop: config.hop,
            key_windows: config.key_windows,
            range: range.clone(),
            windows,
            k,
            k_reason,
            lru_bytes: if mode == Mode::Sqrt {
                sqrt_lru
            } else {
                config.lru_bytes
            },
            checkpoint_bytes: config.checkpoint_bytes,
            classic_bytes,
            sqrt_bytes,
            ram_budget: ram,
            llc_bytes: llc,
            workers: 1,
            parallel: crate::parallel::Parallelism::single(
                config.max_workers,
                if mode == Mode::Sqrt {
                    sqrt_lru
                } else {
                    config.lru_bytes
                },
            ),
            recompute,
            recompute_percent,
            checkpointed_outputs,
            reason,
        }
    }
}

/// What an evaluation will do and why. Plain data: print it, compare it, serialise it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Plan {
    /// The pipeline's name.
    pub pipeline: String,
    /// The mode the configuration asked for.
    pub requested: Mode,
    /// The mode chosen (never `Auto`).
    pub mode: Mode,
    /// Frame length in samples.
    pub window: usize,
    /// Hop in samples.
    pub hop: usize,
    /// Key windows ([`crate::framing`]) when the pipeline frames by key (`window` and `hop`
    /// are then unused by the framing).
    pub key_windows: Option<crate::framing::KeyWindows>,
    /// Requested window range.
    pub range: Range<u64>,
    /// Windows requested.
    pub windows: u64,
    /// Checkpoint interval in windows.
    pub k: u64,
    /// Why that `k`.
    pub k_reason: String,
    /// LRU budget in bytes.
    pub lru_bytes: usize,
    /// Checkpoint budget in bytes.
    pub checkpoint_bytes: usize,
    /// Estimated classic working set in bytes (every needed intermediate plus the signal).
    pub classic_bytes: u64,
    /// Estimated sqrt live bytes (LRU plus checkpoints).
    pub sqrt_bytes: u64,
    /// RAM budget in bytes.
    pub ram_budget: u64,
    /// Last-level cache in bytes.
    pub llc_bytes: u64,
    /// Worker threads used (the calling thread included): `parallel.workers`.
    pub workers: usize,
    /// The workers, batch size, measured stage costs, sequential fraction and estimated
    /// speedup ([`crate::parallel`]); one worker unless `Config::max_workers > 1`.
    pub parallel: crate::parallel::Parallelism,
    /// What sqrt mode would recompute, estimated from the cost hints.
    pub recompute: RecomputeEstimate,
    /// Estimated sqrt recompute overhead in percent of one pass with the sqrt LRU budget.
    pub recompute_percent: u64,
    /// Stages whose outputs sqrt mode also snapshots into the checkpoint ring every `k`
    /// windows ([`crate::cost::checkpointed_outputs`]); empty unless recomputation is expected.
    pub checkpointed_outputs: Vec<&'static str>,
    /// Why that mode.
    pub reason: String,
    /// Problems of the configuration the plan runs into (empty when none), e.g. a
    /// recomputation that grows with the square of the range.
    pub warnings: Vec<String>,
}

/// What push mode ([`Pipeline::stream`](crate::Pipeline::stream),
/// [`Pipeline::push_samples`](crate::Pipeline::push_samples)) runs into with `config`: with
/// stateful stages and no checkpoints (`checkpoint_bytes` 0), a replay could have to restart
/// at window 0, so the input buffer keeps every sample of the stream (memory grows with its
/// length, whatever the LRU). Empty when there is nothing to say. [`Planner::plan`] adds these
/// to [`Plan::warnings`]; [`Pipeline::push_warnings`](crate::Pipeline::push_warnings) returns
/// them for a pipeline.
#[must_use]
pub fn push_warnings<G: Graph>(config: &Config) -> Vec<String> {
    let stateful: Vec<&str> = G::STAGES
        .iter()
        .filter(|s| s.stateful)
        .map(|s| s.name)
        .collect();
    if stateful.is_empty() || config.checkpoint_bytes != 0 {
        return Vec::new();
    }
    vec![format!(
        "no checkpoints (checkpoint_bytes 0) with stateful stages ({}): push mode (stream, push_samples) keeps every sample of the stream in its input buffer, since a replay may have to restart at window 0 (memory grows with the stream's length); give checkpoints a budget (Config::checkpoint_bytes) to bound it",
        stateful.join(", ")
    )]
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Plan for {} over windows {}..{} ({} windows)",
            self.pipeline, self.range.start, self.range.end, self.windows
        )?;
        writeln!(
            f,
            "  mode:        {} ({} requested)",
            self.mode, self.requested
        )?;
        writeln!(f, "  why:         {}", self.reason)?;
        match self.key_windows {
            None => writeln!(f, "  window/hop:  {} / {} samples", self.window, self.hop)?,
            Some(k) => writeln!(
                f,
                "  frames:      by key, [origin + t*{e}, origin + t*{e} + {p}) (every {e}, period {p} key units)",
                e = k.every,
                p = k.period
            )?,
        }
        writeln!(f, "  k:           {} ({})", self.k, self.k_reason)?;
        writeln!(
            f,
            "  LRU:         {}   checkpoints: {}",
            human(self.lru_bytes as u64),
            human(self.checkpoint_bytes as u64)
        )?;
        writeln!(
            f,
            "  classic set: {}   sqrt live: {}",
            human(self.classic_bytes),
            human(self.sqrt_bytes)
        )?;
        writeln!(
            f,
            "  re-read:     {} of outputs read again; sqrt recompute ~{}% of a pass (cost hints)",
            human(self.recompute.hot_bytes),
            self.recompute_percent
        )?;
        if !self.checkpointed_outputs.is_empty() {
            writeln!(
                f,
                "  checkpointed outputs (every k windows): {}",
                self.checkpointed_outputs.join(", ")
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "  warning:     {w}")?;
        }
        if self.parallel.requested > 1 {
            writeln!(f, "{}", self.parallel)?;
        }
        write!(
            f,
            "  RAM budget:  {}   LLC: {}   workers: {}",
            human(self.ram_budget),
            human(self.llc_bytes),
            self.workers
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("32768K"), Some(32 << 20));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(human(64 << 20), "64.0 MiB");
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 29), "1.5 GiB");
    }

    #[test]
    fn k_is_sqrt_t_bounded_by_span_and_budget() {
        let p = Planner {
            machine: Machine {
                ram_available: 1 << 30,
                llc_bytes: 32 << 20,
                llc_source: "test",
            },
        };
        let c = Config::default();
        assert_eq!(p.k_for(&c, Some(1_000_000), 5, 0), 1000);
        assert_eq!(p.k_for(&c, Some(10), 5, 0), 5, "never below the span");
        assert_eq!(p.k_for(&c, None, 5, 0), DEFAULT_K);
        let small = c.clone().with_checkpoint_bytes(1000);
        assert_eq!(
            p.k_for(&small, Some(10_000), 1, 10),
            100,
            "ceil(T/k) checkpoints fit the budget"
        );
        let fixed = c.with_checkpoints(Checkpoints::Every(7));
        assert_eq!(p.k_for(&fixed, Some(10_000), 50, 10), 7);
    }
}
