//! Measurements: the engine's own counters and the process's resource usage (getrusage(2) and
//! `/proc/self/io`), and the [`Report`] printed after a run.

use crate::config::Mode;
use crate::stage::StageMeta;
use crate::units::human;
use std::fmt;
use std::time::{Duration, Instant};

/// Per-stage counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageCounters {
    /// The stage's name.
    pub name: &'static str,
    /// Times the stage function ran (first computations, recomputations and replays).
    pub evaluations: u64,
    /// Fetches served by the LRU.
    pub cache_hits: u64,
    /// Fetches served by an output snapshot in the checkpoint ring (see
    /// [`crate::cost::checkpointed_outputs`]).
    pub checkpoint_hits: u64,
    /// Evaluations of a window the stage had already computed (rematerialisation).
    pub recomputes: u64,
    /// Windows run only to advance state to a requested window (from a checkpoint or 0).
    pub replayed_windows: u64,
    /// Times state was restored from a checkpoint (or reset to the initial state).
    pub restores: u64,
    /// One past the highest window computed so far (evaluations below it are recomputes).
    pub computed_to: u64,
}

/// The engine's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// One entry per stage, in declaration order.
    pub stages: Vec<StageCounters>,
    /// LRU evictions.
    pub evictions: u64,
    /// Checkpoints saved.
    pub checkpoint_saves: u64,
    /// Checkpoints evicted from the ring (oldest first, or dropped in push mode once no later
    /// window can resume from them).
    pub checkpoint_evictions: u64,
    /// Checkpoints the ring refused: larger than its budget, or no room beside the
    /// checkpoints push mode resumes from. Replays then start further back (push mode keeps
    /// more history): raise `checkpoint_bytes`.
    pub checkpoint_refusals: u64,
    /// Output snapshots saved (see [`crate::cost::checkpointed_outputs`]).
    pub output_checkpoint_saves: u64,
    /// Most bytes the LRU held.
    pub lru_high_water: usize,
    /// Most bytes of stage outputs and state snapshots held at once by the engine: the LRU, the
    /// checkpoint ring, classic columns, and outputs in flight (computed for the window being
    /// evaluated and not yet consumed, including the target's output before it is handed over).
    pub live_bytes_high_water: usize,
}

impl Counters {
    /// Zeroed counters for `stages`.
    #[must_use]
    pub fn new(stages: &[StageMeta]) -> Self {
        Counters {
            stages: stages
                .iter()
                .map(|s| StageCounters {
                    name: s.name,
                    ..StageCounters::default()
                })
                .collect(),
            ..Counters::default()
        }
    }
    /// Sum of `evaluations` over stages.
    #[must_use]
    pub fn evaluations(&self) -> u64 {
        self.stages.iter().map(|s| s.evaluations).sum()
    }
    /// Sum of `recomputes` over stages.
    #[must_use]
    pub fn recomputes(&self) -> u64 {
        self.stages.iter().map(|s| s.recomputes).sum()
    }
    /// Sum of `cache_hits` over stages.
    #[must_use]
    pub fn cache_hits(&self) -> u64 {
        self.stages.iter().map(|s| s.cache_hits).sum()
    }
    /// The counters of stage `name`.
    #[must_use]
    pub fn stage(&self, name: &str) -> Option<&StageCounters> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// Process resource usage at one instant (Linux: getrusage(2) and `/proc/self/io`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Peak resident set size of the process so far, bytes (`VmHWM`, else `ru_maxrss`).
    pub peak_rss: u64,
    /// Minor page faults (`ru_minflt`).
    pub minor_faults: u64,
    /// Major page faults (`ru_majflt`).
    pub major_faults: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Bytes read from storage (`read_bytes` of `/proc/self/io`; 0 where unavailable).
    pub read_bytes: u64,
    /// Bytes written to storage (`write_bytes` of `/proc/self/io`; 0 where unavailable).
    pub write_bytes: u64,
}

impl Usage {
    /// Reads the current usage of this process.
    #[must_use]
    #[allow(unsafe_code, reason = "getrusage(2) has no safe wrapper in std")]
    pub fn now() -> Self {
        // SAFETY: getrusage writes a plain-data struct we own; a zeroed rusage is valid.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru);
            ru
        };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
        let (read_bytes, write_bytes) = proc_io();
        Usage {
            peak_rss: vm_hwm().unwrap_or(ru.ru_maxrss as u64 * 1024),
            minor_faults: ru.ru_minflt as u64,
            major_faults: ru.ru_majflt as u64,
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            read_bytes,
            write_bytes,
        }
    }
}

/// `VmHWM` of `/proc/self/status` in bytes: this process's own RSS high-water mark
/// (`ru_maxrss` can carry a parent's peak across fork and exec).
fn vm_hwm() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

fn proc_io() -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string("/proc/self/io") else {
        return (0, 0);
    };
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("read_bytes:"), field("write_bytes:"))
}

/// Wall time, CPU time and resource deltas of a measured section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time (user + system).
    pub cpu: Duration,
    /// Peak RSS of the process at the end, bytes (a process-wide high-water mark: measure
    /// one mode per process for a true per-mode peak, as `sqrtspace bench --extreme` does).
    pub peak_rss: u64,
    /// Minor faults during the section.
    pub minor_faults: u64,
    /// Major faults during the section.
    pub major_faults: u64,
    /// Bytes read during the section.
    pub read_bytes: u64,
    /// Bytes written during the section.
    pub write_bytes: u64,
}

/// Measures a section: `let m = Meter::start(); ...; let measured = m.stop();`.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    wall: Instant,
    usage: Usage,
}

impl Meter {
    /// Starts measuring.
    #[must_use]
    pub fn start() -> Self {
        Meter {
            wall: Instant::now(),
            usage: Usage::now(),
        }
    }
    /// Stops and returns the deltas.
    #[must_use]
    pub fn stop(&self) -> Measured {
        let now = Usage::now();
        Measured {
            wall: self.wall.elapsed(),
            cpu: now.cpu.saturating_sub(self.usage.cpu),
            peak_rss: now.peak_rss,
            minor_faults: now.minor_faults - self.usage.minor_faults,
            major_faults: now.major_faults - self.usage.major_faults,
            read_bytes: now.read_bytes.saturating_sub(self.usage.read_bytes),
            write_bytes: now.write_bytes.saturating_sub(self.usage.write_bytes),
        }
    }
}

/// Whether outputs were compared across modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Bit-identical to the baseline.
    Identical,
    /// This many windows differ from the baseline.
    Differ(u64),
    /// Not compared.
    NotChecked,
}

/// The run report, printed in the spec's template:
///
/// ```text
/// Mode: sqrt (auto)   Window: 4096   Hop: 1024   k: 16   LRU: 64.0 MiB   Workers: 1
/// Peak RSS: 40.2 MiB  (baseline 2.1 GiB)   Major Faults: 0  (baseline 12)
/// Time: 1.02x baseline (3.41 s, baseline 3.35 s)   Windows: 155000
/// CPU: 3.30 s   Minor Faults: 1200   I/O: 0 B read, 0 B written
/// Engine: 155000 evaluations, 154000 cache hits, 0 recomputes, 140000 evictions, live-bytes high-water 8.0 MiB
/// Outputs: bit-identical to classic
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Mode run.
    pub mode: Mode,
    /// Mode requested.
    pub requested: Mode,
    /// Window in samples.
    pub window: usize,
    /// Hop in samples.
    pub hop: usize,
    /// Checkpoint interval.
    pub k: u64,
    /// LRU budget, bytes.
    pub lru_bytes: usize,
    /// Worker threads.
    pub workers: usize,
    /// Windows evaluated.
    pub windows: u64,
    /// This run's measurements.
    pub run: Measured,
    /// The baseline's (classic) measurements, measured or estimated.
    pub baseline: Option<Measured>,
    /// Whether the baseline figures are an estimate (planner) rather than a measurement.
    pub baseline_estimated: bool,
    /// Output comparison.
    pub outputs: Verification,
    /// Engine counters.
    pub counters: Counters,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.requested == Mode::Auto {
            "auto".to_string()
        } else {
            "requested".to_string()
        };
        writeln!(
            f,
            "Mode: {} ({how})   Window: {}   Hop: {}   k: {}   LRU: {}   Workers: {}",
            self.mode,
            self.window,
            self.hop,
            self.k,
            human(self.lru_bytes as u64),
            self.workers
        )?;
        match &self.baseline {
            Some(b) if self.baseline_estimated => writeln!(
                f,
                "Peak RSS: {}  (estimated baseline {})   Major Faults: {}",
                human(self.run.peak_rss),
                human(b.peak_rss),
                self.run.major_faults
            )?,
            Some(b) => writeln!(
                f,
                "Peak RSS: {}  (baseline {})   Major Faults: {}  (baseline {})",
                human(self.run.peak_rss),
                human(b.peak_rss),
                self.run.major_faults,
                b.major_faults
            )?,
            None => writeln!(
                f,
                "Peak RSS: {}   Major Faults: {}",
                human(self.run.peak_rss),
                self.run.major_faults
            )?,
        }
        let secs = self.run.wall.as_secs_f64();
        match &self.baseline {
            Some(b) if !self.baseline_estimated && b.wall.as_secs_f64() > 0.0 => writeln!(
                f,
                "Time: {:.2}x baseline ({secs:.2} s, baseline {:.2} s)   Windows: {}",
                secs / b.wall.as_secs_f64(),
                b.wall.as_secs_f64(),
                self.windows
            )?,
            _ => writeln!(f, "Time: {secs:.2} s   Windows: {}", self.windows)?,
        }
        writeln!(
            f,
            "CPU: {:.2} s   Minor Faults: {}   I/O: {} read, {} written",
            self.run.cpu.as_secs_f64(),
            self.run.minor_faults,
            human(self.run.read_bytes),
            human(self.run.write_bytes)
        )?;
        writeln!(
            f,
            "Engine: {} evaluations, {} cache hits, {} recomputes, {} evictions, live-bytes high-water {}",
            self.counters.evaluations(),
            self.counters.cache_hits(),
            self.counters.recomputes(),
            self.counters.evictions,
            human(self.counters.live_bytes_high_water as u64)
        )?;
        match self.outputs {
            Verification::Identical => write!(f, "Outputs: bit-identical to classic"),
            Verification::Differ(n) => write!(f, "Outputs: {n} windows DIFFER from classic"),
            Verification::NotChecked => write!(f, "Outputs: not verified (run with --verify)"),
        }
    }
}
