//! Helpers shared by the benches: a deterministic LCG, run-mode switches, timing and byte
//! formatting.
// Each bench uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// A 64-bit linear congruential generator (Knuth's MMIX constants): deterministic, seedable,
/// no dependency.
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator with `seed`.
    pub fn new(seed: u64) -> Self {
        Lcg(seed)
    }
    /// The next 64-bit state.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0
    }
    /// Uniform in `[-1, 1)` (from the high 24 bits).
    pub fn next_f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
    /// Uniform in `0..n` (high bits, negligible bias for `n` far below 2^32).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }
}

/// Whether `SQRTSPACE_BENCH_REPORT=1`: print the figures instead of running criterion.
pub fn report_requested() -> bool {
    std::env::var("SQRTSPACE_BENCH_REPORT").is_ok_and(|v| v == "1")
}

/// Whether the binary runs as a benchmark (`cargo bench` passes `--bench`); without it
/// (`cargo test --benches`) criterion only smoke-tests each function once and the benches
/// use small inputs so the test run stays quick.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Wall time of `f`.
pub fn time<R>(f: impl FnOnce() -> R) -> (Duration, R) {
    let start = Instant::now();
    let r = f();
    (start.elapsed(), r)
}

/// The median wall time of `runs` runs of `f`.
pub fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs).map(|_| time(&mut f).0).collect();
    times.sort();
    times[times.len() / 2]
}

pub use sqrtspace::plan::human;

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Peak resident set size of this process image, bytes ([`sqrtspace::metrics::peak_rss`]:
/// `VmHWM` on Linux, which starts afresh at exec, unlike getrusage's `ru_maxrss` that carries
/// cargo's own peak over fork and exec); 0 where the platform has no figure.
pub fn peak_rss() -> u64 {
    sqrtspace::metrics::peak_rss().unwrap_or(0)
}
