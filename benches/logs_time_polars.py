#!/usr/bin/env python3
"""Time-window quantiles with Polars' `group_by_dynamic`, against `sqrtspace demo logs --every/--period`.

Kept out of CI (needs `pip install polars numpy`). Reads the CSV the Rust job read, runs

    df.sort(ts).group_by_dynamic(ts, every=EVERY, period=PERIOD)   # closed="left", label="left",
      .agg(count, quantile(q, interpolation="nearest") for q in 0.50, 0.95, 0.99)  # start_by="window"

over the non-null, non-NaN values, and compares every window (start time, count, p50/p95/p99)
with the rows written by `demo logs --every EVERY --period PERIOD --out ROWS.csv` on the same
file. Also checks every window against NumPy's `np.percentile(..., method="nearest")`, the
definition sqrtspace follows. Polars' group-by `quantile(interpolation="nearest")` rounds a rank
of exactly k + 0.5 up where NumPy rounds it to even: windows that differ only there are counted
apart. Exits 1 on any other difference.

    cargo run --release -p sqrtspace-cli -- demo logs --input apps/logs/assets/flights-100k.csv \
        --value delay --ts date --every 1h --period 3h --mode sqrt --out /tmp/time_rows.csv
    python3 benches/logs_time_polars.py apps/logs/assets/flights-100k.csv --value delay --ts date \
        --every 1h --period 3h --check /tmp/time_rows.csv
All 3M rows of the flights table as CSV (the same `YYYY-MM-DD HH:MM` timestamps):

    python3 -c "import polars as pl; pl.read_parquet('../shared/data/telemetry/flights-3m.parquet',
        columns=['date', 'delay']).with_columns(pl.col('date').dt.strftime('%Y-%m-%d %H:%M'))
        .write_csv('/tmp/flights3m.csv')"
    /usr/bin/time -v target/release/sqrtspace demo logs --input /tmp/flights3m.csv --value delay \
        --ts date --every 5m --period 1h --mode sqrt --show 0 --out /tmp/rows3m.csv
    POLARS_MAX_THREADS=2 python3 benches/logs_time_polars.py /tmp/flights3m.csv --every 5m \
        --period 1h --check /tmp/rows3m.csv
"""
import argparse
import csv
import resource
import sys
import time

import numpy as np
import polars as pl

ap = argparse.ArgumentParser()
ap.add_argument("csv")
ap.add_argument("--value", default="delay")
ap.add_argument("--ts", default="date")
ap.add_argument("--every", default="1h")
ap.add_argument("--period", default=None)
ap.add_argument("--check", required=True, help="rows CSV written by `demo logs --out`")
a = ap.parse_args()
period = a.period or a.every

df = pl.read_csv(a.csv, columns=[a.ts, a.value], schema_overrides={a.value: pl.Float64},
                 infer_schema_length=0)
df = df.with_columns(pl.col(a.ts).str.to_datetime().alias("t"), pl.col(a.value).cast(pl.Float64))
df = df.filter(pl.col(a.value).is_not_null())
# The Rust job skips rows whose timestamp is below an earlier one; the extract is in order.
assert df["t"].is_sorted(), "timestamps not sorted: the Rust job would skip rows"
clean = df.filter(pl.col(a.value).is_not_nan())
qs = [0.50, 0.95, 0.99]
g = (df.group_by_dynamic("t", every=a.every, period=period, closed="left", label="left",
                         start_by="window")
     .agg(pl.len().alias("rows")))
wall, cpu = time.perf_counter(), time.process_time()
gq = (clean.group_by_dynamic("t", every=a.every, period=period, closed="left", label="left",
                             start_by="window")
      .agg([pl.len().alias("count")] +
           [pl.col(a.value).quantile(q, interpolation="nearest").alias(f"q{q}") for q in qs]))
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(f"Polars group_by_dynamic + 3 quantiles (after reading the CSV): {wall:.3f} s wall, "
      f"{cpu:.3f} s CPU; process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
polars = {int(r["t"].replace(tzinfo=__import__("datetime").timezone.utc).timestamp()): r
          for r in gq.iter_rows(named=True)}
windows_with_rows = len(g)

rust = {}
with open(a.check) as f:
    for r in csv.DictReader(f):
        rust[int(r["ts_start"])] = r

# NumPy per window, from the same rows.
ts = (clean["t"].dt.epoch("s")).to_numpy()
vals = clean[a.value].to_numpy()
def seconds(d):
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(d[:-1]) * units[d[-1]]
ps, es = seconds(period), seconds(a.every)

agree = differ = ties = numpy_ok = numpy_bad = 0
problems = []
for start, r in rust.items():
    p = polars.get(start)
    got = [float(r[k]) if r[k] != "" else None for k in ("p50", "p95", "p99")]
    if p is None:
        # Polars emits no row for a window whose rows are all NaN/null; neither has quantiles.
        if all(x is None for x in got):
            agree += 1
        else:
            differ += 1
            problems.append((start, "missing in Polars", got))
        continue
    want = [p[f"q{q}"] for q in qs]
    lo, hi = np.searchsorted(ts, start, "left"), np.searchsorted(ts, start + ps, "left")
    w = vals[lo:hi]
    if int(r["count"]) == p["count"] and got == want:
        agree += 1
    else:
        # Polars' `quantile(interpolation="nearest")` in a group by rounds a rank of exactly
        # k + 0.5 up; NumPy's method="nearest" (and sqrtspace) round it to even.
        srt = np.sort(w)
        n = len(srt)
        tie_up = all(
            g == x or ((n - 1) * q % 1 == 0.5 and x == srt[int(np.ceil((n - 1) * q))])
            for g, x, q in zip(got, want, qs))
        if int(r["count"]) == p["count"] and tie_up:
            ties += 1
        else:
            differ += 1
        problems.append((start, got, want, r["count"], p["count"], "tie .5 rounded up by Polars" if tie_up else "DIFFERENT"))
    if len(w):
        npq = [float(np.percentile(w, q * 100, method="nearest")) for q in qs]
        if npq == got:
            numpy_ok += 1
        else:
            numpy_bad += 1
            problems.append((start, "numpy", got, npq))

extra = [s for s in polars if s not in rust]
print(f"windows: sqrtspace {len(rust)} rows, Polars {len(polars)} groups with values "
      f"({windows_with_rows} with rows); agree {agree}, differ only at .5 ranks (Polars rounds up, "
      f"NumPy and sqrtspace to even) {ties}, differ otherwise {differ}, "
      f"Polars-only {len(extra)}; NumPy agrees on {numpy_ok}, differs on {numpy_bad}")
for p in problems[:10]:
    print("  ", p)
sys.exit(1 if differ or extra or numpy_bad else 0)
