//! `demo logs` and `bench logs` through their clap structs (feature `cli`).

use clap::Parser;
use sqrtspace_logs::cli::{run_bench, run_demo, BenchArgs, DemoArgs};

#[derive(Parser)]
struct Demo {
    #[command(flatten)]
    a: DemoArgs,
}

#[derive(Parser)]
struct Bench {
    #[command(flatten)]
    a: BenchArgs,
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrtspace-logs-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn demo_on_the_shipped_file_writes_every_row_and_verifies_the_other_mode() {
    let out = temp("rows.csv");
    let d = Demo::parse_from([
        "demo",
        "--win",
        "1000",
        "--hop",
        "250",
        "--mode",
        "sqrt",
        "--verify",
        "--out",
        out.to_str().unwrap(),
    ]);
    run_demo(&d.a).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // 100,000 rows: (100000 - 1000) / 250 + 1 windows, plus the header.
    assert_eq!(lines.len(), 397 + 1);
    assert!(lines[0].starts_with("window,ts_start,ts_end,count,mean,std,min,max,p50,p95,p99"));
    // Window 0 of the real delays: p99 of the first 1000 flights is 151 minutes.
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[3], "1000");
    assert_eq!(first[10], "151");
}

#[test]
fn demo_reports_a_missing_column_as_an_error() {
    let d = Demo::parse_from(["demo", "--value", "latency"]);
    let e = run_demo(&d.a).unwrap_err().to_string();
    assert!(
        e.contains("no column `latency`") && e.contains("--value"),
        "{e}"
    );
}

#[test]
fn bench_writes_csv_lines_with_identical_quantiles_across_runs() {
    let csv = temp("bench.csv");
    let _ = std::fs::remove_file(&csv);
    let b = Bench::parse_from([
        "bench",
        "--n",
        "200000",
        "--win",
        "4096",
        "--hop",
        "1024",
        "--runs",
        "sqrt:incremental,classic:incremental,sqrt:naive,sqrt:fused",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    run_bench(&b.a).unwrap();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].ends_with("rows_identical,quantiles_identical"));
    for l in &lines[1..] {
        assert!(l.ends_with(",true"), "quantiles differ: {l}");
    }
    // The naive pipeline's mean/std round differently; the other three are bit-identical.
    assert!(lines[2].ends_with("true,true") && lines[4].ends_with("true,true"));
    let bad = Bench::parse_from(["bench", "--runs", "fast:incremental"]);
    assert!(run_bench(&bad.a)
        .unwrap_err()
        .to_string()
        .contains("MODE:ENGINE"));
}

/// Linux's /dev/full refuses every write (ENOSPC): the row sink's error stops the run.
#[cfg(target_os = "linux")]
#[test]
fn demo_into_a_full_disk_stops_with_the_write_error() {
    let d = Demo::parse_from([
        "demo",
        "--win",
        "1000",
        "--hop",
        "250",
        "--out",
        "/dev/full",
    ]);
    let e = run_demo(&d.a).unwrap_err();
    assert!(
        matches!(e, sqrtspace_logs::LogsError::Write { .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("cannot write /dev/full"), "{e}");
}

#[cfg(feature = "parquet")]
#[test]
fn demo_reads_a_parquet_file_its_format_inferred_from_the_extension() {
    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let n = 1000;
    let batch = RecordBatch::try_from_iter([
        (
            "t",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        (
            "v",
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| (i % 37) as f64),
            )),
        ),
        (
            "k",
            Arc::new(StringArray::from_iter_values(
                (0..n).map(|i| ["a", "b"][i as usize % 2]),
            )),
        ),
    ])
    .unwrap();
    let input = temp("in.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&input).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let out = temp("pq-rows.csv");
    let d = Demo::parse_from([
        "demo",
        "--input",
        input.to_str().unwrap(),
        "--value",
        "v",
        "--ts",
        "t",
        "--key",
        "k",
        "--key-regex",
        "^a$",
        "--win",
        "100",
        "--hop",
        "25",
        "--mode",
        "sqrt",
        "--verify",
        "--out",
        out.to_str().unwrap(),
    ]);
    run_demo(&d.a).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    // (1000 - 100) / 25 + 1 windows, plus the header; half the rows pass the key filter.
    assert_eq!(text.lines().count(), 37 + 1);
    let first: Vec<&str> = text.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(first[3], "50");
}
