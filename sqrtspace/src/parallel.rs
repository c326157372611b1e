//! How many workers an evaluation uses and why: the [`Parallelism`] section of a
//! [`Plan`](crate::Plan), chosen from the per-stage costs the planner's probe measured.
//!
//! The engine computes the *pure prefix* of the graph (stages with no stateful stage upstream)
//! for a batch of windows on several threads, then the calling thread runs the rest (the
//! stateful stages and everything downstream of them) window by window, in order: see
//! [`crate::exec::parallel`]. A batch's prefix is finished before the sequential part
//! consumes it, so Amdahl's law (Amdahl 1967, "Validity of the single processor approach to
//! achieving large scale computing capabilities", AFIPS) gives the time per window with `w`
//! workers: `seq + par / w + overhead x (w - 1) / batch`, where `seq` and `par` are the
//! measured costs of the sequential part and the prefix, and `overhead` the measured cost of
//! handing a chunk to a pool thread and back. The speedup over one worker is the ratio of those
//! times; `total / seq` bounds it whatever the number of workers.

pub use crate::graph::workers::{thread_cpu_ns, WorkerStats};
use crate::units::human;
use std::fmt;

/// The estimated speedup below which extra workers are not used: 1.05 (in percent).
pub const MIN_SPEEDUP_PERCENT: u32 = 105;

/// Most windows per batch.
pub const MAX_BATCH: u64 = 1024;

/// One stage's measured cost.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StageCost {
    /// The stage's name.
    pub name: &'static str,
    /// Nanoseconds per window (its own compute, without its inputs'), from the probe.
    pub nanos: u64,
    /// Whether it runs on the calling thread in window order (stateful, or downstream of a
    /// stateful stage); otherwise it is part of the prefix computed ahead by the workers.
    pub sequential: bool,
}

/// A candidate plan timed on the probe prefix ([`Parallelism::candidates`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Candidate {
    /// Threads (the calling thread included).
    pub workers: usize,
    /// Windows per batch.
    pub batch: u64,
    /// Measured wall time per window over the probe prefix, in nanoseconds (the first
    /// parallel batch includes starting the pool's threads).
    pub nanos_per_window: u64,
}

/// The workers an evaluation uses, the batch size, and why. Plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Parallelism {
    /// Workers the configuration allows (`Config::max_workers`).
    pub requested: usize,
    /// Cores the OS reports (`std::thread::available_parallelism`).
    pub cores: usize,
    /// Workers used (the calling thread included): at most `requested` and `cores`.
    pub workers: usize,
    /// Windows computed ahead per batch.
    pub batch: u64,
    /// Measured cost of each stage the evaluation needs (empty when not measured: one worker
    /// requested, or push mode).
    pub stages: Vec<StageCost>,
    /// Share of the measured cost that runs in window order on the calling thread, in
    /// thousandths.
    pub sequential_permille: u32,
    /// Measured cost of handing a chunk to a pool thread and back, in nanoseconds.
    pub pool_overhead_ns: u64,
    /// Estimated speedup over one worker, in percent (172 = 1.72x).
    pub speedup_percent: u32,
    /// The bound on the speedup with any number of workers (`total / seq`), in percent;
    /// `None` when nothing is sequential.
    pub max_speedup_percent: Option<u32>,
    /// LRU budget of the sequential part, in bytes.
    pub main_lru_bytes: usize,
    /// LRU budget of each worker, in bytes.
    pub worker_lru_bytes: usize,
    /// Bytes of one batch of outputs computed ahead.
    pub batch_bytes: u64,
    /// Why fewer workers than requested, or what limits the speedup.
    pub warnings: Vec<String>,
    /// The candidates timed on the probe prefix (one worker, and the workers the model
    /// chose), in that order; empty when none were timed (the model chose one worker, the
    /// workers were forced, or push mode, where the stream's windows are not there yet).
    pub candidates: Vec<Candidate>,
    /// Windows of the probe prefix the candidates were timed over.
    pub candidate_windows: u64,
    /// Wall time of timing the candidates (the probe's cost), in nanoseconds.
    pub candidates_ns: u64,
}

impl Parallelism {
    /// One worker, nothing measured.
    #[must_use]
    pub fn single(requested: usize, lru_bytes: usize) -> Self {
        Parallelism {
            requested,
            cores: cores(),
            workers: 1,
            batch: 1,
            stages: Vec::new(),
            sequential_permille: 1000,
            pool_overhead_ns: 0,
            speedup_percent: 100,
            max_speedup_percent: Some(100),
            main_lru_bytes: lru_bytes,
            worker_lru_bytes: 0,
            batch_bytes: 0,
            warnings: Vec::new(),
            candidates: Vec::new(),
            candidate_windows: 0,
            candidates_ns: 0,
        }
    }

    /// Chooses the workers and batch size for `requested` workers on `cores` cores, from the
    /// measured `stages` (the sequential part and the prefix), `ahead_bytes` of outputs
    /// computed ahead per window, an LRU budget of `lru_bytes` (shared by all threads: half
    /// for the sequential part, a quarter for the batch, a quarter split between the workers'
    /// own LRUs) and `pool_overhead_ns` per chunk handed to a pool thread.
    ///
    /// The batch is the smallest that keeps the thread overhead under 2% of a batch's work,
    /// at least 4 windows per worker, at most [`MAX_BATCH`] and at most what an eighth of the
    /// LRU budget holds (two batches are held at a time: the one consumed and the next;
    /// never below one window per worker).
    #[must_use]
    pub fn choose(
        requested: usize,
        cores: usize,
        stages: Vec<StageCost>,
        ahead_bytes: usize,
        lru_bytes: usize,
        pool_overhead_ns: u64,
    ) -> Self {
        let mut p = Parallelism::single(requested, lru_bytes);
        p.cores = cores.max(1);
        p.pool_overhead_ns = pool_overhead_ns;
        let seq: u64 = stages
            .iter()
            .filter(|s| s.sequential)
            .map(|s| s.nanos)
            .sum();
        let total: u64 = stages.iter().map(|s| s.nanos).sum::<u64>().max(1);
        let par = total.saturating_sub(seq);
        p.sequential_permille = u32::try_from(seq * 1000 / total).unwrap_or(1000);
        p.max_speedup_percent =
            (seq > 0).then(|| u32::try_from(total * 100 / seq).unwrap_or(u32::MAX));
        p.stages = stages;
        if requested <= 1 {
            return p;
        }
        let cap = requested.min(p.cores);
        if requested > p.cores {
            p.warnings.push(format!(
                "{requested} workers requested but the machine has {} cores: capped at {cap} (more threads than cores only add switching)",
                p.cores
            ));
        }
        if par == 0 {
            p.warnings.push(
                "every stage is stateful or downstream of a stateful stage: nothing can be computed ahead, so 1 worker".to_string(),
            );
            return p;
        }
        let mem_cap = if ahead_bytes == 0 {
            MAX_BATCH
        } else {
            // Two batches are held at a time (the one consumed, the next one computed).
            (lru_bytes as u64 / 8 / ahead_bytes as u64).clamp(1, MAX_BATCH)
        };
        let batch_for = |w: u64| -> u64 {
            // overhead x (w-1) <= 2% x batch x par / w
            let per_worker_window = (par / w).max(1);
            let by_time = (pool_overhead_ns * (w - 1) * 50).div_ceil(per_worker_window);
            by_time.max(4 * w).min(MAX_BATCH).min(mem_cap).max(w)
        };
        let time = |w: u64, batch: u64| -> u64 {
            seq + par / w + pool_overhead_ns * (w - 1) / batch.max(1)
        };
        let one = time(1, 1);
        let (mut best_w, mut best_t) = (1u64, one);
        for w in 2..=cap as u64 {
            let t = time(w, batch_for(w));
            if t < best_t {
                (best_w, best_t) = (w, t);
            }
        }
        let speedup = u32::try_from(one * 100 / best_t.max(1)).unwrap_or(u32::MAX);
        if speedup < MIN_SPEEDUP_PERCENT {
            p.warnings.push(format!(
                "estimated speedup with {cap} workers is only {}: the stages are too cheap for the hand-over to a thread ({} ns per worker and batch), so 1 worker",
                percent_x(speedup),
                pool_overhead_ns
            ));
            return p;
        }
        p.workers = usize::try_from(best_w).unwrap_or(1);
        p.batch = batch_for(best_w);
        p.speedup_percent = speedup;
        if p.batch < 4 * best_w && mem_cap < 4 * best_w {
            p.warnings.push(format!(
                "an eighth of the LRU budget ({}) holds only {} windows of outputs computed ahead: batches are small; raise Config::lru_bytes",
                human(lru_bytes as u64 / 8),
                mem_cap
            ));
        }
        p.batch_bytes = p.batch * ahead_bytes as u64;
        p.worker_lru_bytes = lru_bytes / 4 / p.workers;
        p.main_lru_bytes = lru_bytes
            - p.worker_lru_bytes * p.workers
            - usize::try_from(p.batch_bytes.min(lru_bytes as u64 / 4)).unwrap_or(0);
        if p.sequential_permille >= 200 {
            let names: Vec<&str> = p
                .stages
                .iter()
                .filter(|s| s.sequential)
                .map(|s| s.name)
                .collect();
            p.warnings.push(format!(
                "the sequential part ({}) is {}% of the cost: at most {} with any number of workers",
                names.join(", "),
                p.sequential_permille / 10,
                percent_x(p.max_speedup_percent.unwrap_or(100))
            ));
        }
        p
    }
}

impl Parallelism {
    /// `self` with `workers` and `batch` set by the caller (`Pipeline::force_workers`), the
    /// LRU budget split as in [`choose`](Self::choose).
    #[must_use]
    pub fn forced(mut self, workers: usize, batch: u64, lru_bytes: usize) -> Self {
        self.workers = workers.max(1);
        self.batch = batch.max(1);
        self.warnings.push(format!(
            "{} workers and batches of {} windows forced by the caller (Pipeline::force_workers)",
            self.workers, self.batch
        ));
        if self.workers > 1 {
            self.worker_lru_bytes = lru_bytes / 4 / self.workers;
            self.main_lru_bytes = lru_bytes / 2;
        }
        self
    }
}

impl Parallelism {
    /// `self` with the candidates timed over `windows` windows of the probe prefix in
    /// `spent_ns` (one worker first): when the parallel candidate was not
    /// [`MIN_SPEEDUP_PERCENT`] faster than one worker there, one worker, and a warning says so.
    #[must_use]
    pub fn measured(mut self, candidates: Vec<Candidate>, windows: u64, spent_ns: u64) -> Self {
        self.candidate_windows = windows;
        self.candidates_ns = spent_ns;
        let one = candidates
            .iter()
            .find(|c| c.workers == 1)
            .map(|c| c.nanos_per_window);
        let many = candidates
            .iter()
            .find(|c| c.workers == self.workers && c.workers > 1)
            .map(|c| c.nanos_per_window);
        self.candidates = candidates;
        if let (Some(one), Some(many)) = (one, many) {
            if u128::from(many) * u128::from(MIN_SPEEDUP_PERCENT) > u128::from(one) * 100 {
                self.warnings.push(format!(
                    "timed on the probe's {windows} windows, {} workers took {many} ns/window and 1 worker {one} ns/window: 1 worker",
                    self.workers
                ));
                self.main_lru_bytes += self.worker_lru_bytes * self.workers
                    + usize::try_from(self.batch_bytes).unwrap_or(0);
                self.workers = 1;
                self.batch = 1;
                self.worker_lru_bytes = 0;
                self.batch_bytes = 0;
                self.speedup_percent = 100;
            }
        }
        self
    }
}

/// Below this measured spare parallelism (in percent, see [`spare_parallelism`]) one worker
/// is used: a second thread would gain less than 30%, less than the hand-overs cost.
pub const MIN_SPARE_PERCENT: u32 = 130;

impl Parallelism {
    /// `self` with one worker when the machine has no spare core now: `spare` is the
    /// throughput of two threads over one's on a CPU-bound loop, measured just before
    /// ([`spare_parallelism`]; 2.0 on two idle cores, about 1.0 or less when other processes
    /// use every core). Below [`MIN_SPARE_PERCENT`] a second thread would only share the
    /// busy cores (`benches/workers.rs` measures both side by side), and the plan says so.
    #[must_use]
    pub fn capped_by_load(mut self, spare: f64) -> Self {
        if self.workers <= 1 || !spare.is_finite() || spare * 100.0 >= f64::from(MIN_SPARE_PERCENT)
        {
            return self;
        }
        self.warnings.push(format!(
            "the machine is busy: two threads ran a CPU-bound loop only {spare:.2}x as fast as one just now (2.00 on two idle cores; load average {}): 1 worker instead of {}",
            load_average().map_or_else(|| "unknown".to_string(), |l| format!("{l:.1}")),
            self.workers
        ));
        self.main_lru_bytes +=
            self.worker_lru_bytes * self.workers + usize::try_from(self.batch_bytes).unwrap_or(0);
        self.workers = 1;
        self.batch = 1;
        self.worker_lru_bytes = 0;
        self.batch_bytes = 0;
        self.speedup_percent = 100;
        self
    }
}

/// The machine's spare parallelism now: the time of a CPU-bound loop (about 1.5 ms) on one
/// thread over its time split between two threads, the best of 3 trials; 2.0 on two idle
/// cores, about 1.0 or less when other processes keep every core busy. Measured at most once
/// a second (the value is reused in between), about 7 ms each time; 1.0 on a single core.
#[must_use]
pub fn spare_parallelism() -> f64 {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    static LAST: Mutex<Option<(Instant, f64)>> = Mutex::new(None);
    if cores() < 2 {
        return 1.0;
    }
    if let Ok(last) = LAST.lock() {
        if let Some((at, v)) = *last {
            if at.elapsed() < Duration::from_secs(1) {
                return v;
            }
        }
    }
    fn spin(n: u64) -> f64 {
        let mut x = 1.000_001f64;
        for i in 0..n {
            x = (x * 1.000_000_1 + (i & 7) as f64 * 1e-9).min(4.0);
        }
        x
    }
    const N: u64 = 1_500_000;
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        std::hint::black_box(spin(N));
        let one = start.elapsed().as_secs_f64();
        let start = Instant::now();
        std::thread::scope(|s| {
            let h = s.spawn(|| std::hint::black_box(spin(N / 2)));
            std::hint::black_box(spin(N / 2));
            let _ = h.join();
        });
        let two = start.elapsed().as_secs_f64();
        if two > 0.0 {
            best = best.max(one / two);
        }
    }
    if let Ok(mut last) = LAST.lock() {
        *last = Some((Instant::now(), best));
    }
    best
}

/// The 1-minute load average (`/proc/loadavg`), if the OS reports it (for the messages).
#[must_use]
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Cores the OS reports for this process (1 when unknown).
#[must_use]
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `172` as `1.72x`.
fn percent_x(p: u32) -> String {
    format!("{}.{:02}x", p / 100, p % 100)
}

impl fmt::Display for Parallelism {
    /// The plan's `workers:` section: workers and batch, the estimate, each stage's measured
    /// cost, warnings. Lines are indented by two spaces, without a trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "  workers:     {} of {} requested ({} cores), batch {} windows, estimated speedup {} (Amdahl; hand-over {} ns)",
            self.workers,
            self.requested,
            self.cores,
            self.batch,
            percent_x(self.speedup_percent),
            self.pool_overhead_ns
        )?;
        write!(
            f,
            "\n  sequential:  {}.{}% of the measured cost{}",
            self.sequential_permille / 10,
            self.sequential_permille % 10,
            self.max_speedup_percent.map_or(String::new(), |m| format!(
                " (at most {} with any number of workers)",
                percent_x(m)
            ))
        )?;
        if self.workers > 1 {
            write!(
                f,
                "\n  memory:      LRU {} sequential + {} x {} workers, batch {}",
                human(self.main_lru_bytes as u64),
                self.workers,
                human(self.worker_lru_bytes as u64),
                human(self.batch_bytes)
            )?;
        }
        for s in &self.stages {
            write!(
                f,
                "\n  stage cost:  {:<12} {:>9} ns/window  {}",
                s.name,
                s.nanos,
                if s.sequential {
                    "sequential"
                } else {
                    "computed ahead"
                }
            )?;
        }
        if !self.candidates.is_empty() {
            let timed: Vec<String> = self
                .candidates
                .iter()
                .map(|c| {
                    format!(
                        "{} worker{} {} ns/window",
                        c.workers,
                        if c.workers == 1 { "" } else { "s" },
                        c.nanos_per_window
                    )
                })
                .collect();
            write!(
                f,
                "\n  timed:       {} over the probe's {} windows (timing took {:.2} ms)",
                timed.join(", "),
                self.candidate_windows,
                self.candidates_ns as f64 / 1e6
            )?;
        }
        for w in &self.warnings {
            write!(f, "\n  warning:     {w}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(name: &'static str, nanos: u64, sequential: bool) -> StageCost {
        StageCost {
            name,
            nanos,
            sequential,
        }
    }

    #[test]
    fn amdahl_bounds_the_speedup() {
        let p = Parallelism::choose(
            2,
            2,
            vec![cost("fft", 60_000, false), cost("track", 40_000, true)],
            1000,
            64 << 20,
            20_000,
        );
        assert_eq!(p.workers, 2);
        assert_eq!(p.sequential_permille, 400);
        assert_eq!(p.max_speedup_percent, Some(250));
        assert!((140..=143).contains(&p.speedup_percent), "{p:?}");
        assert!(
            p.warnings[0].contains("40% of the cost: at most 2.50x"),
            "{p:?}"
        );
    }

    #[test]
    fn a_busy_machine_gets_one_worker() {
        let p = Parallelism::choose(2, 2, vec![cost("a", 50_000, false)], 8, 1 << 20, 20_000);
        assert_eq!(p.clone().capped_by_load(1.9).workers, 2);
        let busy = p.capped_by_load(0.93);
        assert_eq!(busy.workers, 1);
        let w = busy.warnings.last().unwrap();
        assert!(w.contains("only 0.93x"), "{w}");
    }

    #[test]
    fn timed_candidates_confirm_or_overrule_the_model() {
        let p = Parallelism::choose(2, 2, vec![cost("a", 50_000, false)], 8, 1 << 20, 20_000);
        assert_eq!(p.workers, 2);
        let batch = p.batch;
        let timed = |one: u64, two: u64| {
            vec![
                Candidate {
                    workers: 1,
                    batch: 1,
                    nanos_per_window: one,
                },
                Candidate {
                    workers: 2,
                    batch,
                    nanos_per_window: two,
                },
            ]
        };
        let faster = p.clone().measured(timed(50_000, 27_000), 61, 4_000_000);
        assert_eq!(faster.workers, 2);
        assert_eq!(faster.candidates.len(), 2);
        assert_eq!(
            (faster.candidate_windows, faster.candidates_ns),
            (61, 4_000_000)
        );
        assert!(faster.to_string().contains(
            "timed:       1 worker 50000 ns/window, 2 workers 27000 ns/window over the probe's 61 windows (timing took 4.00 ms)"
        ));
        // Not 5% faster: one worker, and the plan says why.
        let slower = p.measured(timed(50_000, 48_000), 61, 4_000_000);
        assert_eq!(
            (slower.workers, slower.batch, slower.worker_lru_bytes),
            (1, 1, 0)
        );
        let w = slower.warnings.last().unwrap();
        assert!(
            w.contains("2 workers took 48000 ns/window and 1 worker 50000"),
            "{w}"
        );
    }

    #[test]
    fn workers_are_capped_at_cores_and_cheap_stages_stay_single() {
        let p = Parallelism::choose(8, 2, vec![cost("a", 50_000, false)], 8, 1 << 20, 20_000);
        assert_eq!(p.workers, 2);
        assert!(p.warnings[0].contains("capped at 2"), "{p:?}");
        let cheap = Parallelism::choose(
            2,
            2,
            vec![cost("a", 10, false), cost("s", 10, true)],
            8,
            1 << 20,
            20_000,
        );
        assert_eq!(cheap.workers, 1, "{cheap:?}");
        let stateful = Parallelism::choose(2, 2, vec![cost("s", 50_000, true)], 8, 1 << 20, 20_000);
        assert_eq!(stateful.workers, 1);
    }
}
