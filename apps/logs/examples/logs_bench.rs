//! `sqrtspace bench logs` as a stand-alone program:
//! `cargo run --release -p sqrtspace-logs --features cli --example logs_bench -- --extreme --n 20000000 --win 32768 --hop 4096 --csv results.csv`.

fn main() -> std::process::ExitCode {
    sqrtspace_logs::cli::bench_main()
}
