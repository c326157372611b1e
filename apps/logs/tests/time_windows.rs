//! Windows by time (`--every/--period`, `sqrtspace_logs::time`): for random timestamps
//! (equal ones, gaps longer than a window, so windows without rows), values (duplicates,
//! NaN, infinities) and durations, the rows of classic and sqrt equal the rows computed by
//! hand: window `t` = the rows with timestamps in `[origin + t*every, origin + t*every +
//! period)`, origin = the first timestamp truncated to `every`, quantiles by sorting the
//! window's values and taking NumPy's nearest rank; windows without rows are not written.
//! Edge cases: empty input, one row, all rows in one window, backwards timestamps,
//! durations.

use proptest::prelude::*;
use sqrtspace::Mode;
use sqrtspace_logs::quantile::nearest_rank;
use sqrtspace_logs::{InputSpec, LogsError, LogsJob, LogsParams, LogsRun, Row, TimeWindows};
use std::io::Write;
use std::path::PathBuf;

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sqrtspace-logs-time-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

fn csv(rows: &[(i64, f64)]) -> String {
    let mut s = String::from("ts,v\n");
    for (t, v) in rows {
        s.push_str(&format!("{t},{v}\n"));
    }
    s
}

fn job(path: PathBuf, tw: TimeWindows, mode: Mode) -> LogsJob {
    let mut input = InputSpec::csv(path, "v");
    input.ts = Some("ts".into());
    let mut j = LogsJob::new(input, LogsParams::new(1, 1, 1e300), mode);
    j.time = Some(tw);
    j
}

fn run(j: &LogsJob) -> Result<(Vec<(u64, Row)>, LogsRun), LogsError> {
    let mut rows = Vec::new();
    let r = j.run(&mut |t, row| {
        rows.push((t, *row));
        Ok(())
    })?;
    Ok((rows, r))
}

/// (window, start, count, p50/p95/p99 bits) of every window with rows, by definition.
#[allow(clippy::type_complexity)]
fn by_hand(rows: &[(i64, f64)], tw: TimeWindows) -> Vec<(u64, i64, u64, [Option<u64>; 3])> {
    let Some(&(first, _)) = rows.first() else {
        return Vec::new();
    };
    let last = rows.last().unwrap().0;
    let origin = first - first.rem_euclid(tw.every);
    let mut out = Vec::new();
    let mut t = 0u64;
    loop {
        let lo = origin + t as i64 * tw.every;
        if lo > last {
            break;
        }
        let hi = lo + tw.period;
        let inside: Vec<f64> = rows
            .iter()
            .filter(|(ts, _)| lo <= *ts && *ts < hi)
            .map(|r| r.1)
            .collect();
        if !inside.is_empty() {
            let mut v: Vec<f64> = inside.into_iter().filter(|x| !x.is_nan()).collect();
            v.sort_by(f64::total_cmp);
            let q = [50.0, 95.0, 99.0]
                .map(|p| (!v.is_empty()).then(|| v[nearest_rank(p, v.len())].to_bits()));
            out.push((t, lo, v.len() as u64, q));
        }
        t += 1;
    }
    out
}

fn summary(rows: &[(u64, Row)]) -> Vec<(u64, i64, u64, [Option<u64>; 3])> {
    rows.iter()
        .map(|(t, r)| {
            (
                *t,
                r.ts_start,
                r.aggregates.count,
                r.quantiles.map(|q| q.map(f64::to_bits)),
            )
        })
        .collect()
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-5i32..5).prop_map(f64::from),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        3 => -1e6f64..1e6,
    ]
}

fn case() -> impl Strategy<Value = (Vec<(i64, f64)>, TimeWindows)> {
    (
        1i64..300,
        0i64..4,
        0i64..10_000,
        prop::collection::vec(
            (
                prop_oneof![5 => 0i64..60, 3 => Just(0i64), 1 => 300i64..3000],
                value(),
            ),
            0..300,
        ),
    )
        .prop_map(|(every, mult, start, steps)| {
            let mut ts = 1_700_000_000 + start;
            let rows = steps
                .into_iter()
                .map(|(s, v)| {
                    ts += s;
                    (ts, v)
                })
                .collect();
            (
                rows,
                TimeWindows {
                    every,
                    period: every * (1 + mult) + mult * 7,
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(32), ..ProptestConfig::default() })]

    #[test]
    fn time_window_quantiles_equal_the_per_window_sort_in_every_mode(
        (rows, tw) in case(),
    ) {
        let path = temp("prop.csv", &csv(&rows));
        let expected = by_hand(&rows, tw);
        let (classic, rc) = run(&job(path.clone(), tw, Mode::Classic)).unwrap();
        let (sqrt, rs) = run(&job(path, tw, Mode::Sqrt)).unwrap();
        prop_assert_eq!(summary(&classic), expected);
        prop_assert_eq!(rc.digest, rs.digest, "classic and sqrt rows are bit-identical");
        prop_assert_eq!(summary(&sqrt), summary(&classic));
        // Every row is new in exactly one window.
        prop_assert_eq!(rs.rows.rows, rows.len() as u64);
        let windows = rows.last().map_or(0, |l| {
            let o = rows[0].0 - rows[0].0.rem_euclid(tw.every);
            (l.0 - o) / tw.every + 1
        }) as u64;
        prop_assert_eq!(rs.windows + rs.time_counts.empty_windows, windows);
        prop_assert_eq!(rc.time_counts, rs.time_counts);
    }
}

const HOURLY: TimeWindows = TimeWindows {
    every: 3600,
    period: 3600,
};

#[test]
fn an_empty_input_has_no_rows() {
    for mode in [Mode::Classic, Mode::Sqrt] {
        let (rows, r) = run(&job(temp("empty.csv", "ts,v\n"), HOURLY, mode)).unwrap();
        assert!(rows.is_empty());
        assert_eq!((r.windows, r.time_counts.empty_windows), (0, 0));
    }
}

#[test]
fn one_row_is_one_window_labelled_by_its_truncated_start() {
    for mode in [Mode::Classic, Mode::Sqrt] {
        let (rows, _) = run(&job(temp("one.csv", "ts,v\n7300,5\n"), HOURLY, mode)).unwrap();
        assert_eq!(rows.len(), 1);
        let (t, r) = rows[0];
        assert_eq!(
            (t, r.ts_start, r.ts_end, r.aggregates.count),
            (0, 7200, 7300, 1)
        );
        assert_eq!(r.quantiles, [Some(5.0); 3]);
    }
}

#[test]
fn all_rows_in_one_window_and_gaps_leave_unwritten_windows() {
    let one: Vec<(i64, f64)> = (0..50)
        .map(|i| (3600 + i * 60, f64::from(i as i32)))
        .collect();
    let (rows, r) = run(&job(temp("all.csv", &csv(&one)), HOURLY, Mode::Sqrt)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.quantiles, [Some(24.0), Some(47.0), Some(49.0)]);
    assert_eq!(r.time_counts.empty_windows, 0);
    // Then a row 5 hours later: windows 1..=4 hold no row.
    let mut gap = one.clone();
    gap.push((3600 + 5 * 3600 + 1, 1.0));
    let (rows, r) = run(&job(temp("gap.csv", &csv(&gap)), HOURLY, Mode::Sqrt)).unwrap();
    assert_eq!(
        rows.iter()
            .map(|(t, r)| (*t, r.ts_start))
            .collect::<Vec<_>>(),
        vec![(0, 3600), (5, 6 * 3600)]
    );
    assert_eq!(r.time_counts.empty_windows, 4);
    assert!(
        r.to_string()
            .contains("Windows without rows (not written): 4"),
        "{r}"
    );
}

#[test]
fn backward_timestamps_are_skipped_and_counted_or_an_error_in_strict_mode() {
    let text = "ts,v\n100,1\n200,2\n150,3\n160,4\n300,5\n";
    let tw = TimeWindows {
        every: 100,
        period: 100,
    };
    for mode in [Mode::Classic, Mode::Sqrt] {
        let (rows, r) = run(&job(temp("back.csv", text), tw, mode)).unwrap();
        assert_eq!(r.time_counts.backwards_skipped, 2);
        assert_eq!(r.input.backwards, 1, "the reader counts each step back");
        assert_eq!(
            rows.iter()
                .map(|(t, r)| (*t, r.aggregates.count))
                .collect::<Vec<_>>(),
            vec![(0, 1), (1, 1), (2, 1)]
        );
    }
    let mut strict = job(temp("back.csv", text), tw, Mode::Sqrt);
    strict.input.strict = true;
    assert!(matches!(
        run(&strict),
        Err(LogsError::TimestampBackwards { ts: 150, .. })
    ));
}

#[test]
fn durations_parse_with_humantime_and_bad_ones_say_what_to_write() {
    assert_eq!(
        TimeWindows::parse("5m", Some("1h")).unwrap(),
        TimeWindows {
            every: 300,
            period: 3600
        }
    );
    assert_eq!(
        TimeWindows::parse("2d", None).unwrap(),
        TimeWindows {
            every: 172_800,
            period: 172_800
        }
    );
    assert_eq!(TimeWindows::parse("1h 30m", None).unwrap().every, 5400);
    for (every, period) in [("5 parsecs", None), ("0s", None), ("1500ms", None)] {
        let e = TimeWindows::parse(every, period).unwrap_err().to_string();
        assert!(
            e.contains("--every") && e.contains("30s, 5m, 1h or 2d"),
            "{e}"
        );
    }
    let e = TimeWindows::parse("1h", Some("5m"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("at least as long as every"), "{e}");
}
