//! Criterion benches of the logs rollup (no timed assertions; figures for the README come from
//! `sqrtspace bench logs` / the `logs_bench` example):
//!
//! - `quantiles/*`: p50/p95/p99 of every window (32768 rows, hop 4096) of 1M synthetic
//!   latencies: per-window `select_nth_unstable` against the incremental structure;
//! - `pipeline/*`: the whole rollup over the same rows in sqrt mode, incremental against naive
//!   pipeline, and hop 1 (window 1000) over 200k rows.
//!
//! `cargo bench -p sqrtspace-logs --bench logs`

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use sqrtspace::Mode;
use sqrtspace_logs::quantile::{key, naive_quantiles, sort_keys, RollingQuantiles, Strategy};
use sqrtspace_logs::{Engine, InputSpec, LogsJob, LogsParams, Reader};
use std::hint::black_box;

const P: [f64; 3] = [50.0, 95.0, 99.0];

fn values(n: u64) -> Vec<f64> {
    let mut r = Reader::open(&InputSpec::synthetic(n, 7)).expect("synthetic input");
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while r.next_chunk(&mut buf, 1 << 16).expect("synthetic rows") {
        out.extend(buf.iter().map(|r| r.value));
    }
    out
}

fn quantiles(c: &mut Criterion) {
    let (w, h) = (32768usize, 4096usize);
    let v = values(1 << 20);
    let windows = (v.len() - w) / h + 1;
    let mut g = c.benchmark_group("quantiles");
    g.sample_size(10);
    g.throughput(Throughput::Elements(v.len() as u64));
    g.bench_function("naive_select_nth", |b| {
        let mut scratch = Vec::new();
        b.iter(|| {
            for t in 0..windows {
                black_box(naive_quantiles(&v[t * h..t * h + w], &P, &mut scratch));
            }
        });
    });
    for s in [Strategy::Blocks, Strategy::Sorted] {
        g.bench_function(BenchmarkId::new("incremental", format!("{s:?}")), |b| {
            b.iter(|| {
                let mut q = RollingQuantiles::new(s);
                let mut end = 0u64;
                for block in v.chunks(h) {
                    q.push(end, end + block.len() as u64, block);
                    end += block.len() as u64;
                    if end >= w as u64 {
                        q.drop_before(end - w as u64);
                        black_box(q.quantiles(&P));
                    }
                }
            });
        });
    }
    g.finish();
}

fn sort(c: &mut Criterion) {
    let v: Vec<u64> = values(1 << 20).iter().map(|&x| key(x)).collect();
    let mut g = c.benchmark_group("sort_block_4096");
    g.sample_size(10);
    g.throughput(Throughput::Elements(v.len() as u64));
    let mut buf = Vec::new();
    g.bench_function("std_sort_unstable", |b| {
        b.iter(|| {
            for block in v.chunks(4096) {
                buf.clear();
                buf.extend_from_slice(block);
                buf.sort_unstable();
                black_box(&buf);
            }
        });
    });
    g.bench_function("sort_keys_radsort", |b| {
        b.iter(|| {
            for block in v.chunks(4096) {
                buf.clear();
                buf.extend_from_slice(block);
                sort_keys(&mut buf);
                black_box(&buf);
            }
        });
    });
    g.finish();
}

fn pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    for (name, n, w, h, engine) in [
        (
            "incremental_32768_4096",
            1u64 << 20,
            32768,
            4096,
            Engine::Incremental,
        ),
        ("naive_32768_4096", 1 << 20, 32768, 4096, Engine::Naive),
        ("incremental_1000_1", 200_000, 1000, 1, Engine::Incremental),
    ] {
        g.throughput(Throughput::Elements(n));
        let mut job = LogsJob::new(
            InputSpec::synthetic(n, 7),
            LogsParams::new(w, h, 100.0),
            Mode::Sqrt,
        );
        job.engine = engine;
        g.bench_function(name, |b| {
            b.iter(|| black_box(job.run(&mut |_, _| Ok(())).expect("run").digest));
        });
    }
    g.finish();
}

/// The criterion group (in a private module: `criterion_group!` emits an undocumented `pub fn`).
mod group {
    criterion::criterion_group!(benches, super::sort, super::quantiles, super::pipeline);
}

criterion_main!(group::benches);
