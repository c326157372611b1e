//! A rolling statistic over a long scalar series with the default `Config` apart from the
//! frame (window 1000, hop 1): 2 million windows of three scalar `f32` stages (mean, spread,
//! z-score against the previous window's mean). Prints the time, windows/s, the engine's
//! live-bytes high-water and the process's peak RSS (`VmHWM`).
//!
//! ```text
//! cargo run --release -p sqrtspace --example rolling [windows] [sqrt|classic|auto] [lru_bytes] [window]
//! ```
//!
//! With a window of 4 the stages cost next to nothing, and the figure is the engine's.

use sqrtspace::{pipeline, stage, Config, Mode};
use std::time::Instant;

/// Mean of the frame.
#[stage(inputs = [input])]
fn mean(frame: &[f32]) -> f32 {
    frame.iter().sum::<f32>() / frame.len() as f32
}

/// Largest minus smallest sample of the frame.
#[stage(inputs = [input])]
fn spread(frame: &[f32]) -> f32 {
    let (lo, hi) = frame
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    hi - lo
}

/// Change of the mean since the previous window, in units of the spread.
#[stage(inputs = [mean, mean[-1], spread])]
fn zscore(m: &f32, before: Option<&f32>, s: &f32) -> f32 {
    before.map_or(0.0, |b| (m - b) / s.max(f32::MIN_POSITIVE))
}

pipeline! {
    /// Rolling mean, spread and z-score of a scalar series.
    pub struct Rolling {
        sample: f32,
        stages: [mean, spread, zscore],
        output: zscore,
    }
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), sqrtspace::Error> {
    let mut args = std::env::args().skip(1);
    let windows: u64 = args
        .next()
        .map_or(2_000_000, |a| a.parse().expect("a window count"));
    let mode: Mode = args
        .next()
        .map_or(Mode::Auto, |a| a.parse().expect("sqrt|classic|auto"));
    let mut config = Config::default().with_hop(1).with_mode(mode);
    if let Some(lru) = args.next() {
        config = config.with_lru_bytes(lru.parse().expect("LRU bytes"));
    }
    config = config.with_window(args.next().map_or(1000, |w| w.parse().expect("a window")));
    let n = windows as usize + config.window - 1;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let signal: Vec<f32> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    let before = vm_hwm_kib();
    let mut p = Rolling::new(config, ())?;
    let start = Instant::now();
    let mut sum = 0f64;
    p.evaluate_with::<zscore>(&signal, 0..windows, |_, z| sum += f64::from(z))?;
    let took = start.elapsed();
    let c = p.counters();
    println!(
        "{windows} windows, mode {}: {:.2} s, {:.2} M windows/s; engine live high-water {:.2} MiB; peak RSS {:.1} MiB (signal and binary: {:.1} MiB before the run); checksum {sum:.3}",
        p.last_plan().map_or(mode, |pl| pl.mode),
        took.as_secs_f64(),
        windows as f64 / took.as_secs_f64() / 1e6,
        c.live_bytes_high_water as f64 / f64::from(1 << 20),
        vm_hwm_kib() as f64 / 1024.0,
        before as f64 / 1024.0,
    );
    Ok(())
}
