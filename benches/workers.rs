//! Parallel evaluation of a pure 4-stage pipeline (Hann-windowed real FFT -> band zeroing ->
//! spectral features -> classifier, the stages of `benches/fused.rs`) with 1 and 2 workers,
//! in `sqrt` mode over the same 2045 windows. Every stage is pure, so with 2 workers the whole
//! chain is computed ahead on both threads and the calling thread only delivers outputs.
//!
//! - `cargo bench --bench workers`: criterion group `workers` with `workers_1` and
//!   `workers_2` (batches of 256 windows).
//! - `SQRTSPACE_BENCH_REPORT=1 cargo bench --bench workers`: no criterion; first the
//!   instrumented figures (load-independent: per thread CPU time from the kernel's accounting,
//!   the calling thread's waits for the pool, wake-up latency, samples copied, and the speedup
//!   those predict on two idle cores) for 1 worker, 2 workers with each batch computed in one
//!   go (the schedule before pipelining) and 2 workers pipelined, the calling thread's
//!   planning cost, and the same three for the audio job's own pipeline
//!   (`sqrtspace_audio::AudioPipeline`, whose flux, classify and smooth stages are sequential)
//!   streamed in push mode (`SQRTSPACE_BENCH_INSTRUMENT_ONLY=1` stops there); then runs 1 and 2
//!   workers alternately (7 runs each, so that load from other processes hits both alike),
//!   prints each median, the speedup, the 1-minute load average, the speedup of a plain
//!   CPU-bound loop split over 2 threads measured between the runs (what the machine can give
//!   a second thread at that moment), the plan the planner makes
//!   with `max_workers = 2` (measured stage costs, estimated speedup), and checks that the
//!   outputs are identical.

mod common;

use std::hint::black_box;
use std::ops::Range;
use std::time::Duration;

use common::{bench_mode, human, ms, report_requested, time, Lcg};
use criterion::{Criterion, Throughput};
use num_complex::Complex32;
use sqrtspace::parallel::{thread_cpu_ns, WorkerStats};
use sqrtspace::{pipeline, stage, Config, Mode, Planner, MIB};
use sqrtspace_audio::hann_spectrum;

/// Sample rate of the synthetic signal, Hz.
const SAMPLE_RATE: f32 = 44_100.0;
/// Frame length `W`, samples.
const WINDOW: usize = 4096;
/// Hop `H`, samples.
const HOP: usize = 1024;
/// Windows of the benchmarked signal: `2^21` samples give `(2^21 - W) / H + 1 = 2045`.
const WINDOWS: u64 = ((1 << 21) - WINDOW as u64) / HOP as u64 + 1;
/// Windows under `cargo test --benches` (a smoke test, not a measurement).
const TEST_WINDOWS: u64 = 64;
/// Windows per batch with 2 workers (`SQRTSPACE_BENCH_BATCH` overrides it).
const BATCH: u64 = 256;

fn batch() -> u64 {
    std::env::var("SQRTSPACE_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BATCH)
}

const ZERO: Complex32 = Complex32::new(0.0, 0.0);

/// Runtime parameters of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct BandParams {
    /// Sample rate, Hz.
    pub sample_rate: f32,
    /// Lowest kept frequency, Hz.
    pub low_hz: f32,
    /// Highest kept frequency, Hz.
    pub high_hz: f32,
}

impl Default for BandParams {
    fn default() -> Self {
        BandParams {
            sample_rate: SAMPLE_RATE,
            low_hz: 80.0,
            high_hz: 2000.0,
        }
    }
}

impl BandParams {
    /// Bins of a one-sided spectrum of `bins` bins whose centre lies in `[low_hz, high_hz]`.
    fn kept(&self, bins: usize) -> Range<usize> {
        let n = (2 * bins.saturating_sub(1)).max(1) as f32;
        let lo = (self.low_hz * n / self.sample_rate).ceil() as usize;
        let hi = ((self.high_hz * n / self.sample_rate).floor() as usize + 1).min(bins);
        lo.min(hi)..hi
    }
}

/// One-sided spectrum (`W/2 + 1` bins, unnormalised) of the periodic-Hann-windowed frame: the
/// library's own [`sqrtspace_audio::hann_spectrum`] (realfft, plans cached per thread), as in
/// `benches/fused.rs`.
#[stage(inputs = [input], cost = 10)]
fn spectrum(frame: &[f32]) -> Vec<Complex32> {
    hann_spectrum(frame)
}

/// The spectrum with every bin outside `[low_hz, high_hz]` zeroed (a brick-wall band-pass).
#[stage(inputs = [spectrum], cost = 1)]
fn band(spec: &[Complex32], #[params] p: &BandParams) -> Vec<Complex32> {
    let kept = p.kept(spec.len());
    spec.iter()
        .enumerate()
        .map(|(k, &c)| if kept.contains(&k) { c } else { ZERO })
        .collect()
}

/// Per-window spectral features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// Magnitude-weighted mean frequency, Hz.
    pub centroid_hz: f32,
    /// Geometric over arithmetic mean of the power in the kept band (0 tonal .. 1 white).
    pub flatness: f32,
    /// RMS of the windowed frame (Parseval), full scale 1.0.
    pub rms: f32,
}

impl sqrtspace::ByteSize for Features {}

/// Centroid, flatness and RMS of a (band-zeroed) spectrum.
#[stage(inputs = [band], cost = 2)]
fn features(spec: &[Complex32], #[params] p: &BandParams) -> Features {
    let n = (2 * spec.len().saturating_sub(1)).max(1);
    let bin_hz = p.sample_rate / n as f32;
    let last = spec.len().saturating_sub(1);
    let (mut energy, mut mag_sum, mut weighted) = (0.0f32, 0.0f32, 0.0f32);
    for (k, c) in spec.iter().enumerate() {
        let power = c.norm_sqr();
        let mag = power.sqrt();
        mag_sum += mag;
        weighted += mag * k as f32 * bin_hz;
        energy += if k == 0 || k == last {
            power
        } else {
            2.0 * power
        };
    }
    let kept = p.kept(spec.len());
    let (mut log_sum, mut lin_sum) = (0.0f32, 0.0f32);
    for c in &spec[kept.clone()] {
        let power = c.norm_sqr() + 1e-12;
        log_sum += power.ln();
        lin_sum += power;
    }
    let m = kept.len().max(1) as f32;
    Features {
        centroid_hz: if mag_sum > 0.0 {
            weighted / mag_sum
        } else {
            0.0
        },
        flatness: (log_sum / m).exp() / (lin_sum / m),
        rms: energy.sqrt() / n as f32,
    }
}

/// A 3-class fixed-weight linear rule: 0 quiet, 1 tonal, 2 noisy (argmax of `W x + b` over
/// `x = [centroid kHz, flatness, level dBFS / 20]`).
#[stage(inputs = [features], cost = 1)]
fn classify(f: &Features) -> u8 {
    const W: [[f32; 3]; 3] = [[0.0, 0.0, -4.0], [-0.5, -8.0, 1.0], [0.5, 8.0, 1.0]];
    const B: [f32; 3] = [-8.0, 2.0, -1.0];
    let x = [f.centroid_hz / 1000.0, f.flatness, (f.rms + 1e-9).log10()];
    let mut best = (0u8, f32::NEG_INFINITY);
    for (c, (w, b)) in W.iter().zip(B).enumerate() {
        let score = w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + b;
        if score > best.1 {
            best = (c as u8, score);
        }
    }
    best.0
}

pipeline! {
    /// FFT -> band zeroing -> features -> classifier.
    pub struct Chain {
        sample: f32,
        params: BandParams,
        stages: [spectrum, band, features, classify],
        output: classify,
    }
}

/// A deterministic synthetic signal, generated in order: two sines with slow envelopes plus
/// LCG noise whose level swells and fades, so the classifier sees all three classes.
struct Synth {
    i: u64,
    noise: Lcg,
}

impl Synth {
    fn new() -> Self {
        Synth {
            i: 0,
            noise: Lcg::new(0x5eed),
        }
    }
    fn fill(&mut self, out: &mut [f32]) {
        use std::f64::consts::TAU;
        let sr = f64::from(SAMPLE_RATE);
        for x in out {
            let s = self.i as f64 / sr;
            let tone = (0.5 + 0.5 * (TAU * s / 7.0).sin()) * (TAU * 440.0 * s).sin()
                + 0.2 * (TAU * 1234.5 * s).sin();
            let level = (0.5 + 0.5 * (TAU * s / 5.0).cos()).powi(3);
            *x = (0.4 * tone * (0.5 + 0.5 * (TAU * s / 11.0).sin())) as f32
                + 0.6 * level as f32 * self.noise.next_f32();
            self.i += 1;
        }
    }
    fn take(&mut self, n: usize) -> Vec<f32> {
        let mut v = vec![0.0; n];
        self.fill(&mut v);
        v
    }
}

/// Samples holding exactly `windows` windows.
fn samples_for(windows: u64) -> usize {
    (windows as usize - 1) * HOP + WINDOW
}

fn config(workers: usize) -> Config {
    Config::default()
        .with_window(WINDOW)
        .with_hop(HOP)
        .with_mode(Mode::Sqrt)
        .with_lru_bytes(16 * MIB)
        .with_max_workers(workers)
}

/// A pipeline of the chain with `workers` allowed and the machine's planner (read once per
/// process: reading the machine, sysinfo's RAM figure, costs milliseconds that no run should
/// time).
fn chain(workers: usize) -> sqrtspace::Pipeline<Chain> {
    static PLANNER: std::sync::OnceLock<Planner> = std::sync::OnceLock::new();
    let mut p = Chain::new(config(workers), BandParams::default()).expect("valid config");
    p.set_planner(PLANNER.get_or_init(Planner::from_machine).clone());
    p
}

/// The classes of `windows` windows of `signal` with `workers` threads (forced, batches of
/// [`batch`]).
fn run(signal: &[f32], windows: u64, workers: usize) -> Vec<u8> {
    let mut p = chain(workers);
    p.force_workers(Some((workers, batch())));
    p.evaluate::<classify>(signal, 0..windows)
        .expect("the chain does not fail")
}

/// One run with the calling thread's CPU time and the engine's instrumentation.
struct Measured {
    wall: Duration,
    /// Calling thread: CPU and run-queue nanoseconds (kernel accounting).
    main_cpu: u64,
    main_runqueue: u64,
    stats: WorkerStats,
}

fn measured(signal: &[f32], windows: u64, workers: usize, synchronous: bool) -> Measured {
    let mut p = chain(workers);
    p.force_workers(Some((workers, batch())));
    p.set_synchronous_batches(synchronous);
    let before = thread_cpu_ns().unwrap_or((0, 0));
    let (wall, out) = time(|| p.evaluate::<classify>(signal, 0..windows));
    let after = thread_cpu_ns().unwrap_or((0, 0));
    black_box(out.expect("the chain does not fail"));
    Measured {
        wall,
        main_cpu: after.0.saturating_sub(before.0),
        main_runqueue: after.1.saturating_sub(before.1),
        stats: p.worker_stats(),
    }
}

/// The audio job's pipeline (`sqrtspace_audio::AudioPipeline`: spectrum, band-pass and
/// features computed ahead; flux, classify and smooth sequential) streamed over `signal` in
/// chunks of 32 Ki samples (`Pipeline::stream`, push mode: the demo's path without the
/// decoder), with `workers` threads forced and batches of 32 windows.
fn measured_stream(signal: &[f32], workers: usize, synchronous: bool) -> Measured {
    use sqrtspace_audio::{demo_config, AudioParams, AudioPipeline};
    let config = demo_config()
        .with_mode(Mode::Sqrt)
        .with_max_workers(workers);
    let mut p =
        AudioPipeline::new(config, AudioParams::new(SAMPLE_RATE as u32)).expect("valid config");
    p.force_workers(Some((workers, 32)));
    p.set_synchronous_batches(synchronous);
    let before = thread_cpu_ns().unwrap_or((0, 0));
    let (wall, end) = time(|| {
        p.stream(
            signal.chunks(1 << 15).map(Ok::<_, sqrtspace::Error>),
            |_, o| {
                black_box(o);
            },
        )
    });
    let after = thread_cpu_ns().unwrap_or((0, 0));
    black_box(end.expect("the audio pipeline does not fail"));
    Measured {
        wall,
        main_cpu: after.0.saturating_sub(before.0),
        main_runqueue: after.1.saturating_sub(before.1),
        stats: p.worker_stats(),
    }
}

/// Prints where the time went in `m` (medians of the runs are the caller's business):
/// calling thread busy/waiting, pool busy, wake-up latency, samples copied, and the speedup
/// the CPU times predict on two idle cores (`one_cpu`: the 1-worker run's CPU time).
fn print_instrumented(label: &str, m: &Measured, windows: u64, one_cpu: u64, synchronous: bool) {
    let st = &m.stats;
    let wall = m.wall.as_nanos().max(1) as f64;
    let pct = |x: u64| 100.0 * x as f64 / wall;
    // On two idle cores each thread runs its CPU work without delay: computing each batch in
    // one go, the calling thread's chunk and the pool's run side by side, then the sequential
    // part alone; pipelined, the two threads overlap throughout.
    let predicted = if synchronous {
        m.main_cpu - st.main_ahead_cpu_ns.min(m.main_cpu) + st.main_ahead_cpu_ns.max(st.pool_cpu_ns)
    } else {
        m.main_cpu.max(st.pool_cpu_ns)
    };
    println!(
        "  {label}: wall {}; calling thread CPU {} ({:.0}% of wall), run-queue {:.0}%, waiting for the pool {:.0}%, handing out jobs {:.1}%",
        ms(m.wall),
        ms(Duration::from_nanos(m.main_cpu)),
        pct(m.main_cpu),
        pct(m.main_runqueue),
        pct(st.wait_ns),
        pct(st.dispatch_ns),
    );
    if st.jobs > 0 {
        println!(
            "      pool: {} jobs, {} windows on pool threads and {} on the calling thread ({} batches; its chunks' CPU {}), pool busy {} (CPU {}, run-queue {}), wake-up {:.0} us/job, {:.0} samples copied per window",
            st.jobs,
            st.pool_windows,
            st.main_windows,
            st.batches,
            ms(Duration::from_nanos(st.main_ahead_cpu_ns)),
            ms(Duration::from_nanos(st.pool_busy_ns)),
            ms(Duration::from_nanos(st.pool_cpu_ns)),
            ms(Duration::from_nanos(st.pool_runqueue_ns)),
            st.wake_ns as f64 / st.jobs as f64 / 1e3,
            st.samples_copied as f64 / windows as f64,
        );
        println!(
            "      critical path on two idle cores from the threads' CPU times: {} -> predicted speedup {:.2}x over 1 worker's CPU {}; CPU total {} ({:.2}x of 1 worker's)",
            ms(Duration::from_nanos(predicted)),
            one_cpu as f64 / predicted.max(1) as f64,
            ms(Duration::from_nanos(one_cpu)),
            ms(Duration::from_nanos(m.main_cpu + st.pool_cpu_ns)),
            (m.main_cpu + st.pool_cpu_ns) as f64 / one_cpu.max(1) as f64,
        );
    }
}

/// The instrumented figures, load-independent: 1 worker, 2 workers with the batches computed
/// in one go (the schedule before pipelining), 2 workers pipelined; the run with the median
/// calling-thread CPU time of 5 each.
fn instrumented(signal: &[f32], windows: u64) {
    println!(
        "instrumented (kernel per-thread CPU accounting; median of 5 runs by calling-thread CPU):"
    );
    let pick = |workers: usize, synchronous: bool| {
        let mut runs: Vec<Measured> = (0..5)
            .map(|_| measured(signal, windows, workers, synchronous))
            .collect();
        runs.sort_by_key(|m| m.main_cpu);
        runs.swap_remove(2)
    };
    let one = pick(1, false);
    print_instrumented(
        "1 worker                  ",
        &one,
        windows,
        one.main_cpu,
        false,
    );
    let sync = pick(2, true);
    print_instrumented(
        "2 workers, batch in one go",
        &sync,
        windows,
        one.main_cpu,
        true,
    );
    let piped = pick(2, false);
    print_instrumented(
        "2 workers, pipelined      ",
        &piped,
        windows,
        one.main_cpu,
        false,
    );
    // The part of every run above that is not window evaluation: the planner's probe (4
    // windows for the output sizes, 3% of the windows timed per stage) and the plan.
    let mut p = chain(2);
    p.force_workers(Some((2, batch())));
    let before = thread_cpu_ns().unwrap_or((0, 0));
    black_box(p.plan::<classify>(signal, 0..windows).expect("plans"));
    let after = thread_cpu_ns().unwrap_or((0, 0));
    println!(
        "      of which planning (probe and timed probe, on the calling thread, in every run): CPU {}",
        ms(Duration::from_nanos(after.0.saturating_sub(before.0)))
    );
    println!(
        "the audio job's pipeline streamed (push mode; sequential tail: flux, classify, smooth):"
    );
    let pick = |workers: usize, synchronous: bool| {
        let mut runs: Vec<Measured> = (0..5)
            .map(|_| measured_stream(signal, workers, synchronous))
            .collect();
        runs.sort_by_key(|m| m.main_cpu);
        runs.swap_remove(2)
    };
    let one = pick(1, false);
    print_instrumented(
        "1 worker                  ",
        &one,
        windows,
        one.main_cpu,
        false,
    );
    let sync = pick(2, true);
    print_instrumented(
        "2 workers, batch in one go",
        &sync,
        windows,
        one.main_cpu,
        true,
    );
    let piped = pick(2, false);
    print_instrumented(
        "2 workers, pipelined      ",
        &piped,
        windows,
        one.main_cpu,
        false,
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// The machine's spare parallelism right now: the time of a fixed CPU-bound loop on one thread
/// over its time split between two threads (2.0 on two idle cores; below 1 when other
/// processes already use every core).
fn two_thread_capacity() -> f64 {
    fn spin(n: u64) -> f64 {
        let mut x = 1.000_001f64;
        for i in 0..n {
            x = (x * 1.000_000_1 + (i & 7) as f64 * 1e-9).min(4.0);
        }
        x
    }
    const N: u64 = 40_000_000;
    let one = time(|| black_box(spin(N))).0;
    let two = time(|| {
        std::thread::scope(|s| {
            let h = s.spawn(|| black_box(spin(N / 2)));
            black_box(spin(N / 2));
            let _ = h.join();
        });
    })
    .0;
    one.as_secs_f64() / two.as_secs_f64()
}

fn report(signal: &[f32], windows: u64) {
    let one = run(signal, windows, 1);
    assert_eq!(
        run(signal, windows, 2),
        one,
        "outputs identical with 2 workers"
    );
    let (mut t1, mut t2): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    let mut capacity = Vec::new();
    let load_before = load_average();
    for _ in 0..7 {
        t1.push(time(|| black_box(run(signal, windows, 1))).0);
        t2.push(time(|| black_box(run(signal, windows, 2))).0);
        capacity.push(two_thread_capacity());
    }
    capacity.sort_by(f64::total_cmp);
    t1.sort();
    t2.sort();
    let (m1, m2) = (t1[3], t2[3]);
    println!(
        "workers bench: {windows} windows of {WINDOW} samples (hop {HOP}), sqrt mode, batch {}",
        batch()
    );
    println!("  1 worker:  median {} (min {})", ms(m1), ms(t1[0]));
    println!("  2 workers: median {} (min {})", ms(m2), ms(t2[0]));
    println!(
        "  speedup:   {:.2}x median, {:.2}x min; outputs identical",
        m1.as_secs_f64() / m2.as_secs_f64(),
        t1[0].as_secs_f64() / t2[0].as_secs_f64()
    );
    println!(
        "  load average (1 min): {load_before} before, {} after; cores: {}",
        load_average(),
        sqrtspace::parallel::cores()
    );
    println!(
        "  spare parallelism at the same time: a CPU-bound loop split over 2 threads ran {:.2}x (median; 2.00 on two idle cores)",
        capacity[3]
    );
    println!(
        "  signal: {} of f32 samples",
        human(std::mem::size_of_val(signal) as u64)
    );
    let mut p = chain(2);
    let plan = p.plan::<classify>(signal, 0..windows).expect("plans");
    println!("{plan}");
}

fn main() {
    let windows = if bench_mode() { WINDOWS } else { TEST_WINDOWS };
    let signal = Synth::new().take(samples_for(windows));
    if report_requested() {
        instrumented(&signal, windows);
        if std::env::var("SQRTSPACE_BENCH_INSTRUMENT_ONLY").is_ok_and(|v| v == "1") {
            return;
        }
        report(&signal, windows);
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .configure_from_args();
    let mut g = c.benchmark_group("workers");
    g.throughput(Throughput::Elements(windows));
    for workers in [1, 2] {
        g.bench_function(format!("workers_{workers}"), |b| {
            b.iter(|| black_box(run(&signal, windows, workers)));
        });
    }
    g.finish();
    c.final_summary();
}
