//! Small hops (hop 1 included) evaluated as frames of `B` windows: [`BatchPipeline`].
//!
//! At one window per row, the engine's fixed cost per window (a frame, an LRU lookup and a
//! fetch/produce per stage) would cost more than the statistics. So for hops below
//! [`BATCH_MAX_HOP`] the job runs the engine over **frames of `B` windows** instead: engine
//! window `W + (B - 1) H` rows, engine hop `B H`, and one stateful stage, [`batch`], that
//! slides the window `B` times through the frame, calling the incremental pipeline's stage
//! functions ([`fresh_rows_into`], [`aggregates`], [`quantiles`], [`alert`], [`row`]) once per
//! inner window, with their states kept as the stage's state. Its output, [`RowBatch`], holds
//! the `B` rows; the job hands them to the sink one by one as windows `j B + i`.
//!
//! Rows are still one output each, the same as [`LogsPipeline`](crate::LogsPipeline)'s bit for
//! bit (the same functions in the same order: tested across modes and against the
//! hand-written loop). The last frame is completed with padding rows (NaN, filtered) and its
//! windows past the input's end are dropped by the job, so no window is lost; the padding
//! never reaches a kept window.

use crate::pipeline::{
    aggregates, alert, fresh_rows_into, quantiles, row, AggState, AlertState, Fresh, LogsParams,
    QuantileState, Record, Row,
};
use sqrtspace::{pipeline, stage, ByteSize};

/// Hops below this run as frames of windows ([`BatchPipeline`]); larger hops as
/// [`LogsPipeline`](crate::LogsPipeline), one engine window per window.
pub const BATCH_MAX_HOP: usize = 64;

/// Rows of new input per engine frame: `B = BATCH_ROWS / H` windows (`B H` new rows).
pub const BATCH_ROWS: usize = 1024;

/// Windows per frame for hop `h`: `max(1, BATCH_ROWS / h)`.
#[must_use]
pub fn windows_per_frame(h: usize) -> usize {
    (BATCH_ROWS / h.max(1)).max(1)
}

/// The engine's window and hop (rows) for frames of [`windows_per_frame`] windows of `w`
/// rows every `h`: `(W + (B - 1) H, B H)`.
#[must_use]
pub fn frame_shape(w: usize, h: usize) -> (usize, usize) {
    let b = windows_per_frame(h);
    (w + (b - 1) * h, b * h)
}

/// Padding rows to push after `rows` input rows so that the last inner window (if any) lies
/// in a whole frame: 0 when there is no window.
#[must_use]
pub fn padding(rows: u64, w: usize, h: usize) -> u64 {
    let (w, h) = (w as u64, h as u64);
    if rows < w {
        return 0;
    }
    let windows = (rows - w) / h + 1;
    let b = windows_per_frame(h as usize) as u64;
    let frames = windows.div_ceil(b);
    let needed = (frames - 1) * b * h + w + (b - 1) * h;
    needed.saturating_sub(rows)
}

/// A padding row: NaN and failing the key filter, so it would be counted, never kept.
pub const PAD: Record = Record {
    ts: i64::MAX,
    value: f64::NAN,
    key: u32::MAX,
    pass: false,
};

/// The rows of the windows of one frame, in window order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowBatch {
    /// One row per inner window (`B`).
    pub rows: Vec<Row>,
}

impl ByteSize for RowBatch {
    fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
    }
}

/// State of [`batch`]: the incremental stages' states, the windows done, and a reused
/// [`Fresh`] buffer (not part of the value).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BatchState {
    windows: u64,
    agg: AggState,
    quantiles: QuantileState,
    alert: AlertState,
    #[serde(skip)]
    fresh: Scratch,
}

/// A reused [`Fresh`]: equal to any other, cloned empty (it carries no state between
/// windows, only capacity).
#[derive(Debug, Default)]
struct Scratch(Fresh);

impl Clone for Scratch {
    fn clone(&self) -> Self {
        Scratch::default()
    }
}

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ByteSize for BatchState {
    fn heap_bytes(&self) -> usize {
        self.agg.heap_bytes() + self.quantiles.heap_bytes() + self.fresh.0.heap_bytes()
    }
}

/// Stage: the rows of the `B = (len - W) / H + 1` windows of `W = p.window` rows every
/// `H = p.hop` in `frame`, by the incremental stage functions in order (see the
/// [module docs](self)).
#[stage(inputs = [input], cost = 4)]
pub fn batch(frame: &[Record], #[params] p: &LogsParams, #[state] s: &mut BatchState) -> RowBatch {
    let (w, h) = (p.window, p.hop.max(1));
    let b = if frame.len() < w {
        0
    } else {
        (frame.len() - w) / h + 1
    };
    let mut rows = Vec::with_capacity(b);
    let f = &mut s.fresh.0;
    for i in 0..b {
        let window = &frame[i * h..i * h + w];
        fresh_rows_into(window, s.windows == 0, p, f);
        let a = aggregates(f, p, &mut s.agg);
        let q = quantiles(f, p, &mut s.quantiles);
        let flag = alert(&q, p, &mut s.alert);
        rows.push(row(window, f, &a, &q, &flag));
        s.windows += 1;
    }
    RowBatch { rows }
}

pipeline! {
    /// The logs rollup for small hops: frames of `B` windows, one [`batch`] stage (see the
    /// [module docs](self)). `Config::window`/`hop` are the frame's ([`frame_shape`]);
    /// [`LogsParams::window`]/`hop` the inner windows'.
    pub struct BatchPipeline {
        sample: Record,
        params: LogsParams,
        stages: [batch],
        output: batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_completes_the_last_frame() {
        for (rows, w, h) in [
            (10u64, 3usize, 1usize),
            (5000, 1000, 1),
            (100, 7, 3),
            (9000, 100, 2),
        ] {
            let pad = padding(rows, w, h);
            let (fw, fh) = frame_shape(w, h);
            let b = windows_per_frame(h) as u64;
            let total = rows + pad;
            let frames = (total - fw as u64) / fh as u64 + 1;
            let windows = (rows - w as u64) / h as u64 + 1;
            assert!(frames * b >= windows, "{rows} {w} {h}");
            assert!(
                (frames - 1) * b < windows,
                "{rows} {w} {h}: a frame of padding only"
            );
        }
        assert_eq!(padding(2, 3, 1), 0);
    }
}
