//! Running the logs pipeline over an input in a [`Mode`], with a report.
//!
//! - `sqrt`: the input is streamed ([`Reader`] chunks pushed with
//!   [`Pipeline::push_samples`] and pulled with [`Pipeline::pull_with`]); memory is bounded by
//!   the window, the chunk and the engine's LRU and checkpoint budgets, whatever the length.
//! - `classic`: the input is read whole into memory first and evaluated by the classic
//!   executor (every stage's column materialised): the baseline.
//! - `auto`: classic when the materialised input (24 bytes a row) fits in 0.6 × the
//!   last-level cache and in the RAM budget, else sqrt; the report says which and why.

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
    /// The engine configuration used.
    pub config: Config,
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
        // FNV-1a over 64-bit words (order-sensitive; equal digests over equal window counts
        // mean bit-identical rows up to a 2^-64 collision).
        let mut h = self.hash;
        let mut e = self.exact;
        let bits = r.to_bits();
        for (i, w) in std::iter::once(t).chain(bits).enumerate() {
            h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
            h ^= h >> 29;
            // The exact digest leaves out mean and std (words 4 and 5 here), whose rounding
            // depends on the summation order of the pipeline.
            if i != 4 && i != 5 {
                e = (e ^ w).wrapping_mul(0x0000_0100_0000_01b3);
                e ^= e >> 29;
            }
        }
        self.exact = e;
        self.hash = h;
    }
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
    let c = p.config();
    let chunk = (c.input_buffer_blocks * c.window - (c.window - 1)).clamp(1, CHUNK);
    let mut buf = Vec::with_capacity(chunk);
    while reader.next_chunk(&mut buf, chunk)? {
        match p.push_samples(&buf) {
            Err(sqrtspace::Error::Backpressure { .. }) => {
                p.pull_with(u64::MAX, &mut *sink)?;
                p.push_samples(&buf)?;
            }
            other => other?,
        }
        p.pull_with(u64::MAX, &mut *sink)?;
    }
    p.pull_with(u64::MAX, &mut *sink)?;
    Ok(p.close().tail_samples)
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
fn read_all(reader: &mut Reader) -> Result<Vec<Record>, LogsError> {
    let mut all = Vec::new();
    let mut buf = Vec::with_capacity(CHUNK);
    while reader.next_chunk(&mut buf, CHUNK)? {
        all.extend_from_slice(&buf);
    }
    Ok(all)
}

macro_rules! classic {
    ($pipe:ty, $out:ident, $config:expr, $params:expr, $signal:expr, $sink:expr) => {{
        let mut p = <$pipe>::new($config, $params)?;
        let windows = p.config().windows_in($signal.len() as u64);
        if windows > 0 {
            p.evaluate_with::<crate::pipeline::$out>($signal, 0..windows, |t, o| $sink(t, o))?;
        }
        let covered = if windows == 0 {
            0
        } else {
            (windows - 1) * p.config().hop as u64 + p.config().window as u64
        };
        $signal.len() as u64 - covered
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
        let config = config_for(p.window, p.hop, mode);
        let meter = Meter::start();
        let mut reader = Reader::open(&self.input)?;
        let mut tally = Tally::new();
        let mut each = |t: u64, r: Row| {
            tally.add(t, &r);
            sink(t, &r)
        };
        let tail = match mode {
            _ if self.engine == Engine::Fused => fused(&mut reader, p, &mut each)?,
            Mode::Classic => {
                let signal = read_all(&mut reader)?;
                match self.engine {
                    Engine::Incremental => {
                        classic!(LogsPipeline, row, config.clone(), p.clone(), &signal, each)
                    }
                    Engine::Naive | Engine::Fused => classic!(
                        NaivePipeline,
                        naive_row,
                        config.clone(),
                        p.clone(),
                        &signal,
                        each
                    ),
                }
            }
            _ => match self.engine {
                Engine::Incremental => {
                    let mut pl = LogsPipeline::new(config.clone(), p.clone())?;
                    stream(&mut pl, &mut reader, &mut each)?
                }
                Engine::Naive | Engine::Fused => {
                    let mut pl = NaivePipeline::new(config.clone(), p.clone())?;
                    stream(&mut pl, &mut reader, &mut each)?
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
            .with_checkpoint_bytes(8 << 20);
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
                "Mode: {} ({})   Pipeline: per time window   Every: {} s   Period: {} s   Rows skipped for time order: {}   Windows without rows (not written): {}",
                self.mode,
                if self.requested == Mode::Auto {
                    format!("auto: {}", self.reason)
                } else {
                    "requested".into()
                },
                tw.every,
                tw.period,
                self.time_counts.backwards_skipped,
                self.time_counts.empty_windows
            )?;
        } else {
            writeln!(
                f,
                "Mode: {} ({})   Pipeline: {}   Window: {} rows   Hop: {} rows",
                self.mode,
                if self.requested == Mode::Auto {
                    format!("auto: {}", self.reason)
                } else {
                    "requested".into()
                },
                self.engine,
                c.window,
                c.hop
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
