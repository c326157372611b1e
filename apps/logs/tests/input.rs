//! Every kind of bad input has its defined behaviour: skipped and counted, or a typed error
//! naming the row and column; never a panic.

use sqrtspace::Mode;
use sqrtspace_logs::{Format, InputSpec, LogsError, LogsJob, LogsParams, Reader, Record};
use std::io::Write;
use std::path::PathBuf;

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrtspace-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
    p
}

fn read_all(spec: &InputSpec) -> Result<(Vec<Record>, Reader), LogsError> {
    let mut r = Reader::open(spec)?;
    let mut all = Vec::new();
    let mut buf = Vec::new();
    while r.next_chunk(&mut buf, 3)? {
        all.extend_from_slice(&buf);
    }
    Ok((all, r))
}

const CSV: &str = "time,latency,service\n\
2024-01-01 00:00:00,10,api\n\
2024-01-01 00:00:01,oops,api\n\
2024-01-01 00:00:02,,db\n\
2024-01-01 00:00:03,NaN,api\n\
2024-01-01 00:00:01,12,db\n\
not-a-time,13,api\n\
2024-01-01 00:00:05,14,api\n";

fn csv_spec(path: PathBuf) -> InputSpec {
    let mut s = InputSpec::csv(path, "latency");
    s.ts = Some("time".into());
    s.key = Some("service".into());
    s
}

#[test]
fn csv_skips_and_counts_bad_cells_and_keeps_backward_timestamps() {
    let (rows, r) = read_all(&csv_spec(temp("a.csv", CSV.as_bytes()))).unwrap();
    let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
    assert_eq!(values.len(), 4);
    assert_eq!(values[0], 10.0);
    assert!(values[1].is_nan());
    assert_eq!(&values[2..], [12.0, 14.0]);
    let c = r.counts();
    assert_eq!(
        (c.rows, c.bad_value, c.bad_timestamp, c.backwards),
        (4, 2, 1, 1)
    );
    assert_eq!((c.keys, c.keys_passing), (2, 2));
    assert_eq!(rows[0].ts, 1_704_067_200);
    assert_eq!(r.key_name(rows[2].key), Some("db"));
}

#[test]
fn strict_mode_names_the_row_and_column() {
    let mut spec = csv_spec(temp("b.csv", CSV.as_bytes()));
    spec.strict = true;
    let e = read_all(&spec).unwrap_err();
    assert!(
        matches!(&e, LogsError::BadValue { row: 2, column, text, .. } if column == "latency" && text == "oops"),
        "{e:?}"
    );
    assert!(e.to_string().contains("row 2, column `latency`"), "{e}");

    let backwards = "time,latency\n2024-01-01 00:00:05,1\n2024-01-01 00:00:04,2\n";
    let mut spec = InputSpec::csv(temp("c.csv", backwards.as_bytes()), "latency");
    spec.ts = Some("time".into());
    spec.strict = true;
    let e = read_all(&spec).unwrap_err();
    assert!(
        matches!(e, LogsError::TimestampBackwards { row: 2, .. }),
        "{e:?}"
    );
}

#[test]
fn a_missing_column_lists_the_columns() {
    let e = read_all(&InputSpec::csv(temp("d.csv", CSV.as_bytes()), "delay")).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, LogsError::MissingColumn { .. }));
    assert!(
        msg.contains("no column `delay`") && msg.contains("time, latency, service"),
        "{msg}"
    );
}

#[test]
fn text_lines_capture_value_timestamp_and_key() {
    let log = "2024-01-01T00:00:00 GET /a 12.5ms\n\
               garbage line\n\
               2024-01-01T00:00:01 POST /b 30ms\n\
               2024-01-01T00:00:02 GET /c 7ms\n";
    let mut spec = InputSpec::csv(temp("e.log", log.as_bytes()), "value");
    spec.format = Format::Lines;
    spec.line_regex = Some(r"^(?P<ts>\S+) (?P<key>[A-Z]+) \S+ (?P<value>[0-9.]+)ms$".into());
    spec.key_regex = Some(regex::Regex::new("^GET$").unwrap());
    let (rows, r) = read_all(&spec).unwrap();
    assert_eq!(
        rows.iter().map(|r| (r.value, r.pass)).collect::<Vec<_>>(),
        [(12.5, true), (30.0, false), (7.0, true)]
    );
    assert_eq!(r.counts().no_match, 1);
    assert_eq!(rows[2].ts - rows[0].ts, 2);

    spec.strict = true;
    let e = read_all(&spec).unwrap_err();
    assert!(matches!(e, LogsError::NoMatch { line: 2, .. }), "{e:?}");

    spec.line_regex = Some("([0-9]+)ms".into());
    let e = Reader::open(&spec).unwrap_err();
    assert!(e.to_string().contains("no named capture `value`"), "{e}");
}

#[test]
fn raw_files_read_through_mmap_and_reject_partial_samples() {
    let values = [1.5f64, f64::NAN, -2.0, 1e300];
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut spec = InputSpec::csv(temp("f.f64", &bytes), "value");
    spec.format = Format::RawF64;
    let (rows, _) = read_all(&spec).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[3].value, 1e300);
    assert!(rows[1].value.is_nan());
    assert_eq!(rows[2].ts, 2);

    let f32s: Vec<u8> = [0.25f32, 8.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let mut spec = InputSpec::csv(temp("g.f32", &f32s), "value");
    spec.format = Format::RawF32;
    let (rows, _) = read_all(&spec).unwrap();
    assert_eq!(
        rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        [0.25, 8.0]
    );

    let mut spec = InputSpec::csv(temp("h.f64", &bytes[..13]), "value");
    spec.format = Format::RawF64;
    let e = Reader::open(&spec).unwrap_err();
    assert!(
        matches!(
            e,
            LogsError::TruncatedRaw {
                bytes: 13,
                trailing: 5,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn repeat_loops_the_file_with_increasing_timestamps() {
    let mut spec = csv_spec(temp("i.csv", CSV.as_bytes()));
    spec.repeat = 3;
    let (rows, r) = read_all(&spec).unwrap();
    assert_eq!(rows.len(), 12);
    // One backward step inside the file per pass; none between passes.
    assert_eq!(r.counts().backwards, 3);
    assert!(rows[4].ts > rows[3].ts);
}

#[test]
fn nan_and_filtered_rows_are_counted_in_the_report() {
    let mut spec = csv_spec(temp("j.csv", CSV.as_bytes()));
    spec.key_regex = Some(regex::Regex::new("^api$").unwrap());
    let run = LogsJob::new(spec, LogsParams::new(2, 1, 100.0), Mode::Sqrt)
        .run(&mut |_, _| Ok(()))
        .unwrap();
    assert_eq!(run.windows, 3);
    assert_eq!(run.rows.rows, 4);
    assert_eq!(run.rows.nan, 1);
    assert_eq!(run.rows.filtered, 1);
    assert_eq!(run.rows.kept, 2);
    let report = run.to_string();
    assert!(report.contains("2 bad value, 1 bad timestamp"), "{report}");
    assert!(report.contains("1 filtered out, 1 NaN"), "{report}");
}

#[test]
fn bad_window_arguments_are_errors() {
    for (w, h) in [(0, 1), (4, 0), (4, 5)] {
        let e = LogsJob::new(
            InputSpec::synthetic(10, 1),
            LogsParams::new(w, h, 1.0),
            Mode::Sqrt,
        )
        .run(&mut |_, _| Ok(()))
        .unwrap_err();
        assert!(e.to_string().contains("1 <= hop <= win"), "{e}");
    }
}

#[test]
fn a_failing_row_writer_stops_the_run_at_its_window_in_every_engine_and_mode() {
    use sqrtspace_logs::Engine;
    for engine in [Engine::Incremental, Engine::Naive, Engine::Fused] {
        for mode in [Mode::Classic, Mode::Sqrt] {
            let mut job = LogsJob::new(
                InputSpec::synthetic(10_000, 1),
                LogsParams::new(64, 16, 80.0),
                mode,
            );
            job.engine = engine;
            let mut seen = Vec::new();
            let e = job
                .run(&mut |t, _| {
                    if t == 40 {
                        return Err(std::io::Error::other("disk full"));
                    }
                    seen.push(t);
                    Ok(())
                })
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    LogsError::Engine(sqrtspace::Error::Sink { window: 40, .. })
                ),
                "{engine:?} {mode}: {e}"
            );
            assert!(e.to_string().contains("disk full"), "{e}");
            assert_eq!(seen, (0..40).collect::<Vec<u64>>(), "{engine:?} {mode}");
        }
    }
}

#[test]
fn classic_over_the_ram_budget_is_a_typed_error_before_reading() {
    let mut job = LogsJob::new(
        InputSpec::synthetic(1_000_000, 1),
        LogsParams::new(1000, 250, 80.0),
        Mode::Classic,
    );
    job.ram_budget = Some(1 << 20);
    let e = job.run(&mut |_, _| Ok(())).unwrap_err();
    assert!(
        matches!(
            e,
            LogsError::OutOfMemory {
                rows: 1_000_000,
                budget: Some(1_048_576),
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("--mode sqrt"), "{e}");
    // sqrt and auto run within the same budget.
    for mode in [Mode::Sqrt, Mode::Auto] {
        job.mode = mode;
        let run = job.run(&mut |_, _| Ok(())).unwrap();
        assert_eq!(run.mode, Mode::Sqrt);
        assert_eq!(run.windows, 3997);
    }
}

#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_without_the_feature_says_how_to_get_it() {
    let mut spec = InputSpec::csv(temp("x.parquet", b"PAR1"), "value");
    spec.format = Format::Parquet;
    let e = read_all(&spec).unwrap_err();
    assert!(matches!(e, LogsError::FeatureDisabled { .. }), "{e:?}");
    assert!(e.to_string().contains("--features parquet"), "{e}");
}
