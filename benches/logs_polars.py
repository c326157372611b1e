#!/usr/bin/env python3
"""The logs rollup's quantiles with Polars (and NumPy), for comparison with `sqrtspace bench logs`.

Kept out of CI (needs `pip install polars numpy`). Reads the same rows as the Rust side, as raw
little-endian f64 (write them with `logs_bench --write-raw FILE`, or `sqrtspace bench logs
--write-raw FILE`), runs Polars' `rolling_quantile(q, interpolation="nearest", window_size=W)`
for q = 0.50, 0.95, 0.99 (every row, hop 1, as Polars has no hop), keeps the rows where a window
of the Rust job ends (row t*H + W - 1), and prints the time and the process's peak RSS. With
`--check ROWS.csv` (the rows written by `demo logs --out ROWS.csv` on the same input, window and
hop) it compares the quantiles value by value and also checks a sample of windows against
NumPy's `np.percentile(..., method="nearest")`.

    cargo run --release -p sqrtspace-logs --features cli --example logs_bench -- \
        --n 20000000 --write-raw /tmp/lat20m.f64
    cargo run --release -p sqrtspace-logs --features cli --example logs -- \
        --input /tmp/lat20m.f64 --format raw-f64 --win 32768 --hop 4096 --mode sqrt --out /tmp/rows.csv
    POLARS_MAX_THREADS=2 python3 benches/logs_polars.py /tmp/lat20m.f64 --win 32768 --hop 4096 --check /tmp/rows.csv
"""
import argparse
import csv
import resource
import time

import numpy as np
import polars as pl

ap = argparse.ArgumentParser()
ap.add_argument("raw", help="raw little-endian f64 values, one per row")
ap.add_argument("--win", type=int, default=32768)
ap.add_argument("--hop", type=int, default=4096)
ap.add_argument("--check", help="rows CSV written by `demo logs --out` on the same input")
ap.add_argument("--numpy-windows", type=int, default=20, help="windows checked with NumPy")
a = ap.parse_args()

values = np.fromfile(a.raw, dtype="<f8")
s = pl.Series("v", values)
n = len(values)
windows = 0 if n < a.win else (n - a.win) // a.hop + 1
ends = np.arange(windows) * a.hop + a.win - 1

qs = (0.50, 0.95, 0.99)
t0 = time.perf_counter()
c0 = time.process_time()
df = pl.DataFrame({"v": s}).select(
    [pl.col("v").rolling_quantile(q, interpolation="nearest", window_size=a.win).alias(f"p{int(q * 100)}") for q in qs]
)
polars_s = time.perf_counter() - t0
polars_cpu = time.process_time() - c0
got = {c: df[c].to_numpy()[ends] for c in df.columns}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(f"polars {pl.__version__} rolling_quantile x3 (nearest): {n} rows, window {a.win}, {windows} windows kept: "
      f"{polars_s:.3f} s (CPU {polars_cpu:.3f} s), peak RSS {rss / 2**20:.1f} MiB (threads: {pl.thread_pool_size()})")

if a.check:
    with open(a.check) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == windows, f"{len(rows)} rows in {a.check}, {windows} windows expected"
    for c in ("p50", "p95", "p99"):
        ours = np.array([float(r[c]) for r in rows])
        diff = np.flatnonzero(ours != got[c])
        print(f"{c}: {windows - len(diff)} of {windows} windows equal to Polars"
              + (f"; first differences at windows {diff[:5].tolist()}: ours {ours[diff[:5]].tolist()}, "
                 f"polars {got[c][diff[:5]].tolist()}" if len(diff) else ""))
    pick = np.unique(np.linspace(0, windows - 1, min(a.numpy_windows, windows)).astype(int))
    bad = 0
    for t in pick:
        w = values[t * a.hop: t * a.hop + a.win]
        w = w[~np.isnan(w)]
        for c, q in zip(("p50", "p95", "p99"), (50, 95, 99)):
            if float(rows[t][c]) != np.percentile(w, q, method="nearest"):
                bad += 1
    print(f"numpy np.percentile(method='nearest'): {len(pick) * 3 - bad} of {len(pick) * 3} checked quantiles equal")
