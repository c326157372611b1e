//! Random access into a long stateful chain: 1,000 single-window lookups among 10^6 windows
//! with checkpoints every `k = sqrt(T)` windows, against replaying from window 0 and against
//! classic materialise-all; and how the engine's live memory scales with `T`.
//!
//! The chain is deliberately cheap (window 4, hop 4, so 10^6 windows are 4 x 10^6 samples):
//! `ema` (stateful moving average of the frame mean) -> `drift` (stateful running sum of
//! `ema`) -> `flag` (pure, reads `drift` and `drift[-1]`).
//!
//! - `cargo bench --bench random_access`: criterion times one random lookup with checkpoints.
//! - `SQRTSPACE_BENCH_REPORT=1 cargo bench --bench random_access`: no criterion; prints the
//!   three strategies' times and memory and the memory-scaling table.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{bench_mode, human, median, ms, peak_rss, report_requested, time, Lcg};
use criterion::Criterion;
use sqrtspace::{pipeline, stage, Checkpoints, Config, Counters, Meter, Mode, Pipeline, Session};

/// Frame length and hop, samples.
const WINDOW: usize = 4;
const HOP: usize = 4;
/// Windows of the benchmarked signal.
const WINDOWS: u64 = 1_000_000;
/// Windows under `cargo test --benches` (a smoke test, not a measurement).
const TEST_WINDOWS: u64 = 10_000;
/// Random single-window lookups.
const LOOKUPS: usize = 1000;
/// Lookups actually run when every lookup replays from window 0 (the rest is extrapolated).
const REPLAY_LOOKUPS: usize = 20;
/// The LRU budget in sqrt mode.
const LRU: usize = 64 * 1024;
/// `|ema|` above which a window is flagged.
const THRESHOLD: f64 = 0.05;

/// Exponential moving average of the frame mean (stateful).
#[stage(inputs = [input], cost = 1)]
fn ema(frame: &[f32], #[state] avg: &mut f64) -> f64 {
    let mean = frame.iter().map(|&x| f64::from(x)).sum::<f64>() / frame.len() as f64;
    *avg += 0.01 * (mean - *avg);
    *avg
}

/// Running sum of `ema` (stateful).
#[stage(inputs = [ema], cost = 1)]
fn drift(e: &f64, #[state] acc: &mut f64) -> f64 {
    *acc += *e;
    *acc
}

/// Whether `drift` moved by more than the threshold since the previous window.
#[stage(inputs = [drift, drift[-1]], cost = 1)]
fn flag(now: &f64, before: Option<&f64>) -> bool {
    before.is_some_and(|b| (now - b).abs() > THRESHOLD)
}

pipeline! {
    /// ema -> drift -> flag.
    pub struct Walk {
        sample: f32,
        stages: [ema, drift, flag],
        output: flag,
    }
}

/// Samples holding exactly `windows` windows.
fn samples_for(windows: u64) -> usize {
    (windows as usize - 1) * HOP + WINDOW
}

/// A slow sine plus LCG noise, deterministic.
fn signal(windows: u64) -> Vec<f32> {
    let mut noise = Lcg::new(0xc0ffee);
    (0..samples_for(windows))
        .map(|i| (0.1 * (i as f64 * 2e-5).sin()) as f32 + 0.5 * noise.next_f32())
        .collect()
}

/// `n` window indices in `0..windows`, LCG-chosen.
fn lookups(windows: u64, n: usize) -> Vec<u64> {
    let mut lcg = Lcg::new(42);
    (0..n).map(|_| lcg.below(windows)).collect()
}

fn walk(
    mode: Mode,
    checkpoints: Checkpoints,
    lru_bytes: usize,
    checkpoint_bytes: Option<usize>,
) -> Pipeline<Walk> {
    let mut c = Config::default()
        .with_window(WINDOW)
        .with_hop(HOP)
        .with_mode(mode)
        .with_checkpoints(checkpoints)
        .with_lru_bytes(lru_bytes);
    if let Some(b) = checkpoint_bytes {
        c = c.with_checkpoint_bytes(b);
    }
    Walk::new(c, ()).expect("a valid configuration")
}

/// A sqrt-mode pipeline with checkpoints every `k` windows, after one forward pass over
/// `0..windows` that lays them.
fn laid<'p, 's>(
    pipe: &'p mut Pipeline<Walk>,
    signal: &'s [f32],
    windows: u64,
) -> (Session<'p, 's, Walk>, Duration, Vec<bool>) {
    let mut p = pipe.over(signal);
    let mut flags = Vec::with_capacity(windows as usize);
    let (took, r) = time(|| p.evaluate_with::<flag>(0..windows, |_, f| flags.push(f)));
    r.expect("the chain cannot fail");
    (p, took, flags)
}

// ---------------------------------------------------------------------------------------------
// Criterion.

fn bench_lookups(c: &mut Criterion) {
    let windows = if bench_mode() { WINDOWS } else { TEST_WINDOWS };
    let sig = signal(windows);
    let mut pipe = walk(Mode::Sqrt, Checkpoints::Every(windows.isqrt()), LRU, None);
    let (mut p, _, _) = laid(&mut pipe, &sig, windows);
    let ts = lookups(windows, LOOKUPS);
    let mut i = 0;
    let mut g = c.benchmark_group("random_access");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("sqrt_lookup_k1000", |b| {
        b.iter(|| {
            let t = ts[i % ts.len()];
            i += 1;
            p.evaluate::<flag>(black_box(t..t + 1))
                .expect("the chain cannot fail")
        });
    });
    g.finish();
}

/// The criterion group (in a private module: `criterion_group!` emits an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(random_access_group, super::bench_lookups);
}

fn main() {
    if report_requested() {
        report();
        return;
    }
    // What `criterion_main!(random_access_group)` expands to, behind the report switch.
    group::random_access_group();
    Criterion::default().configure_from_args().final_summary();
}

// ---------------------------------------------------------------------------------------------
// The report.

/// Per-lookup statistics of a series of lookups.
struct Lookups {
    times: Vec<Duration>,
    /// Per stage: the most windows replayed by one lookup.
    max_replayed: Vec<u64>,
    /// Per stage: windows replayed, summed over the lookups.
    total_replayed: Vec<u64>,
    /// Per stage: the most stage evaluations of one lookup.
    max_evaluations: Vec<u64>,
}

impl Lookups {
    fn mean(&self) -> Duration {
        self.times.iter().sum::<Duration>() / self.times.len() as u32
    }
    fn percentile(&self, p: usize) -> Duration {
        let mut v = self.times.clone();
        v.sort();
        v[(v.len() - 1) * p / 100]
    }
}

fn run_lookups(
    p: &mut Session<'_, '_, Walk>,
    ts: &[u64],
    expect: Option<&[bool]>,
    reset_each: bool,
) -> Lookups {
    let n = Walk::STAGES.len();
    let mut out = Lookups {
        times: Vec::new(),
        max_replayed: vec![0; n],
        total_replayed: vec![0; n],
        max_evaluations: vec![0; n],
    };
    let stage = |c: &Counters, i: usize| (c.stages[i].replayed_windows, c.stages[i].evaluations);
    for &t in ts {
        let before = p.counters();
        let (took, r) = time(|| {
            if reset_each {
                p.reset();
            }
            p.evaluate::<flag>(t..t + 1)
        });
        let got = r.expect("the chain cannot fail");
        let after = p.counters();
        out.times.push(took);
        if let Some(e) = expect {
            assert_eq!(
                got,
                [e[t as usize]],
                "lookup of window {t} differs from the forward pass"
            );
        }
        for i in 0..n {
            let (r0, e0) = stage(&before, i);
            let (r1, e1) = stage(&after, i);
            out.max_replayed[i] = out.max_replayed[i].max(r1 - r0);
            out.total_replayed[i] += r1 - r0;
            out.max_evaluations[i] = out.max_evaluations[i].max(e1 - e0);
        }
    }
    out
}

fn us(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

fn report() {
    let windows = WINDOWS;
    let k = windows.isqrt();
    let sig = signal(windows);
    let ts = lookups(windows, LOOKUPS);
    let names: Vec<&str> = Walk::STAGES.iter().map(|s| s.name).collect();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", load.trim());
    println!(
        "== random_access: T = {windows} windows (W {WINDOW}, H {HOP}, {} samples = {}), {LOOKUPS} LCG-chosen single-window lookups",
        sig.len(),
        human((sig.len() * 4) as u64)
    );
    println!(
        "stages {names:?}; process peak RSS with the signal loaded: {}",
        human(peak_rss())
    );

    // (a) sqrt with checkpoints every k.
    println!(
        "\n-- (a) sqrt mode, Checkpoints::Every({k}), LRU {}",
        human(LRU as u64)
    );
    let m = Meter::start();
    let mut pipe = walk(Mode::Sqrt, Checkpoints::Every(k), LRU, None);
    let (mut p, fwd, flags) = laid(&mut pipe, &sig, windows);
    let fwd_cpu = m.stop().cpu;
    let c = p.counters();
    println!(
        "forward pass over 0..{windows}: {} (CPU {}; {:.0} ns/window); {} checkpoints saved, ring {} (high-water {})",
        ms(fwd),
        ms(fwd_cpu),
        fwd.as_secs_f64() * 1e9 / windows as f64,
        c.checkpoint_saves,
        human(p.ring().bytes() as u64),
        human(p.ring().high_water() as u64)
    );
    let m = Meter::start();
    let a = run_lookups(&mut p, &ts, Some(&flags), false);
    let cpu_a = m.stop().cpu;
    let total_a: Duration = a.times.iter().sum();
    println!(
        "{LOOKUPS} lookups: total {} (process CPU {}), per lookup mean {} / median {} / p99 {} / max {}",
        ms(total_a),
        ms(cpu_a),
        us(a.mean()),
        us(a.percentile(50)),
        us(a.percentile(99)),
        us(*a.times.iter().max().expect("lookups ran"))
    );
    for (i, name) in names.iter().enumerate() {
        println!(
            "  {name:<6} max replayed windows per lookup {:>5} (k = {k}), mean {:>7.1}; max evaluations per lookup {:>5}",
            a.max_replayed[i],
            a.total_replayed[i] as f64 / LOOKUPS as f64,
            a.max_evaluations[i]
        );
        assert!(
            a.max_replayed[i] <= k,
            "stage {name} replayed more than k windows in one lookup"
        );
    }
    println!("  (replayed = the `replayed_windows` counter: windows a stateful stage runs to advance from a checkpoint;");
    println!("   ema's windows are computed on demand by drift's replay, so they count as evaluations, not replays)");
    // The fixed cost of one evaluate call: windows just after a checkpoint need no replay.
    let at_checkpoints: Vec<u64> = ts
        .iter()
        .map(|&t| (t / k * k + 1).min(windows - 1))
        .collect();
    let fixed = run_lookups(&mut p, &at_checkpoints, Some(&flags), false);
    println!(
        "  the same {LOOKUPS} lookups moved to the window after their checkpoint (no replay): mean {} / median {} per lookup, max evaluations per stage {:?}",
        us(fixed.mean()),
        us(fixed.percentile(50)),
        fixed.max_evaluations
    );
    let c = p.counters();
    println!(
        "live-bytes high-water {} (LRU high-water {}, checkpoint ring {}); process peak RSS {}",
        human(c.live_bytes_high_water as u64),
        human(c.lru_high_water as u64),
        human(p.ring().high_water() as u64),
        human(peak_rss())
    );
    // The session and its pipeline (with the forward pass's caches) end here.
    drop(pipe);

    // (b) no checkpoints: each lookup replays its stateful stages from window 0. Measured
    // twice: with `reset()` before each lookup (a true replay from 0), and as the engine runs
    // a series (it continues from its last position when the next window is later).
    println!("\n-- (b) sqrt mode, checkpoint ring of 0 bytes (no checkpoint fits: lookups replay from window 0)");
    for (reset_each, how) in [
        (
            true,
            "reset() before each lookup: every lookup replays from window 0",
        ),
        (
            false,
            "one series, no reset: a later window continues from the previous lookup's position",
        ),
    ] {
        let mut pipe = walk(Mode::Sqrt, Checkpoints::Every(k), LRU, Some(0));
        let mut p = pipe.over(&sig);
        let m = Meter::start();
        let b = run_lookups(&mut p, &ts[..REPLAY_LOOKUPS], Some(&flags), reset_each);
        let cpu_b = m.stop().cpu;
        let total_b: Duration = b.times.iter().sum();
        let replayed_b = b.total_replayed.iter().sum::<u64>() as f64 / REPLAY_LOOKUPS as f64;
        let c = p.counters();
        println!("{how}:");
        println!(
            "  {REPLAY_LOOKUPS} lookups measured (the first {REPLAY_LOOKUPS} of the same {LOOKUPS}): total {} (process CPU {}), per lookup mean {}; mean {replayed_b:.0} windows replayed per lookup, max per stage {:?}",
            ms(total_b),
            ms(cpu_b),
            us(b.mean()),
            b.max_replayed
        );
        println!(
            "  EXTRAPOLATED to {LOOKUPS} lookups (mean x {LOOKUPS}): {:.1} s, {:.0}x the time of (a); checkpoints saved {}; live-bytes high-water {}; process peak RSS {}",
            b.mean().as_secs_f64() * LOOKUPS as f64,
            b.mean().as_secs_f64() / a.mean().as_secs_f64(),
            c.checkpoint_saves,
            human(c.live_bytes_high_water as u64),
            human(peak_rss())
        );
    }

    // (c) classic: materialise every window of every stage, then index.
    println!("\n-- (c) classic mode: evaluate::<flag> over 0..{windows} (every stage materialised), then index");
    let mut p = walk(Mode::Classic, Checkpoints::Auto, LRU, None);
    let mut all = Vec::new();
    let m = Meter::start();
    let d = median(3, || {
        all = p
            .evaluate::<flag>(&sig, 0..windows)
            .expect("the chain cannot fail")
    });
    let classic_cpu = m.stop().cpu / 3;
    assert_eq!(all, flags, "classic differs from sqrt");
    let (answer, _) = time(|| ts.iter().filter(|&&t| all[t as usize]).count());
    let c = p.counters();
    println!(
        "materialise-all: {} (median of 3; mean CPU {}), then {LOOKUPS} lookups by index {}; live-bytes high-water {} (+ the returned Vec<bool> of {}); process peak RSS {}",
        ms(d),
        ms(classic_cpu),
        us(answer),
        human(c.live_bytes_high_water as u64),
        human(all.capacity() as u64),
        human(peak_rss())
    );
    drop(p);
    drop(all);

    // Memory scaling.
    println!("\n-- memory scaling: forward pass over 0..T, then {LOOKUPS} random lookups; engine live-bytes high-water");
    println!(
        "{:>8} {:>5} {:>16} {:>11} {:>12} {:>19} {:>10} {:>13} {:>22}",
        "T",
        "k",
        "sqrt, LRU 64 KiB",
        "of it: LRU",
        "of it: ring",
        "sqrt, LRU 0 (ring)",
        "classic",
        "classic/sqrt",
        "ring, Checkpoints::Auto"
    );
    for t in [10_000u64, 100_000, 1_000_000] {
        let s = &sig[..samples_for(t)];
        let ts = lookups(t, LOOKUPS);
        let k = t.isqrt() + u64::from(t.isqrt() * t.isqrt() < t);
        let sqrt_run = |checkpoints: Checkpoints, lru: usize| {
            let mut pipe = walk(Mode::Sqrt, checkpoints, lru, None);
            let mut p = pipe.over(s);
            p.evaluate_with::<flag>(0..t, |_, f| {
                black_box(f);
            })
            .expect("the chain cannot fail");
            run_lookups(&mut p, &ts, None, false);
            let c = p.counters();
            (
                c.live_bytes_high_water,
                c.lru_high_water,
                p.ring().high_water(),
            )
        };
        let every = sqrt_run(Checkpoints::Every(k), LRU);
        let no_lru = sqrt_run(Checkpoints::Every(k), 0);
        let auto = sqrt_run(Checkpoints::Auto, LRU);
        let mut p = walk(Mode::Classic, Checkpoints::Auto, LRU, None);
        p.evaluate_with::<flag>(s, 0..t, |_, f| {
            black_box(f);
        })
        .expect("the chain cannot fail");
        let classic = p.counters().live_bytes_high_water;
        println!(
            "{t:>8} {k:>5} {:>16} {:>11} {:>12} {:>19} {:>10} {:>12.0}x {:>22}",
            human(every.0 as u64),
            human(every.1 as u64),
            human(every.2 as u64),
            human(no_lru.0 as u64),
            human(classic as u64),
            classic as f64 / every.0 as f64,
            human(auto.2 as u64)
        );
    }
}
