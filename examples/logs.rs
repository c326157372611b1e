//! The logs rollup on the shipped real data: `cargo run --release --example logs [-- OPTIONS]`.
//!
//! Default input: `apps/logs/assets/flights-100k.csv`, the first 100,000 US flight records of
//! 2001 (arrival delay in minutes, BSD-3-Clause vega-datasets, data from the US Bureau of
//! Transportation Statistics; see `apps/logs/assets/README.md`). Windows of 1000 rows every
//! 250: count, mean, std, min, max, exact p50/p95/p99 and an alert on p99, in bounded memory.
//!
//! The options are those of `sqrtspace demo logs` (`--help`), for example
//! `-- --n 20000000 --win 32768 --hop 4096 --mode sqrt` (synthetic latencies),
//! `-- --verify` (classic mode must give bit-identical rows), or
//! `-- --input app.log --format lines --line-regex '(?P<value>[0-9.]+)ms'`, or, built with
//! `--features parquet`, `-- --input flights-3m.parquet --value delay --ts date --key origin`
//! (Parquet or Arrow IPC, the format from the extension).

fn main() -> std::process::ExitCode {
    sqrtspace_logs::cli::demo_main()
}
