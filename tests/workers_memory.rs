//! Memory with several workers is bounded by the budgets, not by the stream's length,
//! measured as the process's peak RSS (`VmHWM`), not only the engine's counters: streaming 8
//! times more windows through a pipeline with 2 and 4 workers raises the peak by less than a
//! few MiB. One test per binary, so no other test's allocations move the high-water mark.

use sqrtspace::{pipeline, stage, Config, Error, Mode, MIB};

/// A spectrum-sized output per window (1 KiB of f32), so that holding outputs for the whole
/// stream would show in RSS (16 MiB for the long stream).
#[stage(inputs = [input], cost = 5)]
fn smooth(frame: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0f32; 256];
    for (i, o) in out.iter_mut().enumerate() {
        *o = frame.iter().skip(i).step_by(256).sum();
    }
    out
}

#[stage(inputs = [smooth, smooth[-1]])]
fn change(now: &Vec<f32>, before: Option<&Vec<f32>>) -> f32 {
    before.map_or(0.0, |b| now.iter().zip(b).map(|(x, y)| (x - y).abs()).sum())
}

#[stage(inputs = [change])]
fn running(c: &f32, #[state] s: &mut f32) -> f32 {
    *s = 0.9 * *s + c;
    *s
}

pipeline! {
    /// A pure prefix with a lookback, then a stateful tail.
    struct Tail {
        stages: [smooth, change, running],
        output: running,
    }
}

fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024)
}

/// Streams `windows` windows (window 1024, hop 256) generated chunk by chunk.
fn stream(windows: u64, workers: usize) -> u64 {
    let config = Config::default()
        .with_window(1024)
        .with_hop(256)
        .with_mode(Mode::Sqrt)
        .with_lru_bytes(MIB)
        .with_checkpoint_bytes(MIB)
        .with_max_workers(workers);
    let mut p = Tail::new(config, ()).unwrap();
    p.force_workers(Some((workers, 64)));
    let samples = (windows - 1) * 256 + 1024;
    let chunk = 4096u64;
    let chunks = (0..samples.div_ceil(chunk)).map(|c| {
        let n = chunk.min(samples - c * chunk);
        Ok::<_, Error>(
            (0..n)
                .map(|i| (((c * chunk + i) % 977) as f32 * 0.01).sin())
                .collect::<Vec<f32>>(),
        )
    });
    let mut n = 0;
    let end = p.stream(chunks, |_, _| n += 1).unwrap();
    assert_eq!(end.windows, windows);
    n
}

#[test]
fn peak_rss_does_not_grow_with_the_stream_length_with_workers() {
    if !std::path::Path::new("/proc/self/status").exists() {
        return; // VmHWM is Linux's
    }
    for workers in [2, 4] {
        assert_eq!(stream(2_000, workers), 2_000);
        let short = peak_rss();
        assert_eq!(stream(16_000, workers), 16_000);
        let long = peak_rss();
        // Holding every output of the long stream would add 16 MiB, its samples 16 MiB.
        assert!(
            long.saturating_sub(short) < 4 * MIB as u64,
            "{workers} workers: peak RSS {short} after 2000 windows, {long} after 16000"
        );
    }
}
