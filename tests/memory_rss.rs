//! Peak memory measured as process RSS, not only as the engine's own counter: for random
//! pipelines with scalar and vector outputs, hop 1 and large hops, lengths 10^4 to 10^6
//! windows, pull and push, the growth of the process's peak RSS (`VmHWM`, reset through
//! `/proc/self/clear_refs` before each case) stays within the configured budgets (LRU +
//! checkpoint ring + output ring) plus a fixed allowance, and the engine's live-bytes
//! high-water agrees with it within 2x (plus the allowance).
//!
//! One test in its own binary, so no other test allocates while it measures. Linux only (it
//! reads `/proc`); elsewhere it returns at once. `SQRTSPACE_RSS_CASES` sets the number of
//! random cases (default 6).

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use sqrtspace::{pipeline, stage, Checkpoints, Config, Error, Mode};

/// Mean of the frame.
#[stage(inputs = [input])]
fn level(frame: &[f32]) -> f32 {
    frame.iter().sum::<f32>() / frame.len() as f32
}

/// Change against 1 and 8 windows back (re-reads `level`: it goes through the LRU).
#[stage(inputs = [level, level[-1], level[-8]])]
fn slope(now: &f32, one: Option<&f32>, eight: Option<&f32>) -> f32 {
    now - one.copied().unwrap_or(0.0) + 0.125 * (now - eight.copied().unwrap_or(0.0))
}

/// Running sum of the slope.
#[stage(inputs = [slope])]
fn drift(s: &f32, #[state] sum: &mut f32) -> f32 {
    *sum += s;
    *sum
}

pipeline! {
    /// Scalar outputs, lookback and state.
    struct Scalar {
        stages: [level, slope, drift],
        output: drift,
    }
}

/// 16 band sums of the frame, written into a recycled buffer (`#[out]`: the pool of spent
/// outputs must not grow with the stream either).
#[stage(inputs = [input])]
fn bands(frame: &[f32], #[out] out: &mut Vec<f32>) {
    let n = frame.len().div_ceil(16);
    out.clear();
    out.extend(frame.chunks(n).map(|c| c.iter().sum::<f32>()));
}

/// Spectral-flux-like change against the previous window.
#[stage(inputs = [bands, bands[-1]])]
fn flux(now: &Vec<f32>, before: Option<&Vec<f32>>) -> f32 {
    before.map_or(0.0, |b| now.iter().zip(b).map(|(x, y)| (x - y).abs()).sum())
}

pipeline! {
    /// Vector outputs with lookback.
    struct Vector {
        stages: [bands, flux],
        output: flux,
    }
}

const MIB: usize = 1 << 20;
/// What the process may add besides the engine's budgets: allocator slack, the test
/// harness, proptest, the push-mode input buffer and read buffers.
const ALLOWANCE: usize = 12 * MIB;

fn status_kib(field: &str) -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak RSS to the current RSS; returns the current RSS in bytes.
fn reset_peak() -> Option<usize> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    Some(status_kib("VmRSS:")? * 1024)
}

#[derive(Debug, Clone)]
struct Case {
    vector: bool,
    push: bool,
    windows: u64,
    window: usize,
    hop: usize,
    lru: usize,
    checkpoints: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(10_000u64), 10_000u64..1_000_000, Just(1_000_000)],
        prop_oneof![Just(1usize), 16usize..64],
        0usize..=8 * MIB,
        prop_oneof![Just(64 * 1024usize), Just(MIB)],
    )
        .prop_map(|(vector, push, windows, hop, lru, checkpoints)| Case {
            vector,
            push,
            windows,
            window: 64,
            hop,
            lru,
            checkpoints,
        })
}

/// Runs one case; returns (RSS growth, engine live high-water) in bytes.
fn run(c: &Case) -> Result<(usize, usize), Error> {
    let config = Config::default()
        .with_window(c.window)
        .with_hop(c.hop)
        .with_lru_bytes(c.lru)
        .with_checkpoint_bytes(c.checkpoints)
        .with_checkpoints(Checkpoints::Auto)
        .with_mode(Mode::Sqrt);
    let samples = (c.windows as usize - 1) * c.hop + c.window;
    let signal: Vec<f32> = (0..samples)
        .map(|i| ((i * 7919) % 1013) as f32 / 1013.0)
        .collect();
    let chunks = || signal.chunks(4096).map(Ok::<_, Error>);
    let mut sum = 0f64;
    macro_rules! go {
        ($g:ident, $out:ident) => {{
            let mut p = $g::new(config, ())?;
            let rss0 = reset_peak().unwrap_or(0);
            if c.push {
                p.stream(chunks(), |_, o| sum += f64::from(o))?;
            } else {
                p.evaluate_with::<$out>(&signal, 0..c.windows, |_, o| sum += f64::from(o))?;
            }
            let peak = status_kib("VmHWM:").unwrap_or(0) * 1024;
            (
                peak.saturating_sub(rss0),
                p.counters().live_bytes_high_water,
            )
        }};
    }
    let r = if c.vector {
        go!(Vector, flux)
    } else {
        go!(Scalar, drift)
    };
    assert!(sum.is_finite());
    Ok(r)
}

#[test]
fn peak_rss_growth_stays_within_the_budgets() {
    if reset_peak().is_none() {
        eprintln!("no /proc/self/clear_refs: peak RSS cannot be measured here");
        return;
    }
    let cases = std::env::var("SQRTSPACE_RSS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut runner = TestRunner::new(RunnerConfig {
        cases,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    runner
        .run(&case(), |c| {
            let (growth, counter) = run(&c).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let budget = c.lru + c.checkpoints + c.checkpoints / 4;
            eprintln!(
                "{c:?}: RSS growth {:.2} MiB, engine counter {:.2} MiB, budgets {:.2} MiB",
                growth as f64 / MIB as f64,
                counter as f64 / MIB as f64,
                budget as f64 / MIB as f64
            );
            prop_assert!(
                growth <= budget + ALLOWANCE,
                "RSS grew {growth} bytes, over the budgets {budget} + {ALLOWANCE}"
            );
            prop_assert!(
                growth <= 2 * counter + ALLOWANCE && counter <= 2 * growth + ALLOWANCE,
                "the engine counted {counter} bytes live, RSS grew {growth}: not within 2x"
            );
            Ok(())
        })
        .unwrap();
}
