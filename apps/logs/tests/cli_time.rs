//! `demo logs --every/--period` through its clap struct (feature `cli`): time windows over the
//! shipped flights, rows labelled by window start, `--verify` across modes, and the flags'
//! exclusions.

use clap::Parser;
use sqrtspace_logs::cli::{run_demo, DemoArgs};

#[derive(Parser)]
struct Demo {
    #[command(flatten)]
    a: DemoArgs,
}

#[test]
fn demo_by_time_writes_rows_labelled_by_window_start_and_verifies_the_other_mode() {
    let dir = std::env::temp_dir().join(format!("sqrtspace-logs-cli-time-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("rows.csv");
    let d = Demo::parse_from([
        "demo",
        "--ts",
        "date",
        "--every",
        "1h",
        "--period",
        "3h",
        "--mode",
        "sqrt",
        "--verify",
        "--out",
        out.to_str().unwrap(),
    ]);
    run_demo(&d.a).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // 2001-01-01 00:01 .. 2001-01-07 08:xx: 153 hourly windows, none empty, plus the header.
    assert_eq!(lines.len(), 153 + 1);
    let first: Vec<&str> = lines[1].split(',').collect();
    // Window 0 starts at 2001-01-01 00:00 UTC (the first timestamp truncated to the hour).
    assert_eq!((first[0], first[1]), ("0", "978307200"));
    let second: Vec<&str> = lines[2].split(',').collect();
    assert_eq!(second[1], "978310800");
}

#[test]
fn every_excludes_win_and_hop_and_period_needs_every() {
    assert!(Demo::try_parse_from(["demo", "--every", "5m", "--win", "10"]).is_err());
    assert!(Demo::try_parse_from(["demo", "--every", "5m", "--hop", "10"]).is_err());
    assert!(Demo::try_parse_from(["demo", "--period", "1h"]).is_err());
    let d = Demo::parse_from(["demo", "--ts", "date", "--every", "5x"]);
    let e = run_demo(&d.a).unwrap_err().to_string();
    assert!(e.contains("30s, 5m, 1h or 2d"), "{e}");
}
