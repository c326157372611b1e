//! Two graphs evaluated by the engine in `sqrt` and `classic` mode, against the same stage
//! functions called in a hand-written fused loop:
//!
//! - `Chain`, a 4-stage chain (Hann-windowed real FFT -> band zeroing -> spectral features ->
//!   a tiny classifier) whose every output is read exactly once, by the next stage of the same
//!   window: the engine's **best case**. Nothing is ever re-read, so the LRU is never used and
//!   its budget cannot matter; the chain measures the engine's bookkeeping alone.
//! - The library's `AudioPipeline` (`sqrtspace_audio`), whose outputs are re-read: the band
//!   of a window feeds both `features` and `flux` (fan-out) and is read again by the next
//!   window's `flux` (`bandpass[-1]`, a lookback); the frame feeds three stages. Its LRU sweep
//!   (budgets from 0, where every re-read is a recomputation, to 64 MiB) is the one that says
//!   what the LRU buys; the reference is `sqrtspace_audio::fused_loop`.
//!
//! Goal (issue): `sqrt` time <= 1.10 x the fused loop, and peak memory that does not grow
//! with the stream's length.
//!
//! - `cargo bench --bench fused`: criterion group `fused` with `fused_loop`, `sqrt_mode`
//!   (LRU 1 MiB), `classic_mode` and `sqrt_mode_default_lru_64mib` over the chain's 2045
//!   windows, and `reread_fused_loop`, `reread_sqrt_lru_0`, `reread_sqrt_lru_1mib` over the
//!   audio pipeline.
//! - Buffer reuse: `ChainOut` is the same chain written with `#[out]` parameters (the spectrum
//!   and the band are filled into recycled buffers), against `fused_loop_reuse`, the
//!   hand-fused loop that allocates its two buffers once: criterion `fused_loop_reuse`,
//!   `sqrt_mode_out`, `classic_mode_out`. The binary counts heap allocations (a counting
//!   wrapper around the system allocator, this binary only) and the report prints them per
//!   window.
//! - `SQRTSPACE_BENCH_REUSE=1 cargo bench --bench fused`: that buffer-reuse table alone.
//! - `SQRTSPACE_BENCH_REPORT=1 cargo bench --bench fused`: no criterion; prints the
//!   sqrt/fused time ratio (median of 5 runs each), a breakdown of where the time goes, the
//!   engine's live-bytes high-water and the process's peak RSS for streams of T, 4T and 16T
//!   windows, and the audio pipeline's LRU sweep with its recomputation counts.

mod common;

use std::hint::black_box;
use std::ops::Range;
use std::time::Duration;

use common::{bench_mode, human, ms, peak_rss, report_requested, time, Lcg};
use criterion::{Criterion, Throughput};
use num_complex::Complex32;
use sqrtspace::{pipeline, stage, Config, Error, Meter, Mode, Pipeline, MIB};
use sqrtspace_audio::pipeline::smooth;
use sqrtspace_audio::{
    fused_loop, hann_spectrum, hann_spectrum_into, AudioParams, AudioPipeline, OutputDigest,
};

/// Heap allocations of this binary, counted (the report's "allocs/window").
#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// A counting wrapper around the system allocator: every `alloc`, `alloc_zeroed` and
/// `realloc` adds one to [`counting::allocations`]. Bench binary only.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

    /// Allocations (including reallocations) since the process started.
    pub fn allocations() -> u64 {
        ALLOCATIONS.load(Relaxed)
    }

    /// The counting allocator.
    pub struct Counting;

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
    // `System`'s guarantees are this allocator's.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Relaxed);
            // SAFETY: forwarded as is (see above).
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Relaxed);
            // SAFETY: forwarded as is.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Relaxed);
            // SAFETY: forwarded as is.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded as is.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

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
/// The LRU budget of the `sqrt_mode` bench: room for ~30 windows of both spectra, far less
/// than the ~64 MiB of intermediates of 2045 windows.
const SQRT_LRU: usize = MIB;

const ZERO: Complex32 = Complex32::new(0.0, 0.0);

// ---------------------------------------------------------------------------------------------
// The stages.

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
/// library's own [`sqrtspace_audio::hann_spectrum`] (realfft, plans cached per thread), so
/// the bench times the code the audio pipeline runs.
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

// ---------------------------------------------------------------------------------------------
// The same chain with buffer reuse: the spectrum and the band filled into recycled buffers
// (`#[out]`), the features and the class as before.

/// [`spectrum`] written into a recycled buffer (every bin overwritten).
#[stage(inputs = [input], cost = 10)]
fn spectrum_out(frame: &[f32], #[out] out: &mut Vec<Complex32>) {
    hann_spectrum_into(frame, out);
}

/// [`band`] written into a recycled buffer (cleared, then refilled).
#[stage(inputs = [spectrum_out], cost = 1)]
fn band_out(spec: &[Complex32], #[params] p: &BandParams, #[out] out: &mut Vec<Complex32>) {
    let kept = p.kept(spec.len());
    out.clear();
    out.extend(
        spec.iter()
            .enumerate()
            .map(|(k, &c)| if kept.contains(&k) { c } else { ZERO }),
    );
}

/// [`features`] of [`band_out`].
#[stage(inputs = [band_out], cost = 2)]
fn features_out(spec: &[Complex32], #[params] p: &BandParams) -> Features {
    features(spec, p)
}

/// [`classify`] of [`features_out`].
#[stage(inputs = [features_out], cost = 1)]
fn classify_out(f: &Features) -> u8 {
    classify(f)
}

pipeline! {
    /// The chain with `#[out]` stages.
    pub struct ChainOut {
        sample: f32,
        params: BandParams,
        stages: [spectrum_out, band_out, features_out, classify_out],
        output: classify_out,
    }
}

/// The chain called by hand with its two buffers allocated once: the best a hand-written loop
/// does (the reference of buffer reuse).
fn fused_reuse_with(signal: &[f32], p: &BandParams, windows: u64, mut sink: impl FnMut(u64, u8)) {
    let (mut spec, mut banded) = (Vec::new(), Vec::new());
    for t in 0..windows {
        let s = t as usize * HOP;
        spectrum_out(&signal[s..s + WINDOW], &mut spec);
        band_out(&spec, p, &mut banded);
        let f = features(&banded, p);
        sink(t, classify(&f));
    }
}

fn fused_reuse_tally(signal: &[f32], p: &BandParams, windows: u64) -> [u64; 3] {
    let mut tally = [0u64; 3];
    fused_reuse_with(signal, p, windows, |_, c| tally[usize::from(c)] += 1);
    tally
}

fn chain_out(mode: Mode, lru_bytes: usize) -> Pipeline<ChainOut> {
    ChainOut::new(config(mode, lru_bytes), BandParams::default()).expect("a valid configuration")
}

/// [`engine_tally`] for the `#[out]` chain.
fn engine_out_tally(pipe: &mut Pipeline<ChainOut>, signal: &[f32], windows: u64) -> [u64; 3] {
    pipe.reset();
    let mut tally = [0u64; 3];
    pipe.evaluate_with::<classify_out>(signal, 0..windows, |_, c| tally[usize::from(c)] += 1)
        .expect("the chain cannot fail");
    tally
}

// ---------------------------------------------------------------------------------------------
// The signal and the three ways to run the chain.

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

/// The chain called by hand, window by window: what the engine's `sqrt` mode should cost.
fn fused_with(signal: &[f32], p: &BandParams, windows: u64, mut sink: impl FnMut(u64, u8)) {
    for t in 0..windows {
        let s = t as usize * HOP;
        let spec = spectrum(&signal[s..s + WINDOW]);
        let banded = band(&spec, p);
        let f = features(&banded, p);
        sink(t, classify(&f));
    }
}

fn fused_tally(signal: &[f32], p: &BandParams, windows: u64) -> [u64; 3] {
    let mut tally = [0u64; 3];
    fused_with(signal, p, windows, |_, c| tally[usize::from(c)] += 1);
    tally
}

fn config(mode: Mode, lru_bytes: usize) -> Config {
    Config::default()
        .with_window(WINDOW)
        .with_hop(HOP)
        .with_mode(mode)
        .with_lru_bytes(lru_bytes)
}

fn chain(mode: Mode, lru_bytes: usize) -> Pipeline<Chain> {
    Chain::new(config(mode, lru_bytes), BandParams::default()).expect("a valid configuration")
}

/// One fresh evaluation of `0..windows` (cache, state and checkpoints of the previous run are
/// dropped first, so no run reuses another's outputs).
fn engine_tally(pipe: &mut Pipeline<Chain>, signal: &[f32], windows: u64) -> [u64; 3] {
    pipe.reset();
    let mut tally = [0u64; 3];
    pipe.evaluate_with::<classify>(signal, 0..windows, |_, c| tally[usize::from(c)] += 1)
        .expect("the chain cannot fail");
    tally
}

// ---------------------------------------------------------------------------------------------
// Criterion.

fn bench_fused(c: &mut Criterion) {
    let windows = if bench_mode() { WINDOWS } else { TEST_WINDOWS };
    let signal = Synth::new().take(samples_for(windows));
    let params = BandParams::default();
    let mut sqrt = chain(Mode::Sqrt, SQRT_LRU);
    let mut classic = chain(Mode::Classic, SQRT_LRU);
    let mut sqrt_default = chain(Mode::Sqrt, Config::default().lru_bytes);

    let mut g = c.benchmark_group("fused");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(windows));
    g.bench_function("fused_loop", |b| {
        b.iter(|| fused_tally(black_box(&signal), &params, windows))
    });
    g.bench_function("sqrt_mode", |b| {
        b.iter(|| engine_tally(&mut sqrt, black_box(&signal), windows))
    });
    g.bench_function("classic_mode", |b| {
        b.iter(|| engine_tally(&mut classic, black_box(&signal), windows))
    });
    g.bench_function("sqrt_mode_default_lru_64mib", |b| {
        b.iter(|| engine_tally(&mut sqrt_default, black_box(&signal), windows));
    });
    // Buffer reuse: the `#[out]` chain against the hand-fused loop with buffers allocated once.
    let mut sqrt_out = chain_out(Mode::Sqrt, SQRT_LRU);
    let mut classic_out = chain_out(Mode::Classic, SQRT_LRU);
    g.bench_function("fused_loop_reuse", |b| {
        b.iter(|| fused_reuse_tally(black_box(&signal), &params, windows))
    });
    g.bench_function("sqrt_mode_out", |b| {
        b.iter(|| engine_out_tally(&mut sqrt_out, black_box(&signal), windows))
    });
    g.bench_function("classic_mode_out", |b| {
        b.iter(|| engine_out_tally(&mut classic_out, black_box(&signal), windows))
    });
    // The graph that re-reads its outputs: here the LRU budget matters.
    let ap = AudioParams::new(SAMPLE_RATE as u32);
    let mut lru0 = reread(Mode::Sqrt, 0);
    let mut lru1 = reread(Mode::Sqrt, MIB);
    g.bench_function("reread_fused_loop", |b| {
        b.iter(|| reread_fused(black_box(&signal), &ap))
    });
    g.bench_function("reread_sqrt_lru_0", |b| {
        b.iter(|| reread_engine(&mut lru0, black_box(&signal)))
    });
    g.bench_function("reread_sqrt_lru_1mib", |b| {
        b.iter(|| reread_engine(&mut lru1, black_box(&signal)))
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// The graph that re-reads outputs: the library's audio pipeline.

/// The audio pipeline (spectrum -> bandpass -> features and flux (lookback) -> classify ->
/// smooth) at the chain's window and hop, in `mode`, with an LRU of `lru` bytes.
fn reread(mode: Mode, lru: usize) -> Pipeline<AudioPipeline> {
    AudioPipeline::new(config(mode, lru), AudioParams::new(SAMPLE_RATE as u32))
        .expect("a valid configuration")
}

/// The audio pipeline's stage functions called by hand over `signal`: its digest.
fn reread_fused(signal: &[f32], p: &AudioParams) -> OutputDigest {
    let mut d = OutputDigest::default();
    fused_loop(signal, &config(Mode::Sqrt, 0), p, |t, o| d.push(t, &o));
    d
}

/// One fresh evaluation of the whole signal by the engine: its digest.
fn reread_engine(pipe: &mut Pipeline<AudioPipeline>, signal: &[f32]) -> OutputDigest {
    pipe.reset();
    let windows = config(Mode::Sqrt, 0).windows_in(signal.len() as u64);
    let mut d = OutputDigest::default();
    pipe.evaluate_with::<smooth>(signal, 0..windows, |t, o| d.push(t, &o))
        .expect("the audio pipeline cannot fail on finite input");
    d
}

/// The LRU sweep over the audio pipeline: sqrt/fused wall-time ratio and what the engine
/// recomputed, per LRU budget.
fn reread_sweep(signal: &[f32]) {
    let p = AudioParams::new(SAMPLE_RATE as u32);
    let windows = config(Mode::Sqrt, 0).windows_in(signal.len() as u64);
    let reference = reread_fused(signal, &p);
    println!(
        "\n-- LRU sweep over a graph that re-reads outputs: the audio pipeline (band read by features, flux and the next window's flux), {windows} windows; median of {RUNS} runs interleaved with the fused loop"
    );
    println!(
        "{:<22} {:>10} {:>10} {:>7} {:>12} {:>12} {:>12} {:>13}  outputs",
        "run", "wall", "fused wall", "ratio", "FFTs/window", "recomputes", "cache hits", "LRU HW"
    );
    for lru in [
        0,
        8 << 10,
        32 << 10,
        64 << 10,
        256 << 10,
        MIB,
        16 * MIB,
        64 * MIB,
    ] {
        let mut pipe = reread(Mode::Sqrt, lru);
        black_box(reread_engine(&mut pipe, signal));
        black_box(reread_fused(signal, &p));
        let (mut fw, mut ew) = (Vec::new(), Vec::new());
        let mut digest = OutputDigest::default();
        for _ in 0..RUNS {
            let (f, _) = time(|| black_box(reread_fused(black_box(signal), &p)));
            pipe.reset_counters();
            let (e, d) = time(|| reread_engine(&mut pipe, black_box(signal)));
            fw.push(f);
            ew.push(e);
            digest = d;
        }
        // Counters of the last run only.
        let c = pipe.counters();
        let stage = |name: &str| c.stages.iter().find(|s| s.name == name).cloned();
        let spec = stage("spectrum").expect("the pipeline has a spectrum stage");
        let recomputes: u64 = c.stages.iter().map(|s| s.recomputes).sum();
        let hits: u64 = c.stages.iter().map(|s| s.cache_hits).sum();
        let (fw, ew) = (median_of(fw), median_of(ew));
        println!(
            "{:<22} {:>10} {:>10} {:>7.3} {:>12.2} {:>12} {:>12} {:>13}  {}",
            format!("sqrt, LRU {}", human(lru as u64)),
            ms(ew),
            ms(fw),
            ew.as_secs_f64() / fw.as_secs_f64(),
            spec.evaluations as f64 / windows as f64,
            recomputes,
            hits,
            human(c.lru_high_water as u64),
            if digest == reference {
                "identical to fused"
            } else {
                "DIFFER from fused"
            }
        );
        assert_eq!(digest, reference, "sqrt differs from the fused loop");
    }
}

/// The criterion group (in a private module: `criterion_group!` emits an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(fused_group, super::bench_fused);
}

fn main() {
    // The buffer-reuse table alone (a quicker look than the whole report).
    if std::env::var_os("SQRTSPACE_BENCH_REUSE").is_some() {
        reuse_report(&Synth::new().take(samples_for(WINDOWS)));
        return;
    }
    if report_requested() {
        report();
        return;
    }
    // What `criterion_main!(fused_group)` expands to, behind the report switch.
    group::fused_group();
    Criterion::default().configure_from_args().final_summary();
}

// ---------------------------------------------------------------------------------------------
// The report.

fn report() {
    let params = BandParams::default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", load.trim());
    println!(
        "== fused: {WINDOWS} windows (W {WINDOW}, H {HOP}, {} samples at {SAMPLE_RATE} Hz)",
        samples_for(WINDOWS)
    );

    // Memory first, before anything holds a whole signal, so that the process's peak RSS
    // (a high-water mark) says whether longer streams need more memory.
    println!(
        "\n-- memory: push/stream runs in sqrt mode (LRU {}), signal generated chunk by chunk",
        human(SQRT_LRU as u64)
    );
    println!(
        "{:>8} {:>5} {:>14} {:>12} {:>13} {:>17} {:>12} {:>18}",
        "windows",
        "x T",
        "live-bytes HW",
        "LRU HW",
        "ckpt ring HW",
        "process peak RSS",
        "stream time",
        "of it: generating"
    );
    let chunk = 16_384;
    for mult in [1u64, 4, 16] {
        let windows = WINDOWS * mult;
        let (generating, ()) = time(|| {
            let mut synth = Synth::new();
            let mut buf = vec![0.0; chunk];
            let mut left = samples_for(windows);
            while left > 0 {
                let n = left.min(chunk);
                synth.fill(&mut buf[..n]);
                black_box(&buf);
                left -= n;
            }
        });
        let mut pipe = chain(Mode::Sqrt, SQRT_LRU);
        let mut synth = Synth::new();
        let mut left = samples_for(windows);
        let chunks = std::iter::from_fn(|| {
            let n = left.min(chunk);
            left -= n;
            (n > 0).then(|| Ok::<_, Error>(synth.take(n)))
        });
        let mut tally = [0u64; 3];
        let (took, end) = time(|| {
            pipe.stream(chunks, |_, c| tally[usize::from(c)] += 1)
                .expect("the chain cannot fail")
        });
        assert_eq!(end.windows, windows);
        let c = pipe.counters();
        println!(
            "{windows:>8} {mult:>5} {:>14} {:>12} {:>13} {:>17} {:>12} {:>18}",
            human(c.live_bytes_high_water as u64),
            human(c.lru_high_water as u64),
            human(pipe.ring().high_water() as u64),
            human(peak_rss()),
            ms(took),
            ms(generating)
        );
    }

    let signal = Synth::new().take(samples_for(WINDOWS));
    println!(
        "\n-- the {WINDOWS}-window signal is held in memory from here on ({})",
        human((signal.len() * 4) as u64)
    );
    println!("process peak RSS now {}", human(peak_rss()));

    // Same outputs everywhere.
    let mut fused_out = Vec::new();
    fused_with(&signal, &params, WINDOWS, |_, c| fused_out.push(c));
    let sqrt_out = chain(Mode::Sqrt, SQRT_LRU)
        .evaluate::<classify>(&signal, 0..WINDOWS)
        .expect("runs");
    let classic_out = chain(Mode::Classic, SQRT_LRU)
        .evaluate::<classify>(&signal, 0..WINDOWS)
        .expect("runs");
    assert_eq!(fused_out, sqrt_out, "sqrt mode differs from the fused loop");
    assert_eq!(
        fused_out, classic_out,
        "classic mode differs from the fused loop"
    );
    let tally = fused_tally(&signal, &params, WINDOWS);
    println!("outputs identical (fused = sqrt = classic); classes quiet/tonal/noisy = {tally:?}");

    // Timings. Each engine configuration is measured interleaved with the fused loop (fused,
    // engine, fused, engine, ...; one warm-up run of each first), so that load from other
    // processes on the machine hits both alike; medians of RUNS runs each, wall and CPU time.
    println!("\n-- time over {WINDOWS} windows: median of {RUNS} runs, each interleaved with {RUNS} runs of the fused loop");
    println!("   (the chain is the engine's best case: every output is read once, by the next stage of the same window, so the LRU is never used and its budget cannot change these rows; see the LRU sweep over the audio pipeline at the end)");
    compare_header();
    let sqrt = compare(
        &format!("sqrt, LRU {} (bench sqrt_mode)", human(SQRT_LRU as u64)),
        &signal,
        Mode::Sqrt,
        SQRT_LRU,
    );
    for lru in [0, 40 * 1024, 256 * 1024, 4 * MIB, 16 * MIB] {
        compare(
            &format!("sqrt, LRU {}", human(lru as u64)),
            &signal,
            Mode::Sqrt,
            lru,
        );
    }
    let sqrt_default = compare(
        "sqrt, LRU 64 MiB (default; bench ..._64mib)",
        &signal,
        Mode::Sqrt,
        64 * MIB,
    );
    compare(
        "classic (bench classic_mode)",
        &signal,
        Mode::Classic,
        SQRT_LRU,
    );
    println!(
        "\nsqrt/fused wall-time ratio: {sqrt:.3} with LRU {}, {sqrt_default:.3} with the default LRU of 64 MiB (goal <= 1.10)",
        human(SQRT_LRU as u64)
    );

    reuse_report(&signal);

    // Where the fused loop's time goes (prefixes of the chain, by hand).
    println!("\n-- where the fused loop's time goes: prefixes of the chain called by hand, median of {RUNS}");
    let frames = |t: u64| &signal[t as usize * HOP..t as usize * HOP + WINDOW];
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "functions", "wall", "CPU", "CPU/window"
    );
    let prefix = |label: &str, f: &dyn Fn(u64)| {
        let (mut wall, mut cpu) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let m = Meter::start();
            (0..WINDOWS).for_each(f);
            let d = m.stop();
            wall.push(d.wall);
            cpu.push(d.cpu);
        }
        let (wall, cpu) = (median_of(wall), median_of(cpu));
        println!(
            "{label:<44} {:>10} {:>10} {:>10}",
            ms(wall),
            ms(cpu),
            per_window(WINDOWS, cpu)
        );
    };
    prefix("spectrum", &|t| {
        black_box(spectrum(frames(t)));
    });
    prefix("spectrum + band", &|t| {
        black_box(band(&spectrum(frames(t)), &params));
    });
    prefix("spectrum + band + features", &|t| {
        black_box(features(&band(&spectrum(frames(t)), &params), &params));
    });
    prefix("all four (= the fused loop)", &|t| {
        black_box(classify(&features(
            &band(&spectrum(frames(t)), &params),
            &params,
        )));
    });

    drop(signal);

    // The default LRU's cost depends on the run's length: a run first fills 64 MiB (fresh
    // pages), then recycles evicted buffers (cold, but no page faults).
    let long = Synth::new().take(samples_for(4 * WINDOWS));
    println!(
        "\n-- the same at 4T = {} windows (a {} signal in memory)",
        4 * WINDOWS,
        human((long.len() * 4) as u64)
    );
    compare_header();
    compare(
        &format!("sqrt, LRU {}", human(SQRT_LRU as u64)),
        &long,
        Mode::Sqrt,
        SQRT_LRU,
    );
    compare("sqrt, LRU 64 MiB (default)", &long, Mode::Sqrt, 64 * MIB);
    drop(long);

    let signal = Synth::new().take(samples_for(WINDOWS));
    reread_sweep(&signal);
}

/// Runs per measurement in the report.
const RUNS: usize = 5;

fn median_of(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn per_window(windows: u64, d: Duration) -> String {
    format!("{:.2} us", d.as_secs_f64() * 1e6 / windows as f64)
}

fn compare_header() {
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7} {:>7} {:>13}",
        "run",
        "wall",
        "per window",
        "fused wall",
        "ratio",
        "CPU",
        "fused CPU",
        "ratio",
        "faults",
        "live-bytes HW"
    );
}

/// Times the engine in `mode` with an LRU of `lru` bytes over all of `signal`, interleaved
/// with the fused loop; prints a row and returns the wall-time ratio engine/fused.
fn compare(label: &str, signal: &[f32], mode: Mode, lru: usize) -> f64 {
    let params = BandParams::default();
    let windows = config(mode, lru).windows_in(signal.len() as u64);
    let mut pipe = chain(mode, lru);
    black_box(engine_tally(&mut pipe, signal, windows));
    black_box(fused_tally(signal, &params, windows));
    let (mut fw, mut fc, mut ew, mut ec, mut faults) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..RUNS {
        let m = Meter::start();
        black_box(fused_tally(black_box(signal), &params, windows));
        let f = m.stop();
        let m = Meter::start();
        black_box(engine_tally(&mut pipe, black_box(signal), windows));
        let e = m.stop();
        fw.push(f.wall);
        fc.push(f.cpu);
        ew.push(e.wall);
        ec.push(e.cpu);
        faults += e.minor_faults;
    }
    let (fw, fc, ew, ec) = (median_of(fw), median_of(fc), median_of(ew), median_of(ec));
    let ratio = ew.as_secs_f64() / fw.as_secs_f64();
    println!(
        "{label:<44} {:>10} {:>10} {:>10} {ratio:>7.3} {:>10} {:>10} {:>7.3} {:>7} {:>13}",
        ms(ew),
        per_window(windows, ew),
        ms(fw),
        ms(ec),
        ms(fc),
        ec.as_secs_f64() / fc.as_secs_f64().max(1e-9),
        faults / RUNS as u64,
        human(pipe.counters().live_bytes_high_water as u64)
    );
    ratio
}

/// Allocations made by `f`, and its result.
fn allocations<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = counting::allocations();
    let r = f();
    (counting::allocations() - before, r)
}

/// Buffer reuse: the owned chain and the `#[out]` chain in sqrt mode against the fused loops
/// (owned, and with buffers allocated once), interleaved, medians of [`RUNS`]; with the heap
/// allocations per window of each (the whole run, pools and plans started empty by
/// `reset`, and the steady state: the difference between a run of all windows and one of half
/// of them, per window).
fn reuse_report(signal: &[f32]) {
    let params = BandParams::default();
    let windows = config(Mode::Sqrt, SQRT_LRU).windows_in(signal.len() as u64);
    let half = windows / 2;
    let mut owned = chain(Mode::Sqrt, SQRT_LRU);
    let mut out = chain_out(Mode::Sqrt, SQRT_LRU);
    let reference = fused_tally(signal, &params, windows);
    assert_eq!(fused_reuse_tally(signal, &params, windows), reference);
    assert_eq!(engine_out_tally(&mut out, signal, windows), reference);
    let mut outputs_owned = Vec::new();
    fused_with(signal, &params, windows, |_, c| outputs_owned.push(c));
    let outputs_out = chain_out(Mode::Sqrt, SQRT_LRU)
        .evaluate::<classify_out>(signal, 0..windows)
        .expect("runs");
    assert_eq!(
        outputs_owned, outputs_out,
        "#[out] chain differs from the owned one"
    );
    println!(
        "\n-- buffer reuse: {windows} windows, sqrt LRU {}; median of {RUNS} runs, all four interleaved; outputs identical",
        human(SQRT_LRU as u64)
    );
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>16} {:>16}",
        "run", "wall", "CPU", "per window", "allocs/window", "steady allocs/w"
    );
    type Run<'a> = Box<dyn FnMut(u64) + 'a>;
    let p = &params;
    let mut runs: Vec<(&str, Run<'_>)> = vec![
        (
            "fused loop, owned outputs",
            Box::new(|n| {
                black_box(fused_tally(black_box(signal), p, n));
            }),
        ),
        (
            "fused loop, buffers allocated once",
            Box::new(|n| {
                black_box(fused_reuse_tally(black_box(signal), p, n));
            }),
        ),
        (
            "sqrt, owned stages (Chain)",
            Box::new(|n| {
                black_box(engine_tally(&mut owned, black_box(signal), n));
            }),
        ),
        (
            "sqrt, #[out] stages (ChainOut)",
            Box::new(|n| {
                black_box(engine_out_tally(&mut out, black_box(signal), n));
            }),
        ),
    ];
    let mut allocs = Vec::new();
    for (_, run) in &mut runs {
        run(windows);
        let (all, ()) = allocations(|| run(windows));
        let (part, ()) = allocations(|| run(half));
        allocs.push((
            all as f64 / windows as f64,
            all.saturating_sub(part) as f64 / (windows - half) as f64,
        ));
    }
    let mut times = vec![(Vec::new(), Vec::new()); runs.len()];
    for _ in 0..RUNS {
        for (i, (_, run)) in runs.iter_mut().enumerate() {
            let m = Meter::start();
            run(windows);
            let d = m.stop();
            times[i].0.push(d.wall);
            times[i].1.push(d.cpu);
        }
    }
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for (i, (label, _)) in runs.iter().enumerate() {
        let wall = median_of(times[i].0.clone());
        let cpu = median_of(times[i].1.clone());
        walls.push(wall.as_secs_f64());
        cpus.push(cpu.as_secs_f64());
        println!(
            "{label:<40} {:>10} {:>10} {:>10} {:>16.2} {:>16.2}",
            ms(wall),
            ms(cpu),
            per_window(windows, wall),
            allocs[i].0,
            allocs[i].1
        );
    }
    println!(
        "#[out] sqrt / fused with buffers allocated once: wall {:.3}, CPU {:.3} (goal <= 1.02); owned sqrt / owned fused: wall {:.3}, CPU {:.3}",
        walls[3] / walls[1],
        cpus[3] / cpus[1],
        walls[2] / walls[0],
        cpus[2] / cpus[0]
    );
}
