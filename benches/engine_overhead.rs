//! Engine overhead per window: hop-1 chains whose stages do (almost) nothing, over 2M windows,
//! so that windows/s measures the engine (fetch, LRU bookkeeping, checkpoints, the sink)
//! rather than the stages. Goal (issue 9): at least 5M windows/s for the 3-stage scalar chain
//! on one core.
//!
//! ```text
//! cargo bench --bench engine_overhead
//! ```
//!
//! Criterion reports the time per iteration (2M windows) and the throughput in windows/s.

use criterion::{Criterion, Throughput};
use sqrtspace::{pipeline, stage, Config, Mode};
use std::hint::black_box;
use std::time::Duration;

/// The frame's first sample.
#[stage(inputs = [input])]
fn first(frame: &[f32]) -> f32 {
    frame[0]
}

/// Its input plus one.
#[stage(inputs = [first])]
fn plus(x: &f32) -> f32 {
    x + 1.0
}

/// Its input times two.
#[stage(inputs = [plus])]
fn times(x: &f32) -> f32 {
    x * 2.0
}

/// Its input against the previous window (a lookback: outputs go through the LRU).
#[stage(inputs = [first, first[-1]])]
fn delta(x: &f32, before: Option<&f32>) -> f32 {
    x - before.copied().unwrap_or(0.0)
}

pipeline! {
    /// One stage: the engine's cost per window and stage call.
    pub struct One {
        stages: [first],
        output: first,
    }
}

pipeline! {
    /// Three scalar stages in a chain.
    pub struct Three {
        stages: [first, plus, times],
        output: times,
    }
}

pipeline! {
    /// A lookback: each output of `first` is read twice, so it goes through the LRU.
    pub struct Lookback {
        stages: [first, delta],
        output: delta,
    }
}

const WINDOWS: u64 = 2_000_000;

fn bench(c: &mut Criterion) {
    let signal: Vec<f32> = (0..WINDOWS as usize + 3).map(|i| (i % 97) as f32).collect();
    let config = Config::default().with_window(4).with_hop(1);
    let mut g = c.benchmark_group("engine_overhead_hop1_2M");
    g.throughput(Throughput::Elements(WINDOWS))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for mode in [Mode::Sqrt, Mode::Classic] {
        let c = config.clone().with_mode(mode);
        let mut one = One::new(c.clone(), ()).expect("valid");
        g.bench_function(format!("one_stage_{mode}"), |b| {
            b.iter(|| {
                let mut s = 0f32;
                one.evaluate_with::<first>(&signal, 0..WINDOWS, |_, o| s += o)
                    .expect("cannot fail");
                black_box(s)
            });
        });
        let mut three = Three::new(c.clone(), ()).expect("valid");
        g.bench_function(format!("three_stage_chain_{mode}"), |b| {
            b.iter(|| {
                let mut s = 0f32;
                three
                    .evaluate_with::<times>(&signal, 0..WINDOWS, |_, o| s += o)
                    .expect("cannot fail");
                black_box(s)
            });
        });
        let mut look = Lookback::new(c, ()).expect("valid");
        g.bench_function(format!("lookback_{mode}"), |b| {
            b.iter(|| {
                let mut s = 0f32;
                look.evaluate_with::<delta>(&signal, 0..WINDOWS, |_, o| s += o)
                    .expect("cannot fail");
                black_box(s)
            });
        });
    }
    let mut push = Three::new(config.with_mode(Mode::Sqrt), ()).expect("valid");
    g.bench_function("three_stage_chain_stream", |b| {
        b.iter(|| {
            push.reset();
            let mut s = 0f32;
            push.stream(
                signal.chunks(1 << 16).map(Ok::<_, sqrtspace::Error>),
                |_, o| s += o,
            )
            .expect("cannot fail");
            black_box(s)
        });
    });
    g.finish();
}

/// The criterion group (in a private module: `criterion_group!` emits an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(engine_overhead, super::bench);
}

fn main() {
    group::engine_overhead();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
