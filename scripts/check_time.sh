#!/usr/bin/env bash
# Incremental `cargo check` time of generated pipelines of 20, 50, 100 and 200 stages.
#
# Usage: scripts/check_time.sh [SIZES...]       (default: 20 50 100 200)
#
# For each size N it writes a crate under target/check_time/ with N `#[stage]` functions (a
# chain where every stage also reads the one two back, and a lookback every fifth stage) and
# one `pipeline!` over them, checks it once to warm the incremental cache, then edits a
# constant in the first stage's body and times `cargo check` again (best of 3 edits). The
# same functions without the DSL ("plain") are timed the same way, as the baseline.
# Prints one line per size: stages, seconds with `output:` named, seconds with the default
# output (no `output:`, the unique sink), seconds of the plain functions.
#
# Not a test: the figures depend on the machine and its load. Builds nothing in release, writes only
# target/check_time/ (and shares target/ with the workspace).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/target/check_time"
# The workspace's own target directory, so that sqrtspace and its dependencies are reused.
export CARGO_TARGET_DIR="$root/target"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(20 50 100 200)
mkdir -p "$work"

gen() { # gen N dsl|plain VALUE -> src/lib.rs
    local n=$1 kind=$2 value=$3 i
    {
        echo "#![allow(missing_docs, clippy::ptr_arg)]"
        if [ "$kind" != plain ]; then
            echo "use sqrtspace::{pipeline, stage};"
            echo "#[stage(inputs = [input])]"
        fi
        echo "pub fn s0(frame: &[f32]) -> f32 { frame.iter().sum::<f32>() * $value }"
        for ((i = 1; i < n; i++)); do
            local a="s$((i - 1))" b="s$(( i >= 2 ? i - 2 : 0 ))"
            if [ "$kind" != plain ]; then
                if ((i % 5 == 0)); then
                    echo "#[stage(inputs = [$a, $a[-1]])]"
                    echo "pub fn s$i(x: &f32, prev: Option<&f32>) -> f32 { x + prev.copied().unwrap_or(0.0) * 0.5 }"
                elif ((i >= 2)); then
                    echo "#[stage(inputs = [$a, $b])]"
                    echo "pub fn s$i(x: &f32, y: &f32) -> f32 { x * 0.5 + y * 0.25 }"
                else
                    echo "#[stage(inputs = [$a])]"
                    echo "pub fn s$i(x: &f32) -> f32 { x * 0.5 }"
                fi
            else
                if ((i % 5 == 0)); then
                    echo "pub fn s$i(x: &f32, prev: Option<&f32>) -> f32 { x + prev.copied().unwrap_or(0.0) * 0.5 }"
                elif ((i >= 2)); then
                    echo "pub fn s$i(x: &f32, y: &f32) -> f32 { x * 0.5 + y * 0.25 }"
                else
                    echo "pub fn s$i(x: &f32) -> f32 { x * 0.5 }"
                fi
            fi
        done
        if [ "$kind" != plain ]; then
            echo "pipeline! {"
            echo "    pub struct Big {"
            printf "        stages: ["
            for ((i = 0; i < n; i++)); do printf "s%d, " "$i"; done
            echo "],"
            # `dsl`: the output named; `sink`: no `output:` (the default, the unique sink).
            [ "$kind" = dsl ] && echo "        output: s$((n - 1)),"
            echo "    }"
            echo "}"
        fi
    } > src/lib.rs
}

now() { date +%s.%N; }

measure() { # measure N dsl|plain -> best seconds of 3 incremental checks
    local n=$1 kind=$2 dir="$work/$2_$1" best="" k
    mkdir -p "$dir/src"
    cd "$dir"
    cat > Cargo.toml <<TOML
[package]
name = "check_time_$2_$1"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
sqrtspace = { path = "$root/sqrtspace" }

[workspace]
TOML
    # The workspace's versions of every dependency (no resolution, no download).
    cp "$root/Cargo.lock" Cargo.lock
    gen "$n" "$kind" 1.0
    cargo check -q 2>/dev/null || true
    for k in 1 2 3; do
        gen "$n" "$kind" "1.$k"
        local t0 t1
        t0=$(now)
        if ! cargo check -q 2>"$dir/check.err"; then
            echo "FAILED (see $dir/check.err)"
            return
        fi
        t1=$(now)
        best=$(echo "$t0 $t1 ${best:-1e9}" | awk '{d = $2 - $1; print (d < $3 ? d : $3)}')
    done
    printf "%.2f\n" "$best"
}

printf "%8s %12s %12s %12s\n" stages "output: (s)" "default (s)" "plain (s)"
for n in "${sizes[@]}"; do
    d=$(measure "$n" dsl)
    k=$(measure "$n" sink)
    p=$(measure "$n" plain)
    printf "%8d %12s %12s %12s\n" "$n" "$d" "$k" "$p"
done
