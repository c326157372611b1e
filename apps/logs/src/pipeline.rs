//! The logs pipeline: `fresh` (filter the rows new to the window) → `aggregates` (count, mean,
//! std, min, max) and `quantiles` (exact p50/p95/p99) → `alert` (stateful flag with
//! hysteresis) → `row` (one output row per window).
//!
//! Windows are `W` consecutive input rows, advancing by `H` rows (`Config::window` and
//! `Config::hop`, `1 <= H <= W`). A row counts in a window's statistics when
//! - its key passed the key filter (decided by the reader, once per distinct key: see
//!   [`Record::pass`]),
//! - its value is not NaN (NaN rows are skipped and counted in [`RowCounts::nan`]),
//! - its value lies in the optional `[min, max]` range of [`ValueFilter`] (else counted in
//!   [`RowCounts::filtered`], as are rows whose key failed the filter).
//!
//! [`NaivePipeline`] computes the same rows from each whole frame (two-pass mean and std,
//! `select_nth_unstable` quantiles): the baseline of the equivalence tests and benches.

use crate::quantile::{key, naive_quantiles, sort_keys, RollingQuantiles, Strategy};
use crate::stats::{Aggregates, RollingSummary, Summary};
use sqrtspace::{pipeline, stage, ByteSize};

/// Number of quantiles per window (p50, p95, p99 by default).
pub const QUANTILES: usize = 3;

/// One input row: a timestamp, a value and an interned key.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Record {
    /// Timestamp in seconds since the Unix epoch, or the row index when the input has none.
    pub ts: i64,
    /// The measured value (NaN rows are skipped by the stages and counted).
    pub value: f64,
    /// Interned key (0 when the input has no key column); the reader's key table names it.
    pub key: u32,
    /// Whether the key passed the key filter (a regex over key names, evaluated by the reader
    /// once per distinct key and carried here, so no stage runs a regex per row).
    pub pass: bool,
}

impl ByteSize for Record {}

/// An optional value range; rows outside it are filtered out (counted, not used).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ValueFilter {
    /// Keep values `>= min`.
    pub min: Option<f64>,
    /// Keep values `<= max`.
    pub max: Option<f64>,
}

/// The alert rule on the last quantile (p99 by default), with hysteresis.
///
/// The flag is raised after `consecutive` windows in a row whose quantile is above `raise`,
/// and cleared after `consecutive` windows in a row whose quantile is below `clear`
/// (`clear <= raise`; the band between holds the flag as it is). A window without kept values
/// breaks both streaks and leaves the flag as it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlertRule {
    /// Raise threshold (same unit as the values).
    pub raise: f64,
    /// Clear threshold (`<= raise`).
    pub clear: f64,
    /// Windows in a row needed to raise or to clear (at least 1).
    pub consecutive: u32,
}

/// Runtime parameters of the logs pipelines.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsParams {
    /// Rows per window `W` (must equal `Config::window`).
    pub window: usize,
    /// Rows per hop `H` (must equal `Config::hop`).
    pub hop: usize,
    /// Value range filter.
    pub filter: ValueFilter,
    /// Percentiles in `[0, 100]`, reported in this order; the alert watches the last.
    pub percentiles: [f64; QUANTILES],
    /// The alert rule.
    pub alert: AlertRule,
}

impl LogsParams {
    /// Window `window`, hop `hop`, no value filter, p50/p95/p99, alert above `raise` for 3
    /// windows, cleared below `0.9 * raise` for 3 windows.
    #[must_use]
    pub fn new(window: usize, hop: usize, raise: f64) -> Self {
        LogsParams {
            window,
            hop,
            filter: ValueFilter::default(),
            percentiles: [50.0, 95.0, 99.0],
            alert: AlertRule {
                raise,
                clear: 0.9 * raise,
                consecutive: 3,
            },
        }
    }
}

/// Rows new to a window and why some of them do not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RowCounts {
    /// Rows new to the window (`W` for window 0, `H` after).
    pub rows: u64,
    /// Of them, rows that count.
    pub kept: u64,
    /// Rows whose key failed the key filter or whose value is outside the range.
    pub filtered: u64,
    /// Rows whose value is NaN.
    pub nan: u64,
}

impl ByteSize for RowCounts {}

impl RowCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &RowCounts) {
        self.rows += other.rows;
        self.kept += other.kept;
        self.filtered += other.filtered;
        self.nan += other.nan;
    }
}

/// A run of rows within one hop-aligned block, the values of those that count, and what
/// the stateful stages need of them precomputed (so that the expensive part is in the pure
/// [`fresh`] stage, which the engine may compute ahead on several workers).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Piece {
    /// Rows spanned.
    pub rows: u64,
    /// Values of the rows that count, in row order.
    pub values: Vec<f64>,
    /// Their order-preserving keys ([`key`]) sorted ascending, when the
    /// window's quantiles use [`Strategy::Blocks`] (else empty).
    pub keys: Vec<u64>,
    /// Their count, mean, `M2`, min and max ([`Summary::of`]).
    pub summary: Summary,
}

/// The rows new to a window, filtered: all `W` rows of window 0, the last `H` of later
/// windows, split at multiples of `H` (absolute row index) so windows start on piece
/// boundaries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fresh {
    /// Whether this is window 0 (the pieces cover the whole frame).
    pub first: bool,
    /// The new rows, in order.
    pub pieces: Vec<Piece>,
    /// Counts over the new rows.
    pub counts: RowCounts,
}

impl ByteSize for Fresh {
    fn heap_bytes(&self) -> usize {
        self.pieces.capacity() * std::mem::size_of::<Piece>()
            + self
                .pieces
                .iter()
                .map(|p| p.values.capacity() * 8 + p.keys.capacity() * 8)
                .sum::<usize>()
    }
}

/// Whether a row counts, and if not why: `Ok(value)`, `Err(true)` for NaN, `Err(false)` for
/// filtered.
#[inline]
fn keep(r: &Record, f: &ValueFilter) -> Result<f64, bool> {
    let v = r.value;
    if v.is_nan() {
        return Err(true);
    }
    if !r.pass || f.min.is_some_and(|m| v < m) || f.max.is_some_and(|m| v > m) {
        return Err(false);
    }
    Ok(v)
}

/// Filters `rows` into `values`, counting into `counts`.
fn filter_into(rows: &[Record], f: &ValueFilter, values: &mut Vec<f64>, counts: &mut RowCounts) {
    counts.rows += rows.len() as u64;
    for r in rows {
        match keep(r, f) {
            Ok(v) => values.push(v),
            Err(true) => counts.nan += 1,
            Err(false) => counts.filtered += 1,
        }
    }
    counts.kept = counts.rows - counts.nan - counts.filtered;
}

/// The rows of `frame` new to its window (see [`Fresh`]): `first` for window 0.
#[must_use]
pub fn fresh_rows(frame: &[Record], first: bool, p: &LogsParams) -> Fresh {
    let mut out = Fresh::default();
    fresh_rows_into(frame, first, p, &mut out);
    out
}

/// [`fresh_rows`] into `out`, reusing its buffers (the same result).
pub fn fresh_rows_into(frame: &[Record], first: bool, p: &LogsParams, out: &mut Fresh) {
    let (w, h) = (frame.len(), p.hop.min(frame.len()).max(1));
    out.first = first;
    out.counts = RowCounts::default();
    let sort = Strategy::for_window(p.window, p.hop) == Strategy::Blocks;
    let mut used = 0;
    let mut split = |rows: &[Record]| {
        if used == out.pieces.len() {
            out.pieces.push(Piece::default());
        }
        let piece = &mut out.pieces[used];
        used += 1;
        piece.values.clear();
        filter_into(rows, &p.filter, &mut piece.values, &mut out.counts);
        piece.rows = rows.len() as u64;
        piece.summary = Summary::of(&piece.values);
        piece.keys.clear();
        if sort {
            piece.keys.extend(piece.values.iter().map(|&v| key(v)));
            sort_keys(&mut piece.keys);
        }
    };
    if first {
        for block in frame.chunks(h) {
            split(block);
        }
    } else {
        // The new rows start at (t-1)H + W, congruent to W mod H.
        let new = &frame[w - h..];
        let off = (h - w % h) % h;
        if off == 0 {
            split(new);
        } else {
            split(&new[..off]);
            split(&new[off..]);
        }
    }
    out.pieces.truncate(used);
}

/// Stage: the rows new to the window, filtered (see [`fresh_rows`]).
#[stage(inputs = [input, input[-1]], cost = 1)]
pub fn fresh(frame: &[Record], previous: Option<&[Record]>, #[params] p: &LogsParams) -> Fresh {
    fresh_rows(frame, previous.is_none(), p)
}

/// State of [`aggregates`](fn@aggregates): the window's piece summaries and the rows seen.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct AggState {
    rows: u64,
    window: RollingSummary,
}

impl ByteSize for AggState {
    fn heap_bytes(&self) -> usize {
        self.window.heap_bytes()
    }
}

/// Stage: count, mean, std (ddof 1), min and max of the window's kept values, updated from
/// the fresh rows ([`RollingSummary`]).
#[stage(inputs = [fresh], cost = 1)]
pub fn aggregates(f: &Fresh, #[params] p: &LogsParams, #[state] s: &mut AggState) -> Aggregates {
    for piece in &f.pieces {
        s.rows += piece.rows;
        s.window.push(s.rows, piece.summary);
    }
    s.window.drop_before(s.rows.saturating_sub(p.window as u64));
    s.window.summary().aggregates()
}

/// State of [`quantiles`]: the window's kept values ([`RollingQuantiles`]) and the rows seen.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct QuantileState {
    rows: u64,
    window: Option<RollingQuantiles>,
}

impl ByteSize for QuantileState {
    fn heap_bytes(&self) -> usize {
        self.window.as_ref().map_or(0, ByteSize::heap_bytes)
    }
}

/// Stage: exact quantiles at `percentiles` of the window's kept values, updated from the
/// fresh rows ([`RollingQuantiles`], strategy from `W / H`).
#[stage(inputs = [fresh], cost = 2)]
pub fn quantiles(
    f: &Fresh,
    #[params] p: &LogsParams,
    #[state] s: &mut QuantileState,
) -> [Option<f64>; QUANTILES] {
    let window = s
        .window
        .get_or_insert_with(|| RollingQuantiles::new(Strategy::for_window(p.window, p.hop)));
    let start = s.rows;
    let end = start + f.pieces.iter().map(|piece| piece.rows).sum::<u64>();
    if window.strategy() == Strategy::Blocks {
        // The pieces' keys come sorted from the pure `fresh` stage.
        window.drop_before(end.saturating_sub(p.window as u64));
        let mut row = start;
        for piece in &f.pieces {
            window.push_sorted(row, row + piece.rows, &piece.keys);
            row += piece.rows;
        }
        s.rows = end;
        return window.quantiles(&p.percentiles);
    }
    let mut row = start;
    window.slide(
        f.pieces.iter().map(|piece| {
            row += piece.rows;
            (row - piece.rows, row, piece.values.as_slice())
        }),
        end.saturating_sub(p.window as u64),
    );
    s.rows = end;
    window.quantiles(&p.percentiles)
}

/// The alert flag after a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Alert {
    /// Whether the alert is raised.
    pub active: bool,
    /// Whether it was raised or cleared at this window.
    pub changed: bool,
}

impl ByteSize for Alert {}

/// State of the alert rule: the flag and the current streaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AlertState {
    active: bool,
    above: u32,
    below: u32,
}

impl ByteSize for AlertState {}

impl AlertState {
    /// Applies `rule` to the window's watched quantile (`None`: empty window).
    pub fn update(&mut self, q: Option<f64>, rule: &AlertRule) -> Alert {
        let was = self.active;
        match q {
            None => {
                self.above = 0;
                self.below = 0;
            }
            Some(v) => {
                self.above = if v > rule.raise { self.above + 1 } else { 0 };
                self.below = if v < rule.clear { self.below + 1 } else { 0 };
                let n = rule.consecutive.max(1);
                if !self.active && self.above >= n {
                    self.active = true;
                } else if self.active && self.below >= n {
                    self.active = false;
                }
            }
        }
        Alert {
            active: self.active,
            changed: self.active != was,
        }
    }
}

/// Stage: the alert flag from the last quantile ([`AlertRule`]).
#[stage(inputs = [quantiles], cost = 1)]
pub fn alert(
    q: &[Option<f64>; QUANTILES],
    #[params] p: &LogsParams,
    #[state] s: &mut AlertState,
) -> Alert {
    s.update(q[QUANTILES - 1], &p.alert)
}

/// One output row per window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Row {
    /// Timestamp of the window's first row.
    pub ts_start: i64,
    /// Timestamp of the window's last row.
    pub ts_end: i64,
    /// Count, mean, std, min, max of the kept values.
    pub aggregates: Aggregates,
    /// The quantiles at [`LogsParams::percentiles`] (`None` for an empty window).
    pub quantiles: [Option<f64>; QUANTILES],
    /// The alert flag.
    pub alert: Alert,
    /// Counts over the rows new to this window.
    pub new_rows: RowCounts,
}

impl ByteSize for Row {}

impl Row {
    /// The row as 64-bit words (exact bits of every float; `None` as all ones), for digests
    /// and bit-exact comparison.
    #[must_use]
    pub fn to_bits(&self) -> [u64; 16] {
        let o = |v: Option<f64>| v.map_or(u64::MAX, f64::to_bits);
        let a = &self.aggregates;
        [
            self.ts_start as u64,
            self.ts_end as u64,
            a.count,
            o(a.mean),
            o(a.std),
            o(a.min),
            o(a.max),
            o(self.quantiles[0]),
            o(self.quantiles[1]),
            o(self.quantiles[2]),
            u64::from(self.alert.active) | u64::from(self.alert.changed) << 1,
            self.new_rows.rows,
            self.new_rows.kept,
            self.new_rows.filtered,
            self.new_rows.nan,
            0,
        ]
    }
}

/// Stage: bundles the window's results into a [`Row`].
#[stage(inputs = [input, fresh, aggregates, quantiles, alert], cost = 1)]
pub fn row(
    frame: &[Record],
    f: &Fresh,
    a: &Aggregates,
    q: &[Option<f64>; QUANTILES],
    al: &Alert,
) -> Row {
    Row {
        ts_start: frame.first().map_or(0, |r| r.ts),
        ts_end: frame.last().map_or(0, |r| r.ts),
        aggregates: *a,
        quantiles: *q,
        alert: *al,
        new_rows: f.counts,
    }
}

pipeline! {
    /// The logs rollup: fresh rows → rolling aggregates and exact quantiles → alert → row.
    pub struct LogsPipeline {
        sample: Record,
        params: LogsParams,
        stages: [fresh, aggregates, quantiles, alert, row],
        output: row,
    }
}

/// The statistics of one whole frame, computed directly (the baseline).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowStats {
    /// Aggregates by a two-pass mean and variance.
    pub aggregates: Aggregates,
    /// Quantiles by `select_nth_unstable` ([`naive_quantiles`]).
    pub quantiles: [Option<f64>; QUANTILES],
    /// Counts over the rows new to the window.
    pub new_rows: RowCounts,
}

impl ByteSize for WindowStats {}

/// The baseline statistics of a frame: filter all of it, two-pass mean and variance,
/// `select_nth_unstable` per percentile.
#[must_use]
pub fn naive_stats(frame: &[Record], first: bool, p: &LogsParams) -> WindowStats {
    let mut values = Vec::with_capacity(frame.len());
    let mut all = RowCounts::default();
    filter_into(frame, &p.filter, &mut values, &mut all);
    let n = values.len();
    let aggregates = if n == 0 {
        Aggregates::default()
    } else {
        let mean = values.iter().sum::<f64>() / n as f64;
        let m2: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        let min = values.iter().copied().min_by(f64::total_cmp);
        let max = values.iter().copied().max_by(f64::total_cmp);
        Aggregates {
            count: n as u64,
            mean: Some(mean),
            std: (n > 1).then(|| (m2 / (n - 1) as f64).sqrt()),
            min,
            max,
        }
    };
    let mut scratch = Vec::new();
    let quantiles = naive_quantiles(&values, &p.percentiles, &mut scratch);
    let new_rows = if first {
        all
    } else {
        let mut c = RowCounts::default();
        let h = p.hop.min(frame.len());
        filter_into(
            &frame[frame.len() - h..],
            &p.filter,
            &mut Vec::new(),
            &mut c,
        );
        c
    };
    WindowStats {
        aggregates,
        quantiles,
        new_rows,
    }
}

/// Stage: the baseline statistics of the whole frame ([`naive_stats`]).
#[stage(inputs = [input, input[-1]], cost = 4)]
pub fn naive(
    frame: &[Record],
    previous: Option<&[Record]>,
    #[params] p: &LogsParams,
) -> WindowStats {
    naive_stats(frame, previous.is_none(), p)
}

/// Stage: the alert flag from the baseline's last quantile.
#[stage(inputs = [naive], cost = 1)]
pub fn naive_alert(
    w: &WindowStats,
    #[params] p: &LogsParams,
    #[state] s: &mut AlertState,
) -> Alert {
    s.update(w.quantiles[QUANTILES - 1], &p.alert)
}

/// Stage: the baseline's [`Row`].
#[stage(inputs = [input, naive, naive_alert], cost = 1)]
pub fn naive_row(frame: &[Record], w: &WindowStats, al: &Alert) -> Row {
    Row {
        ts_start: frame.first().map_or(0, |r| r.ts),
        ts_end: frame.last().map_or(0, |r| r.ts),
        aggregates: w.aggregates,
        quantiles: w.quantiles,
        alert: *al,
        new_rows: w.new_rows,
    }
}

pipeline! {
    /// The baseline: every window's statistics from its whole frame.
    pub struct NaivePipeline {
        sample: Record,
        params: LogsParams,
        stages: [naive, naive_alert, naive_row],
        output: naive_row,
    }
}
