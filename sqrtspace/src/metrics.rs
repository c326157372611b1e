//! Measurements: the engine's own counters, the process's resource usage ([`Usage`]: getrusage(2)
//! through `nix` on every Unix, plus `VmHWM` and `/proc/self/io` on Linux; [`FIGURES`] says which
//! figures a platform has) and the [`Report`] printed after a run, which shows `n/a` for the
//! figures the platform lacks. No `unsafe` code: `nix` wraps the system calls.

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

/// Which process figures this platform provides; the [`Report`] prints `n/a` for the others.
///
/// On every Unix, getrusage(2) (through `nix`) gives CPU time, page faults and the peak RSS
/// (`ru_maxrss`); Linux adds `VmHWM` (a peak RSS that is the process's own and can be reset,
/// see [`reset_peak_rss`]) and the storage I/O of `/proc/self/io`. Elsewhere (Windows) every
/// figure reads 0 and is shown as `n/a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// [`Usage::peak_rss`] is measured.
    pub peak_rss: bool,
    /// [`Usage::minor_faults`] and [`Usage::major_faults`] are measured.
    pub faults: bool,
    /// [`Usage::cpu`] is measured.
    pub cpu: bool,
    /// [`Usage::read_bytes`] and [`Usage::write_bytes`] are measured.
    pub io: bool,
    /// [`reset_peak_rss`] can restart the peak (Linux ≥ 4.0).
    pub peak_reset: bool,
}

/// The figures this build's platform provides.
pub const FIGURES: Figures = Figures {
    peak_rss: cfg!(unix),
    faults: cfg!(unix),
    cpu: cfg!(unix),
    io: cfg!(any(target_os = "linux", target_os = "android")),
    peak_reset: cfg!(any(target_os = "linux", target_os = "android")),
};

/// Process resource usage at one instant (getrusage(2); on Linux also `/proc/self/status` and
/// `/proc/self/io`). Figures the platform does not provide (see [`FIGURES`]) read 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Peak resident set size of the process so far, bytes (see [`peak_rss`]).
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
    /// Reads the current usage of this process. Never fails: a figure that cannot be read
    /// is 0.
    #[must_use]
    pub fn now() -> Self {
        let (read_bytes, write_bytes) = proc_io().unwrap_or((0, 0));
        let mut usage = Usage {
            read_bytes,
            write_bytes,
            ..Usage::default()
        };
        #[cfg(unix)]
        if let Ok(ru) = rusage() {
            usage.minor_faults = non_negative(ru.minor_page_faults());
            usage.major_faults = non_negative(ru.major_page_faults());
            usage.cpu = duration(ru.user_time()) + duration(ru.system_time());
            usage.peak_rss = max_rss_bytes(&ru);
        }
        if let Some(hwm) = vm_hwm() {
            usage.peak_rss = hwm;
        }
        usage
    }
}

/// The process's peak resident set size in bytes: `VmHWM` of `/proc/self/status` on Linux
/// (since the process started or since the last [`reset_peak_rss`]), else getrusage's
/// `ru_maxrss` on other Unixes; `None` where neither is available.
///
/// `VmHWM` is preferred because `ru_maxrss` survives `execve` and so starts at the parent's
/// RSS at `fork` time (e.g. ~60 MiB under `cargo run` or `cargo bench`), hiding a small
/// process's peak.
#[must_use]
pub fn peak_rss() -> Option<u64> {
    if let Some(hwm) = vm_hwm() {
        return Some(hwm);
    }
    #[cfg(unix)]
    if let Ok(ru) = rusage() {
        return Some(max_rss_bytes(&ru));
    }
    None
}

/// Restarts [`peak_rss`] from the current RSS (Linux ≥ 4.0: writes `5` to
/// `/proc/self/clear_refs`), so one process can measure the peak of several runs in turn.
/// Returns whether it worked (always `false` off Linux).
pub fn reset_peak_rss() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        std::fs::write("/proc/self/clear_refs", "5").is_ok()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        false
    }
}

#[cfg(unix)]
fn rusage() -> nix::Result<nix::sys::resource::Usage> {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
}

/// `ru_maxrss` in bytes: kibibytes on Linux and the BSDs, bytes on Apple platforms.
#[cfg(unix)]
fn max_rss_bytes(ru: &nix::sys::resource::Usage) -> u64 {
    let v = non_negative(ru.max_rss());
    if cfg!(target_vendor = "apple") {
        v
    } else {
        v.saturating_mul(1024)
    }
}

#[cfg(unix)]
fn non_negative(v: std::ffi::c_long) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(unix)]
fn duration(t: nix::sys::time::TimeVal) -> Duration {
    let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
    let micros = u32::try_from(t.tv_usec()).unwrap_or(0).min(999_999);
    Duration::new(secs, micros * 1000)
}

/// `VmHWM` of `/proc/self/status` in bytes (Linux only).
fn vm_hwm() -> Option<u64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let text = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = text.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
        let kib: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib.saturating_mul(1024))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

/// `read_bytes` and `write_bytes` of `/proc/self/io` (Linux only).
fn proc_io() -> Option<(u64, u64)> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let text = std::fs::read_to_string("/proc/self/io").ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        Some((field("read_bytes:"), field("write_bytes:")))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
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
            // Saturating: the counters are read in two calls, and a figure that could not be
            // read at the start or the end is 0.
            minor_faults: now.minor_faults.saturating_sub(self.usage.minor_faults),
            major_faults: now.major_faults.saturating_sub(self.usage.major_faults),
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
        let rss = |m: &Measured| or_na(FIGURES.peak_rss, || human(m.peak_rss));
        let faults = |n: u64| or_na(FIGURES.faults, || n.to_string());
        match &self.baseline {
            Some(b) if self.baseline_estimated => writeln!(
                f,
                "Peak RSS: {}  (estimated baseline {})   Major Faults: {}",
                rss(&self.run),
                human(b.peak_rss),
                faults(self.run.major_faults)
            )?,
            Some(b) => writeln!(
                f,
                "Peak RSS: {}  (baseline {})   Major Faults: {}  (baseline {})",
                rss(&self.run),
                rss(b),
                faults(self.run.major_faults),
                faults(b.major_faults)
            )?,
            None => writeln!(
                f,
                "Peak RSS: {}   Major Faults: {}",
                rss(&self.run),
                faults(self.run.major_faults)
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
            "CPU: {}   Minor Faults: {}   I/O: {}",
            or_na(FIGURES.cpu, || format!(
                "{:.2} s",
                self.run.cpu.as_secs_f64()
            )),
            faults(self.run.minor_faults),
            or_na(FIGURES.io, || format!(
                "{} read, {} written",
                human(self.run.read_bytes),
                human(self.run.write_bytes)
            ))
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

/// `text()` where the platform measures the figure, `n/a` where it does not (see [`FIGURES`]).
fn or_na(available: bool, text: impl FnOnce() -> String) -> String {
    if available {
        text()
    } else {
        "n/a".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_counts_that_went_backwards_saturate_at_zero() {
        // A start figure above the end figure (read in two calls, or unreadable at the end)
        // must not overflow the subtraction.
        let meter = Meter {
            wall: Instant::now(),
            usage: Usage {
                minor_faults: u64::MAX,
                major_faults: u64::MAX,
                read_bytes: u64::MAX,
                write_bytes: u64::MAX,
                ..Usage::default()
            },
        };
        let m = meter.stop();
        assert_eq!((m.minor_faults, m.major_faults), (0, 0));
        assert_eq!((m.read_bytes, m.write_bytes), (0, 0));
    }

    #[test]
    fn usage_reads_the_figures_the_platform_provides() {
        let _touch: Vec<u8> = vec![1; 1 << 20];
        let u = Usage::now();
        assert_eq!(u.peak_rss > 0, FIGURES.peak_rss);
        assert_eq!(peak_rss().is_some(), FIGURES.peak_rss);
        if FIGURES.faults {
            assert!(
                u.minor_faults > 0,
                "a process that ran has minor faults: {u:?}"
            );
        }
    }

    #[test]
    fn missing_figures_print_as_not_available() {
        assert_eq!(or_na(false, || "1.0 MiB".into()), "n/a");
        assert_eq!(or_na(true, || "1.0 MiB".into()), "1.0 MiB");
    }
}
