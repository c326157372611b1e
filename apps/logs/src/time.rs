//! Windows by time (`--every 5m --period 1h` over the timestamp column), on the engine's key
//! windows ([`sqrtspace::framing`]): window `t` holds the rows whose timestamps are in
//! `[origin + t*every, origin + t*every + period)`, `origin` being the first timestamp
//! truncated to a multiple of `every` (Polars' `group_by_dynamic` defaults: `closed="left"`,
//! `label="left"`, `start_by="window"`, no boundary columns).
//!
//! - Each window's statistics are computed from its whole frame ([`TimePipeline`]: the
//!   baseline's two-pass mean and std and `select_nth_unstable` quantiles), so they are exact
//!   for frames of any length; the incremental structures of [`crate::pipeline`] assume
//!   frames of `W` rows advancing by `H`.
//! - A row's [`Row::ts_start`] is its window's start (the label), [`Row::ts_end`] the
//!   timestamp of the window's last row; [`Row::new_rows`] counts the rows not in the
//!   window before (each row is new in exactly one window).
//! - Windows with no rows (gaps in the timestamps) are evaluated by the engine (the alert's
//!   streaks break there, as for a window without kept values) but **no row is written** for
//!   them, as Polars writes none; the report counts them.
//! - A row whose timestamp is below an earlier row's cannot be placed in time order: it is
//!   skipped and counted ([`TimeCounts::backwards_skipped`]); with `--strict` the reader
//!   already stops at it with [`LogsError::TimestampBackwards`].
//! - Memory in sqrt mode: the rows of the live windows (`period x` the highest row rate) plus
//!   the engine's history; a window larger than the input buffer is
//!   [`sqrtspace::Error::FrameTooLarge`] (raise `--time-buffer`).

use crate::error::LogsError;
use crate::pipeline::{naive_stats, AlertState, LogsParams, Record, Row, WindowStats};
use sqrtspace::{pipeline, stage, ByteSize};

/// Time windows in seconds (the unit of [`Record::ts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    /// Seconds between window starts.
    pub every: i64,
    /// Seconds per window (`>= every`).
    pub period: i64,
}

impl TimeWindows {
    /// Parses `--every` and `--period` (`period` defaults to `every`, as in Polars) with
    /// `humantime` (`30s`, `5m`, `1h`, `2d`, `1h 30m`); both must be whole seconds, at least
    /// one, and `period >= every`.
    ///
    /// # Errors
    /// [`LogsError::Argument`] naming the flag and what to write.
    pub fn parse(every: &str, period: Option<&str>) -> Result<Self, LogsError> {
        let every_s = seconds("--every", every)?;
        let period_s = match period {
            Some(p) => seconds("--period", p)?,
            None => every_s,
        };
        if period_s < every_s {
            return Err(LogsError::Argument(format!(
                "--period {} is shorter than --every {every}: rows between windows would belong to none; use a period at least as long as every",
                period.unwrap_or_default()
            )));
        }
        Ok(TimeWindows {
            every: every_s,
            period: period_s,
        })
    }
}

fn seconds(flag: &str, text: &str) -> Result<i64, LogsError> {
    let bad = |why: String| {
        LogsError::Argument(format!(
            "{flag} {text}: {why}; write a duration such as 30s, 5m, 1h or 2d"
        ))
    };
    let d = humantime::parse_duration(text).map_err(|e| bad(e.to_string()))?;
    if d.subsec_nanos() != 0 || d.as_secs() == 0 {
        return Err(bad("the timestamps are in whole seconds".into()));
    }
    i64::try_from(d.as_secs()).map_err(|_| bad("too long".into()))
}

/// What the time-window run skipped and left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeCounts {
    /// Rows skipped because their timestamp is below an earlier row's.
    pub backwards_skipped: u64,
    /// Windows with no row (evaluated, not written).
    pub empty_windows: u64,
}

/// Drops the rows of `chunk` whose timestamp is below `*latest` (counted), in place, and
/// returns their keys.
pub(crate) fn in_time_order(
    chunk: &mut Vec<Record>,
    latest: &mut Option<i64>,
    counts: &mut TimeCounts,
) -> Vec<i64> {
    chunk.retain(|r| {
        if latest.is_some_and(|l| r.ts < l) {
            counts.backwards_skipped += 1;
            false
        } else {
            *latest = Some(r.ts);
            true
        }
    });
    chunk.iter().map(|r| r.ts).collect()
}

/// Stage: the statistics of the whole time window ([`naive_stats`]); the new rows are those
/// after the previous window's last row.
#[stage(inputs = [input, input[-1]], cost = 4)]
pub fn time_stats(
    frame: &[Record],
    previous: Option<&[Record]>,
    #[params] p: &LogsParams,
) -> WindowStats {
    let mut s = naive_stats(frame, true, p);
    if let Some(last) = previous.and_then(<[Record]>::last) {
        let old = frame.partition_point(|r| r.ts <= last.ts);
        s.new_rows = naive_stats(&frame[old..], true, p).new_rows;
    }
    s
}

/// Stage: the alert flag from the window's last quantile.
#[stage(inputs = [time_stats], cost = 1)]
pub fn time_alert(
    w: &WindowStats,
    #[params] p: &LogsParams,
    #[state] s: &mut AlertState,
) -> crate::pipeline::Alert {
    s.update(w.quantiles[crate::pipeline::QUANTILES - 1], &p.alert)
}

/// One time window's output: the row and how many rows the window holds (0: not written).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TimeRow {
    /// The row (`ts_start` is filled in by the job with the window's start).
    pub row: Row,
    /// Rows in the window's frame.
    pub frame_rows: u64,
}

impl ByteSize for TimeRow {}

/// Stage: bundles the window's results.
#[stage(inputs = [input, time_stats, time_alert], cost = 1)]
pub fn time_row(frame: &[Record], w: &WindowStats, al: &crate::pipeline::Alert) -> TimeRow {
    TimeRow {
        row: Row {
            ts_start: frame.first().map_or(0, |r| r.ts),
            ts_end: frame.last().map_or(0, |r| r.ts),
            aggregates: w.aggregates,
            quantiles: w.quantiles,
            alert: *al,
            new_rows: w.new_rows,
        },
        frame_rows: frame.len() as u64,
    }
}

pipeline! {
    /// The time-window rollup: each window's statistics from its frame → alert → row.
    pub struct TimePipeline {
        sample: Record,
        params: LogsParams,
        stages: [time_stats, time_alert, time_row],
        output: time_row,
    }
}

/// Hands window `t`'s row to `sink` with its start time as `ts_start`, or counts it as empty.
pub(crate) fn emit(
    tw: TimeWindows,
    origin: i64,
    t: u64,
    o: TimeRow,
    counts: &mut TimeCounts,
    sink: &mut dyn FnMut(u64, Row) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if o.frame_rows == 0 {
        counts.empty_windows += 1;
        return Ok(());
    }
    let start = i64::try_from(t)
        .ok()
        .and_then(|t| t.checked_mul(tw.every))
        .and_then(|d| origin.checked_add(d))
        .unwrap_or(i64::MAX);
    sink(
        t,
        Row {
            ts_start: start,
            ..o.row
        },
    )
}
