//! Running the logs pipeline over an input in a [`Mode`], with a report.
//!
//! - `sqrt`: the input is streamed ([`Reader`] chunks pushed with
//!   [`Pipeline::push_samples`] and pulled with [`Pipeline::pull_with`]); memory is bounded by
//!   the window, the chunk and the engine's LRU and checkpoint budgets, whatever the length.
//! - `classic`: the input is read whole into memory first and evaluated by the classic
//!   executor (every stage's column materialised): the baseline.
//! - `auto`: classic when the materialised input (24 bytes a row) fits in 0.6 × the
//!   last-level cache and in the RAM budget, else sqrt; the report says which and why.

use crate::batch::{self, BatchPipeline, RowBatch, BATCH_MAX_HOP};
use crate::error::LogsError;
use crate::input::{InputCounts, InputSpec, Reader};
use crate::pipeline::{
    aggregates, alert, fresh_rows, quantiles, row, AggState, AlertState, LogsParams, LogsPipeline,
    NaivePipeline, QuantileState, Record, Row, RowCounts,
};
use crate::time::{emit, in_time_order, time_row, TimeCounts, TimePipeline, TimeWindows};
use sqrtspace::metrics::Measured;
use sqrtspace::plan::human;
use sqrtspace::{Config, Machine, Meter, Mode, Pipeline};
use std::fmt;

/// Which pipeline computes the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Engine {
    /// [`LogsPipeline`]: incremental aggregates and quantiles across hops.
    #[default]
    Incremental,
    /// [`NaivePipeline`]: every window from its whole frame (`select_nth_unstable`).
    Naive,
    /// The incremental stage functions called by hand in one loop over a streamed buffer,
    /// without the engine ([`fused`]): what the engine's sqrt mode should cost, the
    /// baseline of its overhead. Ignores the mode.
    Fused,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Incremental => "incremental",
            Engine::Naive => "naive",
            Engine::Fused => "fused",
        })
    }
}

/// A logs rollup to run: input, windows, parameters, mode.
#[derive(Debug, Clone)]
pub struct LogsJob {
    /// The input.
    pub input: InputSpec,
    /// Parameters (window and hop included).
    pub params: LogsParams,
    /// Executor mode.
    pub mode: Mode,
    /// Which pipeline.
    pub engine: Engine,
    /// RAM the planner may assume (bytes); `None`: available memory.
    pub ram_budget: Option<u64>,
    /// Windows by time instead of by row count (`--every/--period`, see [`crate::time`]);
    /// `params.window`/`hop` are then unused and `engine` is ignored.
    pub time: Option<TimeWindows>,
    /// Most threads the engine may use (`Config::max_workers`, at least 1): the pure stage
    /// [`fresh`](crate::pipeline::fresh) (filtering, per-piece summaries, sorting the hop's
    /// keys: most of the work) is computed ahead in parallel where the planner finds it pays;
    /// the stateful stages run in window order on the calling thread. Rows are bit-identical
    /// for every count (tested).
    pub workers: usize,
    /// Use exactly [`workers`](Self::workers) threads wherever the engine runs (batches of
    /// [`FORCED_BATCH`] windows), bypassing the planner's estimate of whether it pays: for
    /// tests and benches of the parallel path.
    pub force_workers: bool,
}

/// Windows per batch computed ahead when [`LogsJob::force_workers`] is set.
pub const FORCED_BATCH: u64 = 64;

/// Applies [`LogsJob::force_workers`] to a pipeline.
fn force<G: sqrtspace::exec::Graph>(pl: &mut Pipeline<G>, workers: usize, on: bool) {
    if on {
        pl.force_workers(Some((workers.max(1), FORCED_BATCH)));
    }
}

/// What a run did: modes, counts, timings.
#[derive(Debug, Clone)]
pub struct LogsRun {
    /// Mode asked for.
    pub requested: Mode,
    /// Mode run.
    pub mode: Mode,
    /// Why this mode (auto), or "requested".
    pub reason: String,
    /// Which pipeline.
    pub engine: Engine,
    /// The engine configuration used (for small hops, of frames of [`batch`](Self::batch)
    /// windows: see [`crate::batch`]).
    pub config: Config,
    /// Threads the engine used (1 unless it evaluated the pure prefix in parallel).
    pub workers: usize,
    /// Windows per engine frame: 1, or more for hops below [`BATCH_MAX_HOP`] with the
    /// incremental pipeline ([`BatchPipeline`]).
    pub batch: usize,
    /// What the reader read and skipped.
    pub input: InputCounts,
    /// Counts over the rows the windows cover (sum of every window's new rows).
    pub rows: RowCounts,
    /// Windows (output rows).
    pub windows: u64,
    /// Rows after the last complete window (no window covers them).
    pub tail_rows: u64,
    /// Times the alert was raised.
    pub alerts_raised: u64,
    /// Windows with the alert active.
    pub alert_windows: u64,
    /// Order-sensitive digest of every row's exact bits (modes of one pipeline must agree).
    pub digest: u64,
    /// The digest without mean and std: the incremental and the naive pipelines must agree.
    pub exact_digest: u64,
    /// Time, CPU, peak RSS.
    pub measured: Measured,
    /// The time windows, when the run was by time.
    pub time: Option<TimeWindows>,
    /// Rows skipped for time order and windows without rows (time windows only).
    pub time_counts: TimeCounts,
}

/// Engine configuration for window `w` and hop `h` rows in `mode`: small LRU and checkpoint
/// budgets and an input buffer of about `W + 64 Ki` rows, so that sqrt mode's memory stays
/// in a few MiB beside the window.
#[must_use]
pub fn config_for(w: usize, h: usize, mode: Mode) -> Config {
    let blocks = (w + CHUNK).div_ceil(w.max(1)).max(2);
    let mut c = Config::default()
        .with_window(w)
        .with_hop(h)
        .with_mode(mode)
        .with_lru_bytes(2 << 20)
        .with_checkpoint_bytes(8 << 20);
    c.input_buffer_blocks = blocks;
    c
}

/// Rows per pushed chunk.
const CHUNK: usize = 1 << 14;

#[derive(Default)]
struct Tally {
    rows: RowCounts,
    windows: u64,
    raised: u64,
    active: u64,
    hash: u64,
    exact: u64,
}

impl Tally {
    fn new() -> Self {
        Tally {
            hash: 0xcbf2_9ce4_8422_2325,
            exact: 0xcbf2_9ce4_8422_2325,
            ..Tally::default()
        }
    }
    fn add(&mut self, t: u64, r: &Row) {
        self.rows.add(&r.new_rows);
        self.windows += 1;
        self.raised += u64::from(r.alert.active && r.alert.changed);
        self.active += u64::from(r.alert.active);
        // Four interleaved multiply-xor-rotate lanes over the row's words (position-dependent,
        // so order-sensitive within the row), finished by splitmix64's mix and chained across
        // rows (equal digests over equal window counts mean bit-identical rows up to a ~2^-64
        // collision). The exact digest leaves out mean and std (`to_bits` words 3 and 4),
        // whose rounding depends on the pipeline's summation order; the full one mixes them in.
        let b = r.to_bits();
        let words = [
            t, b[0], b[1], b[2], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
            b[15],
        ];
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let (mut l0, mut l1, mut l2, mut l3) = (1u64, 2u64, 3u64, 4u64);
        for w in words.chunks(4) {
            l0 = (l0 ^ w[0]).wrapping_mul(K).rotate_left(29);
            if let Some(&x) = w.get(1) {
                l1 = (l1 ^ x).wrapping_mul(K).rotate_left(29);
            }
            if let Some(&x) = w.get(2) {
                l2 = (l2 ^ x).wrapping_mul(K).rotate_left(29);
            }
            if let Some(&x) = w.get(3) {
                l3 = (l3 ^ x).wrapping_mul(K).rotate_left(29);
            }
        }
        // Lanes and the two inexact words combined by rotations (independent, so they overlap),
        // then one mix each.
        let exact = mix(l0 ^ l1.rotate_left(16) ^ l2.rotate_left(32) ^ l3.rotate_left(48));
        let full = exact ^ mix(b[3].wrapping_mul(K) ^ b[4].rotate_left(32));
        self.hash = mix(self.hash ^ full);
        self.exact = mix(self.exact ^ exact);
    }
}

/// splitmix64's finalizer (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", 2014): a bijective 64-bit mix.
#[inline]
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Streams `reader` through `p`, handing rows to `sink`.
fn stream<G>(
    p: &mut Pipeline<G>,
    reader: &mut Reader,
    sink: &mut dyn FnMut(u64, Row) -> std::io::Result<()>,
) -> Result<u64, LogsError>
where
    G: sqrtspace::exec::Graph<Sample = Record, Output = Row>,
{
    let mut tail = 0;
    stream_into(p, reader, sink, &mut |_| Vec::new(), &mut tail)?;
    Ok(tail)
}

/// Streams `reader` through `p`, handing outputs to `sink`; at the end of the input, pushes
/// `pad(rows read)` more rows before closing. Sets `tail` to the rows after the last engine
/// window, padding included; returns the rows read.
fn stream_into<G, O>(
    p: &mut Pipeline<G>,
    reader: &mut Reader,
    sink: &mut dyn FnMut(u64, O) -> std::io::Result<()>,
    pad: &mut dyn FnMut(u64) -> Vec<Record>,
    tail: &mut u64,
) -> Result<u64, LogsError>
where
    G: sqrtspace::exec::Graph<Sample = Record, Output = O>,
{
    let mut rows = 0u64;
    let c = p.config();
    let chunk = (c.input_buffer_blocks * c.window - (c.window - 1)).clamp(1, CHUNK);
    let mut buf = Vec::with_capacity(chunk);
    let mut padded = false;
    loop {
        if padded {
            break;
        }
        if !reader.next_chunk(&mut buf, chunk)? {
            padded = true;
            buf = pad(rows);
            if buf.is_empty() {
                break;
            }
        } else {
            rows += buf.len() as u64;
        }
        for part in buf.chunks(chunk) {
            match p.push_samples(part) {
                Err(sqrtspace::Error::Backpressure { .. }) => {
                    p.pull_with(u64::MAX, &mut *sink)?;
                    p.push_samples(part)?;
                }
                other => other?,
            }
            p.pull_with(u64::MAX, &mut *sink)?;
        }
    }
    p.pull_with(u64::MAX, &mut *sink)?;
    *tail = p.close().tail_samples;
    Ok(rows)
}

/// Runs [`BatchPipeline`] over `reader` (sqrt: streamed; classic: read whole first), handing
/// each inner window's row to `sink`; returns the rows after the last window.
fn run_batched(
    mode: Mode,
    config: &Config,
    p: &LogsParams,
    reader: &mut Reader,
    sink: &mut dyn FnMut(u64, Row) -> std::io::Result<()>,
    forced: (usize, bool),
    workers: &mut usize,
) -> Result<u64, LogsError> {
    let (w, h) = (p.window, p.hop);
    let b = batch::windows_per_frame(h) as u64;
    // Windows at or past `limit` end in padding (known once the input has ended).
    let limit = std::cell::Cell::new(u64::MAX);
    // A failing sink stops the engine at the frame; the error names the inner window.
    let mut failed: Option<(u64, std::io::Error)> = None;
    let mut each = |j: u64, out: RowBatch| -> std::io::Result<()> {
        for (i, r) in out.rows.into_iter().enumerate() {
            let t = j * b + i as u64;
            if t >= limit.get() {
                break;
            }
            if let Err(e) = sink(t, r) {
                failed = Some((t, e));
                return Err(std::io::Error::other("the sink failed"));
            }
        }
        Ok(())
    };
    let windows = |rows: u64| {
        if rows < w as u64 {
            0
        } else {
            (rows - w as u64) / h as u64 + 1
        }
    };
    let run = (|| -> Result<u64, LogsError> {
        Ok(if mode == Mode::Classic {
            let mut signal = read_all(reader)?;
            let rows = signal.len() as u64;
            limit.set(windows(rows));
            let pad = batch::padding(rows, w, h);
            signal.extend(std::iter::repeat_n(batch::PAD, pad as usize));
            let mut pl = BatchPipeline::new(config.clone(), p.clone())?;
            force(&mut pl, forced.0, forced.1);
            let frames = pl.config().windows_in(signal.len() as u64);
            if frames > 0 {
                pl.evaluate_with::<crate::batch::batch>(&signal, 0..frames, &mut each)?;
            }
            *workers = pl.workers_used();
            rows
        } else {
            let mut pl = BatchPipeline::new(config.clone(), p.clone())?;
            force(&mut pl, forced.0, forced.1);
            let mut tail = 0;
            let rows = stream_into(
                &mut pl,
                reader,
                &mut each,
                &mut |rows| {
                    limit.set(windows(rows));
                    vec![batch::PAD; batch::padding(rows, w, h) as usize]
                },
                &mut tail,
            )?;
            *workers = pl.workers_used();
            rows
        })
    })();
    let rows = match (run, failed) {
        (_, Some((window, source))) => {
            return Err(sqrtspace::Error::Sink {
                window,
                source: Box::new(source),
            }
            .into())
        }
        (run, None) => run?,
    };
    let t = windows(rows);
    let covered = if t == 0 {
        0
    } else {
        (t - 1) * h as u64 + w as u64
    };
    Ok(rows - covered)
}

/// The incremental pipeline's stage functions called by hand, window by window, over a
/// buffer of the streamed rows (no engine: no LRU, no checkpoints, no recomputation): the
/// same rows as [`LogsPipeline`], bit for bit. Returns the rows after the last window.
///
/// # Errors
/// The reader's errors.
pub fn fused(
    reader: &mut Reader,
    p: &LogsParams,
    sink: &mut dyn FnMut(u64, Row) -> std::io::Result<()>,
) -> Result<u64, LogsError> {
    let (w, h) = (p.window as u64, p.hop as u64);
    let mut buf: Vec<Record> = Vec::new();
    let mut chunk = Vec::with_capacity(CHUNK);
    let (mut first, mut total, mut t) = (0u64, 0u64, 0u64);
    let mut agg = AggState::default();
    let mut qs = QuantileState::default();
    let mut al = AlertState::default();
    loop {
        let more = reader.next_chunk(&mut chunk, CHUNK)?;
        buf.extend_from_slice(&chunk);
        total += chunk.len() as u64;
        while t * h + w <= total {
            let s = usize::try_from(t * h - first).unwrap_or(usize::MAX);
            let frame = &buf[s..s + p.window];
            let f = fresh_rows(frame, t == 0, p);
            let a = aggregates(&f, p, &mut agg);
            let q = quantiles(&f, p, &mut qs);
            let flag = alert(&q, p, &mut al);
            sink(t, row(frame, &f, &a, &q, &flag)).map_err(|source| sqrtspace::Error::Sink {
                window: t,
                source: Box::new(source),
            })?;
            t += 1;
        }
        let dead = usize::try_from(t * h - first)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if dead > 0 && dead >= buf.len() / 2 {
            buf.drain(..dead);
            first += dead as u64;
        }
        if !more {
            break;
        }
    }
    let covered = if t == 0 { 0 } else { (t - 1) * h + w };
    Ok(total - covered)
}

/// Reads the whole input into memory (classic mode's materialised signal).
/// Growth of the materialised input is fallible: a failed allocation is
/// [`LogsError::OutOfMemory`], not an abort.
fn read_all(reader: &mut Reader) -> Result<Vec<Record>, LogsError> {
    let mut all: Vec<Record> = Vec::new();
    let mut buf = Vec::with_capacity(CHUNK);
    while reader.next_chunk(&mut buf, CHUNK)? {
        if all.try_reserve(buf.len()).is_err() {
            let rows = (all.len() + buf.len()) as u64;
            return Err(LogsError::OutOfMemory {
                bytes: rows * CLASSIC_BYTES_PER_ROW,
                rows,
                budget: None,
            });
        }
        all.extend_from_slice(&buf);
    }
    Ok(all)
}

/// Bytes per input row that classic mode holds, estimated: the materialised [`Record`]
/// (24 bytes) and the `fresh` column's values and keys (16 bytes) for hop-aligned windows
/// (each row is new to one window); output rows come on top (128 bytes a window).
pub const CLASSIC_BYTES_PER_ROW: u64 = 40;

/// Classic mode's estimated memory for `rows` input rows and `windows` windows.
#[must_use]
pub fn classic_bytes(rows: u64, windows: u64) -> u64 {
    rows.saturating_mul(CLASSIC_BYTES_PER_ROW)
        .saturating_add(windows.saturating_mul(std::mem::size_of::<Row>() as u64))
}

macro_rules! classic {
    ($pipe:ty, $out:ident, $config:expr, $params:expr, $signal:expr, $sink:expr, $force:expr) => {{
        let mut p = <$pipe>::new($config, $params)?;
        force(&mut p, $force.0, $force.1);
        let windows = p.config().windows_in($signal.len() as u64);
        if windows > 0 {
            p.evaluate_with::<crate::pipeline::$out>($signal, 0..windows, |t, o| $sink(t, o))?;
        }
        let covered = if windows == 0 {
            0
        } else {
            (windows - 1) * p.config().hop as u64 + p.config().window as u64
        };
        ($signal.len() as u64 - covered, p.workers_used())
    }};
}

impl LogsJob {
    /// A job over `input` with `params` in `mode`, incremental pipeline.
    #[must_use]
    pub fn new(input: InputSpec, params: LogsParams, mode: Mode) -> Self {
        LogsJob {
            input,
            params,
            mode,
            engine: Engine::Incremental,
            ram_budget: None,
            time: None,
            workers: 1,
            force_workers: false,
        }
    }

    /// The mode `auto` resolves to, and why.
    #[must_use]
    pub fn choose(&self) -> (Mode, String) {
        match self.mode {
            Mode::Classic | Mode::Sqrt => (self.mode, "requested".into()),
            Mode::Auto => {
                let m = Machine::probe();
                let ram = self.ram_budget.unwrap_or(m.ram_available);
                let Some(rows) = self
                    .input
                    .known_rows()
                    .or_else(|| self.input.bytes().map(|b| b / 16))
                else {
                    return (Mode::Sqrt, "input size unknown: streaming".into());
                };
                let bytes = rows * std::mem::size_of::<Record>() as u64;
                let llc = m.llc_bytes * 6 / 10;
                if bytes <= llc && bytes <= ram / 2 {
                    (
                        Mode::Classic,
                        format!(
                            "the materialised input (~{}) fits in 0.6 x LLC ({}): classic is fastest",
                            human(bytes),
                            human(llc)
                        ),
                    )
                } else {
                    (
                        Mode::Sqrt,
                        format!(
                            "materialising the input (~{}) exceeds 0.6 x LLC ({}){}: sqrt streams it in bounded memory",
                            human(bytes),
                            human(llc),
                            if bytes > ram / 2 {
                                format!(" and half the RAM budget ({})", human(ram / 2))
                            } else {
                                String::new()
                            }
                        ),
                    )
                }
            }
        }
    }

    /// Runs the job, handing each window's row to `sink(t, row)` in window order. A sink that
    /// fails (a writer's `Err`) stops the run at that window.
    ///
    /// # Errors
    /// Input errors ([`LogsError`]), an invalid window/hop ([`LogsError::Engine`]);
    /// [`LogsError::Engine`]`(`[`sqrtspace::Error::Sink`]`)` with the sink's `io::Error` as its
    /// source when the sink fails.
    pub fn run(
        &self,
        sink: &mut dyn FnMut(u64, &Row) -> std::io::Result<()>,
    ) -> Result<LogsRun, LogsError> {
        if let Some(tw) = self.time {
            return self.run_time(tw, sink);
        }
        let p = &self.params;
        if p.window == 0 || p.hop == 0 || p.hop > p.window {
            return Err(LogsError::Argument(format!(
                "--win {} --hop {}: use 1 <= hop <= win (rows)",
                p.window, p.hop
            )));
        }
        let (mode, reason) = self.choose();
        let batched = self.engine == Engine::Incremental && p.hop < BATCH_MAX_HOP;
        let (config, batch) = if batched {
            let (fw, fh) = batch::frame_shape(p.window, p.hop);
            (config_for(fw, fh, mode), batch::windows_per_frame(p.hop))
        } else {
            (config_for(p.window, p.hop, mode), 1)
        };
        let config = config.with_max_workers(self.workers.max(1));
        let forced = (self.workers, self.force_workers);
        let mut workers = 1;
        if mode == Mode::Classic && self.engine != Engine::Fused {
            // Fail before reading anything when the input's size is known and classic would
            // not fit the RAM budget.
            if let (Some(rows), Some(budget)) = (self.input.known_rows(), self.ram_budget) {
                let windows = if rows < p.window as u64 {
                    0
                } else {
                    (rows - p.window as u64) / p.hop as u64 + 1
                };
                let bytes = classic_bytes(rows, windows);
                if bytes > budget {
                    return Err(LogsError::OutOfMemory {
                        bytes,
                        rows,
                        budget: Some(budget),
                    });
                }
            }
        }
        let meter = Meter::start();
        let mut reader = Reader::open(&self.input)?;
        let mut tally = Tally::new();
        let mut each = |t: u64, r: Row| {
            tally.add(t, &r);
            sink(t, &r)
        };
        let tail = match mode {
            _ if self.engine == Engine::Fused => fused(&mut reader, p, &mut each)?,
            _ if batched => run_batched(
                mode,
                &config,
                p,
                &mut reader,
                &mut each,
                forced,
                &mut workers,
            )?,
            Mode::Classic => {
                let signal = read_all(&mut reader)?;
                let (tail, used) = match self.engine {
                    Engine::Incremental => {
                        classic!(
                            LogsPipeline,
                            row,
                            config.clone(),
                            p.clone(),
                            &signal,
                            each,
                            forced
                        )
                    }
                    Engine::Naive | Engine::Fused => classic!(
                        NaivePipeline,
                        naive_row,
                        config.clone(),
                        p.clone(),
                        &signal,
                        each,
                        forced
                    ),
                };
                workers = used;
                tail
            }
            _ => match self.engine {
                Engine::Incremental => {
                    let mut pl = LogsPipeline::new(config.clone(), p.clone())?;
                    force(&mut pl, forced.0, forced.1);
                    let tail = stream(&mut pl, &mut reader, &mut each)?;
                    workers = pl.workers_used();
                    tail
                }
                Engine::Naive | Engine::Fused => {
                    let mut pl = NaivePipeline::new(config.clone(), p.clone())?;
                    force(&mut pl, forced.0, forced.1);
                    let tail = stream(&mut pl, &mut reader, &mut each)?;
                    workers = pl.workers_used();
                    tail
                }
            },
        };
        let measured = meter.stop();
        Ok(LogsRun {
            requested: self.mode,
            mode,
            reason,
            engine: self.engine,
            config,
            workers,
            batch,
            input: reader.counts(),
            rows: tally.rows,
            windows: tally.windows,
            tail_rows: tail,
            alerts_raised: tally.raised,
            alert_windows: tally.active,
            digest: tally.hash,
            exact_digest: tally.exact,
            measured,
            time: None,
            time_counts: TimeCounts::default(),
        })
    }

    /// [`run`](Self::run) by time windows ([`crate::time`]): classic reads the input whole
    /// and evaluates it with `over_keyed`; sqrt streams it with `stream_keyed`.
    fn run_time(
        &self,
        tw: TimeWindows,
        sink: &mut dyn FnMut(u64, &Row) -> std::io::Result<()>,
    ) -> Result<LogsRun, LogsError> {
        let (mode, reason) = self.choose();
        let mut config = Config::default()
            .with_window(1)
            .with_key_windows(tw.every, tw.period)
            .with_mode(mode)
            .with_lru_bytes(2 << 20)
            .with_checkpoint_bytes(8 << 20)
            .with_max_workers(self.workers.max(1));
        config.input_buffer_blocks = TIME_BUFFER_ROWS;
        let meter = Meter::start();
        let mut reader = Reader::open(&self.input)?;
        let mut tally = Tally::new();
        let mut counts = TimeCounts::default();
        let mut latest = None;
        let mut each = |t: u64, r: Row| {
            tally.add(t, &r);
            sink(t, &r)
        };
        let mut pl = TimePipeline::new(config.clone(), self.params.clone())?;
        force(&mut pl, self.workers, self.force_workers);
        let result = if mode == Mode::Classic {
            let mut signal = read_all(&mut reader)?;
            let keys = in_time_order(&mut signal, &mut latest, &mut counts);
            let origin = keys.first().map_or(0, |&k| first_origin(tw, k));
            let windows = keys.last().map_or(0, |&last| {
                let kw = config.key_windows.unwrap_or(sqrtspace::KeyWindows {
                    every: tw.every,
                    period: tw.period,
                });
                kw.all_windows(kw.origin(keys[0]), last)
            });
            if windows > 0 {
                let mut s = pl.over_keyed(&signal, &keys)?;
                s.evaluate_with::<time_row>(0..windows, |t, o| {
                    emit(tw, origin, t, o, &mut counts, &mut each)
                })
            } else {
                Ok(())
            }
        } else {
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut failed = None;
            let mut skipped = TimeCounts::default();
            let start = std::cell::Cell::new(None);
            let chunks = std::iter::from_fn(|| match reader.next_chunk(&mut chunk, CHUNK) {
                Ok(false) if chunk.is_empty() => None,
                Ok(_) => {
                    let mut rows = std::mem::take(&mut chunk);
                    let keys = in_time_order(&mut rows, &mut latest, &mut skipped);
                    if let (None, Some(&k)) = (start.get(), keys.first()) {
                        start.set(Some(first_origin(tw, k)));
                    }
                    Some(Ok((keys, rows)))
                }
                Err(e) => {
                    failed = Some(e);
                    None
                }
            });
            let r = pl.stream_keyed(chunks, |t, o| {
                emit(tw, start.get().unwrap_or(0), t, o, &mut counts, &mut each)
            });
            counts.backwards_skipped = skipped.backwards_skipped;
            if let Some(e) = failed {
                return Err(e);
            }
            r.map(|_| ())
        };
        result.map_err(|e| match e {
            sqrtspace::Error::FrameTooLarge { window, held, .. } => LogsError::Argument(format!(
                "time window {window} holds more than {held} rows, the time-window buffer: shorten --period"
            )),
            e => LogsError::Engine(e),
        })?;
        let measured = meter.stop();
        Ok(LogsRun {
            requested: self.mode,
            mode,
            reason,
            engine: Engine::Naive,
            config,
            workers: pl.workers_used(),
            batch: 1,
            input: reader.counts(),
            rows: tally.rows,
            windows: tally.windows,
            tail_rows: 0,
            alerts_raised: tally.raised,
            alert_windows: tally.active,
            digest: tally.hash,
            exact_digest: tally.exact,
            measured,
            time: Some(tw),
            time_counts: counts,
        })
    }
}

/// The most rows one time window may hold in the streamed input buffer (24 bytes each).
const TIME_BUFFER_ROWS: usize = 1 << 22;

/// The start of window 0 for a first timestamp `k`.
fn first_origin(tw: TimeWindows, k: i64) -> i64 {
    k - k.rem_euclid(tw.every)
}

impl fmt::Display for LogsRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        if let Some(tw) = self.time {
            writeln!(
                f,
                "Mode: {} ({})   Pipeline: per time window   Every: {} s   Period: {} s   Workers: {}   Rows skipped for time order: {}   Windows without rows (not written): {}",
                self.mode,
                if self.requested == Mode::Auto {
                    format!("auto: {}", self.reason)
                } else {
                    "requested".into()
                },
                tw.every,
                tw.period,
                self.workers,
                self.time_counts.backwards_skipped,
                self.time_counts.empty_windows
            )?;
        } else {
            // Inner windows: the engine's frames hold `batch` of them (see crate::batch).
            let b = self.batch.max(1);
            let hop = c.hop / b;
            let window = c.window - (b - 1) * hop;
            writeln!(
                f,
                "Mode: {} ({})   Pipeline: {}{}   Window: {} rows   Hop: {} rows   Workers: {}",
                self.mode,
                if self.requested == Mode::Auto {
                    format!("auto: {}", self.reason)
                } else {
                    "requested".into()
                },
                self.engine,
                if b > 1 {
                    format!(" (engine frames of {b} windows)")
                } else {
                    String::new()
                },
                window,
                hop,
                self.workers
            )?;
        }
        let i = &self.input;
        writeln!(
            f,
            "Rows read: {}   skipped: {} bad value, {} bad timestamp, {} unmatched line   timestamps backwards: {}",
            i.rows, i.bad_value, i.bad_timestamp, i.no_match, i.backwards
        )?;
        let r = &self.rows;
        writeln!(
            f,
            "In windows: {} rows, {} kept, {} filtered out, {} NaN   after the last window: {} rows   keys: {} ({} passing)",
            r.rows, r.kept, r.filtered, r.nan, self.tail_rows, i.keys, i.keys_passing
        )?;
        writeln!(
            f,
            "Windows: {}   Alerts raised: {}   Windows alerting: {}   Digest: {:016x}",
            self.windows, self.alerts_raised, self.alert_windows, self.digest
        )?;
        let m = &self.measured;
        write!(
            f,
            "Time: {:.3} s   CPU: {:.3} s   Peak RSS: {}   Rows/s: {:.1} M",
            m.wall.as_secs_f64(),
            m.cpu.as_secs_f64(),
            human(m.peak_rss),
            i.rows as f64 / m.wall.as_secs_f64().max(1e-9) / 1e6
        )
    }
}
