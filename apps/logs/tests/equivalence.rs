//! The incremental structures against the per-window baseline, and the modes against each
//! other.

use proptest::prelude::*;
use sqrtspace::{Config, Mode};
use sqrtspace_logs::batch::{self, BatchPipeline};
use sqrtspace_logs::pipeline::{fresh_rows, naive_stats, Alert, AlertState};
use sqrtspace_logs::quantile::{naive_quantiles, RollingQuantiles, Strategy as Structure};
use sqrtspace_logs::{
    AlertRule, InputSpec, LogsJob, LogsParams, LogsPipeline, NaivePipeline, Record, Row,
    ValueFilter,
};

/// Values drawn from a small set (many duplicates, both zeros, infinities) or anywhere.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-5i32..5).prop_map(f64::from),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        3 => -1e6f64..1e6,
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (value(), 0u32..4).prop_map(|(value, key)| Record {
        ts: 0,
        value,
        key,
        // Key 3 fails the key filter.
        pass: key != 3,
    })
}

/// Window and hop with 1 <= hop <= window, covering both strategies.
fn window_hop() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        (1usize..40).prop_flat_map(|w| (Just(w), 1..=w)),
        (65usize..200).prop_flat_map(|w| (Just(w), 1..=3usize)),
    ]
}

fn params(w: usize, h: usize, filter: ValueFilter) -> LogsParams {
    let mut p = LogsParams::new(w, h, 2.0);
    p.filter = filter;
    p.alert = AlertRule {
        raise: 2.0,
        clear: 0.0,
        consecutive: 2,
    };
    p
}

fn filter() -> impl Strategy<Value = ValueFilter> {
    prop_oneof![
        Just(ValueFilter::default()),
        Just(ValueFilter {
            min: Some(-3.0),
            max: Some(1e5),
        }),
    ]
}

fn bits(q: &[Option<f64>]) -> Vec<Option<u64>> {
    q.iter().map(|v| v.map(f64::to_bits)).collect()
}

/// Windows of `rows` by hand: the kept values of each window.
fn windows(rows: &[Record], p: &LogsParams) -> Vec<Vec<f64>> {
    let c = Config::default().with_window(p.window).with_hop(p.hop);
    (0..c.windows_in(rows.len() as u64))
        .map(|t| {
            let s = t as usize * p.hop;
            rows[s..s + p.window]
                .iter()
                .filter(|r| {
                    !r.value.is_nan()
                        && r.pass
                        && p.filter.min.is_none_or(|m| r.value >= m)
                        && p.filter.max.is_none_or(|m| r.value <= m)
                })
                .map(|r| r.value)
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Both incremental strategies, fed the fresh rows window by window, give the quantiles
    /// of `select_nth_unstable` on each whole window, bit for bit: random values with
    /// duplicates, NaN (skipped), filtered keys and a value range, random windows and hops,
    /// odd percentiles.
    #[test]
    fn incremental_quantiles_equal_the_per_window_selection(
        rows in prop::collection::vec(record(), 0..400),
        (w, h) in window_hop(),
        f in filter(),
        pct in prop::array::uniform3(0.0f64..=100.0),
    ) {
        let mut p = params(w, h, f);
        p.percentiles = [pct[0], 50.0, pct[2]];
        let expected = windows(&rows, &p);
        for (strategy, slide) in [
            (Structure::Blocks, false),
            (Structure::Sorted, false),
            (Structure::Blocks, true),
            (Structure::Sorted, true),
        ] {
            let mut q = RollingQuantiles::new(strategy);
            let mut seen = 0u64;
            let mut scratch = Vec::new();
            for (t, want) in expected.iter().enumerate() {
                let s = t * h;
                let fr = fresh_rows(&rows[s..s + w], t == 0, &p);
                if slide {
                    // Drop-and-add in one call (in-place replacement for `Sorted`).
                    let end = seen + fr.pieces.iter().map(|x| x.rows).sum::<u64>();
                    let mut row = seen;
                    q.slide(
                        fr.pieces.iter().map(|x| {
                            row += x.rows;
                            (row - x.rows, row, x.values.as_slice())
                        }),
                        end.saturating_sub(w as u64),
                    );
                    seen = end;
                } else {
                    for piece in &fr.pieces {
                        q.push(seen, seen + piece.rows, &piece.values);
                        seen += piece.rows;
                    }
                    q.drop_before(seen.saturating_sub(w as u64));
                }
                prop_assert_eq!(q.len(), want.len());
                let got = q.quantiles(&p.percentiles);
                let naive = naive_quantiles(want, &p.percentiles, &mut scratch);
                prop_assert_eq!(bits(&got), bits(&naive), "{:?} window {}", strategy, t);
                let mm = want.iter().copied().min_by(f64::total_cmp)
                    .zip(want.iter().copied().max_by(f64::total_cmp));
                prop_assert_eq!(q.min_max().map(|(a, b)| (a.to_bits(), b.to_bits())),
                    mm.map(|(a, b)| (a.to_bits(), b.to_bits())));
            }
        }
    }

    /// The incremental pipeline and the naive one give the same rows: counts, min, max,
    /// quantiles, alerts and row counts exactly; mean and std to 1e-9 relative (different
    /// summation orders); in sqrt mode, pushed in random chunks.
    #[test]
    fn incremental_pipeline_equals_naive_pipeline(
        values in prop::collection::vec(prop_oneof![9 => -4i32..6, 1 => Just(i32::MIN)], 0..600),
        (w, h) in window_hop(),
        chunk in 1usize..300,
    ) {
        // Small integers as values: sums are exact, so mean/std differ only by rounding.
        let rows: Vec<Record> = values.iter().enumerate().map(|(i, &v)| Record {
            ts: i as i64,
            value: if v == i32::MIN { f64::NAN } else { f64::from(v) },
            key: (i % 5) as u32,
            pass: i % 5 != 4,
        }).collect();
        let p = params(w, h, ValueFilter::default());
        let mut config = Config::default().with_window(w).with_hop(h).with_mode(Mode::Sqrt);
        // Room for any chunk (backpressure is the engine's business, tested there).
        config.input_buffer_blocks = 1024;
        let mut inc = LogsPipeline::new(config.clone(), p.clone()).unwrap();
        let mut naive = NaivePipeline::new(config, p.clone()).unwrap();
        let mut a: Vec<Row> = Vec::new();
        let mut b: Vec<Row> = Vec::new();
        for c in rows.chunks(chunk) {
            inc.push_samples(c).unwrap();
            a.extend(inc.pull_until(u64::MAX).unwrap());
            naive.push_samples(c).unwrap();
            b.extend(naive.pull_until(u64::MAX).unwrap());
        }
        prop_assert_eq!(a.len(), b.len());
        for (t, (x, y)) in a.iter().zip(&b).enumerate() {
            prop_assert_eq!(x.aggregates.count, y.aggregates.count, "window {}", t);
            prop_assert_eq!(bits(&x.quantiles), bits(&y.quantiles), "window {}", t);
            prop_assert_eq!(x.aggregates.min, y.aggregates.min);
            prop_assert_eq!(x.aggregates.max, y.aggregates.max);
            prop_assert_eq!(x.alert, y.alert);
            prop_assert_eq!(x.new_rows, y.new_rows);
            prop_assert_eq!((x.ts_start, x.ts_end), (y.ts_start, y.ts_end));
            for (u, v) in [(x.aggregates.mean, y.aggregates.mean), (x.aggregates.std, y.aggregates.std)] {
                prop_assert_eq!(u.is_some(), v.is_some());
                if let (Some(u), Some(v)) = (u, v) {
                    prop_assert!((u - v).abs() <= 1e-9 * v.abs().max(1.0), "{} vs {}", u, v);
                }
            }
        }
        // Rows of the windows by hand: count and new rows.
        let expected = windows(&rows, &p);
        prop_assert_eq!(a.len(), expected.len());
        for (x, want) in a.iter().zip(&expected) {
            prop_assert_eq!(x.aggregates.count, want.len() as u64);
        }
        let new: u64 = a.iter().map(|r| r.new_rows.rows).sum();
        let covered = if a.is_empty() { 0 } else { (a.len() - 1) * h + w };
        prop_assert_eq!(new, covered as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Small hops as frames of windows ([`BatchPipeline`], the last frame padded) give the
    /// rows of the incremental pipeline with one engine window per window, bit for bit, in
    /// sqrt mode (pushed in random chunks) and in classic mode.
    #[test]
    fn batched_frames_equal_one_window_per_window(
        rows in prop::collection::vec(record(), 0..3000),
        w in 1usize..300,
        h in 1usize..64,
        chunk in 1usize..2000,
        f in filter(),
    ) {
        let h = h.min(w);
        let p = params(w, h, f);
        let rows: Vec<Record> = rows.into_iter().enumerate()
            .map(|(i, r)| Record { ts: i as i64, ..r }).collect();
        let mut config = Config::default().with_window(w).with_hop(h).with_mode(Mode::Sqrt);
        config.input_buffer_blocks = 4096;
        let mut one = LogsPipeline::new(config, p.clone()).unwrap();
        let mut want: Vec<[u64; 16]> = Vec::new();
        for c in rows.chunks(chunk) {
            one.push_samples(c).unwrap();
            want.extend(one.pull_until(u64::MAX).unwrap().iter().map(Row::to_bits));
        }
        let mut padded = rows.clone();
        let pad = batch::padding(rows.len() as u64, w, h) as usize;
        padded.extend(std::iter::repeat_n(batch::PAD, pad));
        let (fw, fh) = batch::frame_shape(w, h);
        for mode in [Mode::Sqrt, Mode::Classic] {
            let mut config = Config::default().with_window(fw).with_hop(fh).with_mode(mode);
            config.input_buffer_blocks = 64;
            let mut pl = BatchPipeline::new(config, p.clone()).unwrap();
            let mut got: Vec<[u64; 16]> = Vec::new();
            if mode == Mode::Sqrt {
                for c in padded.chunks(chunk) {
                    pl.push_samples(c).unwrap();
                    for b in pl.pull_until(u64::MAX).unwrap() {
                        got.extend(b.rows.iter().map(Row::to_bits));
                    }
                }
            } else {
                let frames = pl.config().windows_in(padded.len() as u64);
                if frames == 0 {
                    continue;
                }
                pl.evaluate_with::<batch::batch>(&padded, 0..frames, |_, b: batch::RowBatch| {
                    got.extend(b.rows.iter().map(Row::to_bits));
                }).unwrap();
            }
            prop_assert!(got.len() >= want.len(), "{:?}: {} < {}", mode, got.len(), want.len());
            got.truncate(want.len());
            prop_assert_eq!(&got, &want, "{:?} w {} h {}", mode, w, h);
        }
    }
}

#[test]
fn naive_stats_counts_nan_and_filtered_rows() {
    let rows: Vec<Record> = [1.0, f64::NAN, 3.0, 100.0, 2.0]
        .iter()
        .enumerate()
        .map(|(i, &v)| Record {
            ts: i as i64,
            value: v,
            key: 0,
            pass: i != 4,
        })
        .collect();
    let mut p = params(
        5,
        5,
        ValueFilter {
            min: None,
            max: Some(50.0),
        },
    );
    p.percentiles = [0.0, 50.0, 100.0];
    let s = naive_stats(&rows, true, &p);
    assert_eq!(s.aggregates.count, 2);
    assert_eq!(s.new_rows.nan, 1);
    assert_eq!(s.new_rows.filtered, 2);
    assert_eq!(s.quantiles, [Some(1.0), Some(1.0), Some(3.0)]);
    assert_eq!(s.aggregates.mean, Some(2.0));
}

#[test]
fn alert_needs_consecutive_windows_and_clears_with_hysteresis() {
    let rule = AlertRule {
        raise: 10.0,
        clear: 5.0,
        consecutive: 2,
    };
    let mut s = AlertState::default();
    let seq = [
        Some(11.0), // above 1
        Some(4.0),  // streak broken
        Some(11.0), // above 1
        Some(12.0), // above 2: raise
        Some(7.0),  // in the band: stays raised
        Some(4.0),  // below 1
        None,       // empty window: streaks reset, flag kept
        Some(4.0),  // below 1
        Some(3.0),  // below 2: clear
    ];
    let got: Vec<Alert> = seq.iter().map(|&q| s.update(q, &rule)).collect();
    let active: Vec<bool> = got.iter().map(|a| a.active).collect();
    let changed: Vec<bool> = got.iter().map(|a| a.changed).collect();
    assert_eq!(
        active,
        [false, false, false, true, true, true, true, true, false]
    );
    assert_eq!(
        changed,
        [false, false, false, true, false, false, false, false, true]
    );
}

/// The three modes over the shipped real file and over synthetic rows: the same rows, bit
/// for bit (digest of every row's exact bits), for both pipelines.
#[test]
fn every_mode_gives_identical_rows() {
    let real = {
        let mut s = InputSpec::csv(sqrtspace_logs::DEFAULT_INPUT, "delay");
        s.ts = Some("date".into());
        s.key = Some("origin".into());
        s.key_regex = Some(regex::Regex::new("^(ATL|ORD|DFW|LAX|DEN)$").unwrap());
        s
    };
    for (input, w, h) in [
        (real.clone(), 1000, 250),
        (real, 300, 1),
        (InputSpec::synthetic(20_000, 5), 1000, 7),
        (InputSpec::synthetic(3_000, 6), 2500, 1),
        (InputSpec::synthetic(300_000, 3), 32768, 4096),
        (InputSpec::synthetic(50_000, 4), 5000, 999),
    ] {
        let params = LogsParams::new(w, h, 60.0);
        let mut digests = Vec::new();
        for mode in [Mode::Classic, Mode::Sqrt, Mode::Auto] {
            let run = LogsJob::new(input.clone(), params.clone(), mode)
                .run(&mut |_, _| Ok(()))
                .unwrap();
            assert!(run.windows > 0);
            digests.push((mode, run.windows, run.digest, run.rows));
        }
        // Two workers forced (the pure `fresh` stage computed ahead in parallel): the same rows.
        for mode in [Mode::Classic, Mode::Sqrt] {
            let mut job = LogsJob::new(input.clone(), params.clone(), mode);
            job.workers = 2;
            job.force_workers = true;
            let run = job.run(&mut |_, _| Ok(())).unwrap();
            assert_eq!(run.workers, 2, "w {w} h {h} {mode}");
            digests.push((mode, run.windows, run.digest, run.rows));
        }
        // The stage functions in a hand-written loop (no engine) give the same rows too.
        let mut job = LogsJob::new(input.clone(), params.clone(), Mode::Sqrt);
        job.engine = sqrtspace_logs::Engine::Fused;
        let run = job.run(&mut |_, _| Ok(())).unwrap();
        digests.push((Mode::Sqrt, run.windows, run.digest, run.rows));
        let first = digests[0];
        for d in &digests {
            assert_eq!(
                (d.1, d.2, d.3),
                (first.1, first.2, first.3),
                "{digests:?} w {w} h {h}"
            );
        }
    }
}
