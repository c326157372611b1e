#!/usr/bin/env bash
# 1 vs 2 workers, wall and CPU time side by side, for the issue-14 figures:
#   1. the engine-only fused bench (`SQRTSPACE_BENCH_REPORT=1 cargo bench --bench workers`):
#      the instrumented figures (per-thread CPU, waits, predicted speedup) and the wall-clock
#      medians of 7 alternating runs;
#   2. the audio job's 1 h demo (`sqrtspace demo audio --hours 1 --mode sqrt --workers N`),
#      RUNS alternating runs of each (default 3), with /usr/bin/time's wall, user+sys CPU
#      and max RSS, and the outputs compared (`--csv` files, byte for byte);
#   3. the logs job's demo with `--workers N` over 20M synthetic rows, window 32768, hop 4096
#      (the issue's extreme case), rows compared.
#
# Usage: scripts/workers_speedup.sh            (RUNS=5 scripts/workers_speedup.sh for more)
# Run it on an idle machine: it prints the load average before and after, and wall-clock
# ratios taken while other processes use the cores mean nothing (the instrumented figures of
# part 1 do not depend on the load).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${RUNS:-3}"
out="$root/target/workers_speedup"
mkdir -p "$out"
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min); cores: $(nproc)"

echo "== 1. fused bench (engine only)"
SQRTSPACE_BENCH_REPORT=1 cargo bench -q --bench workers 2>/dev/null | grep -v '^$'

echo "== 2. audio demo, 1 h, sqrt (decoding on its own thread), 1 vs 2 workers"
cargo build -q --release -p sqrtspace-cli
bin="$root/target/release/sqrtspace"
timed() { # label, args...
    local label="$1"
    shift
    /usr/bin/time -f "$label: %e s wall, %U s user + %S s sys, max RSS %M KiB" "$@" >/dev/null
}
for i in $(seq "$runs"); do
    for w in 1 2; do
        timed "  run $i, $w worker(s)" "$bin" demo audio --hours 1 --mode sqrt --workers "$w" \
            --csv "$out/audio_w$w.csv"
    done
done
if cmp -s "$out/audio_w1.csv" "$out/audio_w2.csv"; then
    echo "  outputs: identical (per-window CSV, byte for byte)"
else
    echo "  outputs: DIFFER ($out/audio_w1.csv vs audio_w2.csv)"
fi

echo "== 3. logs demo, 20M rows, window 32768, hop 4096, sqrt, 1 vs 2 workers"
for i in $(seq "$runs"); do
    for w in 1 2; do
        timed "  run $i, $w worker(s)" "$bin" demo logs --n 20000000 --win 32768 --hop 4096 \
            --mode sqrt --workers "$w" --show 0 --out "$out/logs_w$w.csv"
    done
done
if cmp -s "$out/logs_w1.csv" "$out/logs_w2.csv"; then
    echo "  outputs: identical (rows, byte for byte)"
else
    echo "  outputs: DIFFER ($out/logs_w1.csv vs logs_w2.csv)"
fi
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"
