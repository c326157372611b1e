//! The `sqrtspace demo logs` and `sqrtspace bench logs` subcommands: clap argument structs
//! and the functions that run them. A CLI embeds them as
//!
//! ```ignore
//! #[derive(clap::Subcommand)]
//! enum Demo { Logs(sqrtspace_logs::cli::DemoArgs), /* ... */ }
//! // ...
//! Demo::Logs(args) => sqrtspace_logs::cli::run_demo(&args)?,
//! ```

use crate::error::LogsError;
use crate::input::{Format, InputSpec, Synthetic};
use crate::job::{Engine, LogsJob, LogsRun};
use crate::pipeline::{AlertRule, LogsParams, Row, ValueFilter};
use crate::time::TimeWindows;
use sqrtspace::plan::human;
use sqrtspace::Mode;
use std::io::Write;
use std::path::PathBuf;

/// Where the rows come from (shared by `demo logs` and `bench logs`).
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Input file (default: the shipped extract of real US flight delays,
    /// `apps/logs/assets/flights-100k.csv`, value `delay`, timestamp `date`, key `origin`).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Input format (default: from the file's extension: `.parquet` Parquet, `.arrow`, `.ipc`,
    /// `.feather` Arrow IPC, `.f32`/`.f64` raw; otherwise CSV). Parquet and Arrow need the
    /// `parquet` feature.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV, Parquet, Arrow: the value column (default `delay` for the shipped file, else `value`).
    #[arg(long)]
    pub value: Option<String>,
    /// CSV, Parquet, Arrow: the timestamp column (integer seconds or `YYYY-MM-DD
    /// HH:MM[:SS]`; Parquet/Arrow timestamps and dates too; default `date` for the shipped
    /// file, else none: row indices).
    #[arg(long)]
    pub ts: Option<String>,
    /// CSV, Parquet, Arrow: the key column (default `origin` for the shipped file).
    #[arg(long)]
    pub key: Option<String>,
    /// Keep only rows whose key matches this regex (e.g. `^(ATL|ORD|DFW)$`).
    #[arg(long, value_name = "REGEX")]
    pub key_regex: Option<String>,
    /// Text lines: a regex with a named capture `value`, optional `ts` and `key`
    /// (e.g. `(?P<key>GET|POST) .* (?P<value>[0-9.]+)ms$`).
    #[arg(long, value_name = "REGEX")]
    pub line_regex: Option<String>,
    /// Keep only values >= MIN.
    #[arg(long)]
    pub min: Option<f64>,
    /// Keep only values <= MAX.
    #[arg(long)]
    pub max: Option<f64>,
    /// Errors instead of skipping bad cells, unmatched lines and backward timestamps.
    #[arg(long)]
    pub strict: bool,
    /// Synthetic lognormal latencies instead of a file: this many rows.
    #[arg(long, value_name = "ROWS")]
    pub n: Option<u64>,
    /// Seed of the synthetic rows.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Read the file this many times in a row (timestamps shifted to keep increasing).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
}

/// The rollup's parameters (shared).
#[derive(Debug, Clone, clap::Args)]
pub struct RollupArgs {
    /// Executor mode: auto, classic or sqrt.
    #[arg(long, default_value_t = Mode::Auto)]
    pub mode: Mode,
    /// Which pipeline: incremental (across hops) or naive (each window from its frame).
    #[arg(long, value_enum, default_value_t = Engine::Incremental)]
    pub engine: Engine,
    /// Alert when p99 is above this for `--consecutive` windows (default 120 for the shipped
    /// flight delays in minutes, 100 for synthetic latencies in ms).
    #[arg(long)]
    pub raise: Option<f64>,
    /// Clear the alert when p99 is below this for `--consecutive` windows (default 0.9 x raise).
    #[arg(long)]
    pub clear: Option<f64>,
    /// Windows in a row needed to raise or clear the alert.
    #[arg(long, default_value_t = 3)]
    pub consecutive: u32,
    /// RAM the `auto` planner may assume, in MiB (default: available memory).
    #[arg(long, value_name = "MIB")]
    pub ram_budget: Option<u64>,
    /// Most engine threads: a count, or `auto` (the cores). The pure stage (filter, per-piece
    /// summaries, sorting each hop's keys) is computed ahead on them where the planner finds
    /// it pays; the stateful stages stay in window order. Rows are identical for every count.
    #[arg(long, value_name = "N|auto", default_value = "1", value_parser = parse_workers)]
    pub workers: usize,
}

/// Parses `--workers`: `auto` (the cores) or a count from 1 to 1024.
fn parse_workers(s: &str) -> Result<usize, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(sqrtspace::parallel::cores());
    }
    match s.parse::<usize>() {
        Ok(n @ 1..=1024) => Ok(n),
        _ => Err(format!(
            "`{s}` is not a worker count: use a number from 1 to 1024, or `auto`"
        )),
    }
}

/// `sqrtspace demo logs`: run the rollup once, print the first rows and the report.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Input.
    #[command(flatten)]
    pub input: InputArgs,
    /// Rollup parameters.
    #[command(flatten)]
    pub rollup: RollupArgs,
    /// Rows per window.
    #[arg(long, default_value_t = 1000)]
    pub win: usize,
    /// Rows per hop (1 <= hop <= win).
    #[arg(long, default_value_t = 250)]
    pub hop: usize,
    /// Windows by time over the `--ts` column instead of by rows: a window starts every DUR
    /// (`30s`, `5m`, `1h`, `2d`), from the first timestamp truncated to DUR (Polars'
    /// `group_by_dynamic` defaults). Exclusive with --win/--hop.
    #[arg(long, value_name = "DUR", conflicts_with_all = ["win", "hop"])]
    pub every: Option<String>,
    /// Length of each time window (default: --every; at least --every).
    #[arg(long, value_name = "DUR", requires = "every")]
    pub period: Option<String>,
    /// Write every output row as CSV to this file (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output rows to print.
    #[arg(long, default_value_t = 5)]
    pub show: usize,
    /// Also run the other executor (classic after sqrt, sqrt after classic) and check that
    /// the rows are bit-identical.
    #[arg(long)]
    pub verify: bool,
}

/// `sqrtspace bench logs`: time the rollup in several configurations.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Input.
    #[command(flatten)]
    pub input: InputArgs,
    /// Rollup parameters (`--mode` and `--engine` are ignored: see `--runs`).
    #[command(flatten)]
    pub rollup: RollupArgs,
    /// Rows per window.
    #[arg(long, default_value_t = 32768)]
    pub win: usize,
    /// Rows per hop.
    #[arg(long, default_value_t = 4096)]
    pub hop: usize,
    /// Runs as MODE:ENGINE or MODE:ENGINE:WORKERS, comma-separated (ENGINE: incremental, naive, or fused: the stage
    /// functions in a hand-written loop without the engine, the overhead baseline).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sqrt:incremental,sqrt:naive,classic:incremental,auto:incremental,sqrt:fused"
    )]
    pub runs: Vec<String>,
    /// Run each configuration in its own process, so that each peak RSS is its own.
    #[arg(long)]
    pub extreme: bool,
    /// Append one CSV line per run to this file (header written when the file is new).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the input's values as raw little-endian f64 to this file and exit (for the
    /// Python comparison, `benches/logs_polars.py`).
    #[arg(long, value_name = "FILE")]
    pub write_raw: Option<PathBuf>,
    /// Internal: run one configuration and print its result line (used by `--extreme`).
    #[arg(long, hide = true)]
    pub child: Option<String>,
}

fn shipped(a: &InputArgs) -> bool {
    a.input.is_none() && a.n.is_none()
}

impl InputArgs {
    /// The input described by these arguments.
    ///
    /// # Errors
    /// [`LogsError::Regex`] for a bad `--key-regex`.
    pub fn spec(&self) -> Result<InputSpec, LogsError> {
        let key_regex = self
            .key_regex
            .as_deref()
            .map(|p| {
                regex::Regex::new(p).map_err(|e| LogsError::Regex {
                    pattern: p.to_string(),
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        let default = shipped(self);
        let pick = |given: &Option<String>, dflt: &str| {
            given.clone().or_else(|| default.then(|| dflt.to_string()))
        };
        Ok(InputSpec {
            path: if self.n.is_some() {
                None
            } else {
                Some(
                    self.input
                        .clone()
                        .unwrap_or_else(|| crate::DEFAULT_INPUT.into()),
                )
            },
            format: self.format.unwrap_or_else(|| {
                self.input
                    .as_deref()
                    .and_then(Format::from_path)
                    .unwrap_or(Format::Csv)
            }),
            value: pick(&self.value, "delay").unwrap_or_else(|| "value".into()),
            ts: pick(&self.ts, "date"),
            key: pick(&self.key, "origin"),
            key_regex,
            line_regex: self.line_regex.clone(),
            strict: self.strict,
            repeat: self.repeat.max(1),
            synthetic: self.n.map(|n| Synthetic::new(n, self.seed)),
        })
    }
}

fn job(input: &InputArgs, r: &RollupArgs, win: usize, hop: usize) -> Result<LogsJob, LogsError> {
    let raise = r
        .raise
        .unwrap_or(if input.n.is_some() { 100.0 } else { 120.0 });
    let clear = r.clear.unwrap_or(0.9 * raise);
    if clear > raise {
        return Err(LogsError::Argument(format!(
            "--clear {clear} is above --raise {raise}: the clear threshold must be at or below the raise threshold"
        )));
    }
    let mut params = LogsParams::new(win, hop, raise);
    params.alert = AlertRule {
        raise,
        clear,
        consecutive: r.consecutive.max(1),
    };
    params.filter = ValueFilter {
        min: input.min,
        max: input.max,
    };
    Ok(LogsJob {
        input: input.spec()?,
        params,
        mode: r.mode,
        engine: r.engine,
        ram_budget: r.ram_budget.map(|m| m << 20),
        time: None,
        workers: r.workers,
        force_workers: false,
    })
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

const ROW_HEADER: &str =
    "window,ts_start,ts_end,count,mean,std,min,max,p50,p95,p99,alert,alert_changed,new_rows,kept,filtered,nan";

fn row_line(t: u64, r: &Row) -> String {
    let o = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    let a = &r.aggregates;
    format!(
        "{t},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.ts_start,
        r.ts_end,
        a.count,
        o(a.mean),
        o(a.std),
        o(a.min),
        o(a.max),
        o(r.quantiles[0]),
        o(r.quantiles[1]),
        o(r.quantiles[2]),
        u8::from(r.alert.active),
        u8::from(r.alert.changed),
        r.new_rows.rows,
        r.new_rows.kept,
        r.new_rows.filtered,
        r.new_rows.nan
    )
}

fn write_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> LogsError + '_ {
    move |source| LogsError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs `sqrtspace demo logs`: prints where the input comes from, the first `--show` rows,
/// the windows where the alert changed (up to 10) and the report.
///
/// # Errors
/// Input errors, bad arguments, write errors, or [`LogsError::Mismatch`] when `--verify`
/// finds differing rows.
pub fn run_demo(args: &DemoArgs) -> Result<(), LogsError> {
    let mut job = job(&args.input, &args.rollup, args.win, args.hop)?;
    if let Some(every) = &args.every {
        if job.input.format == crate::input::Format::Csv
            && job.input.ts.is_none()
            && job.input.synthetic.is_none()
        {
            return Err(LogsError::Argument(
                "--every needs a timestamp column: name it with --ts".into(),
            ));
        }
        job.time = Some(TimeWindows::parse(every, args.period.as_deref())?);
    }
    let source = match (&job.input.synthetic, &job.input.path) {
        (Some(s), _) => format!("{} synthetic lognormal latencies (seed {})", s.n, s.seed),
        (None, Some(p)) => format!("{}", p.display()),
        (None, None) => String::new(),
    };
    println!(
        "Input: {source}   value `{}`{}{}",
        job.input.value,
        job.input
            .ts
            .as_deref()
            .map_or(String::new(), |t| format!("   ts `{t}`")),
        job.input
            .key
            .as_deref()
            .map_or(String::new(), |k| format!("   key `{k}`"))
    );
    let windows = match job.time {
        Some(tw) => format!(
            "Windows of {} s every {} s by timestamp (rows of windows without rows are not written)",
            tw.period, tw.every
        ),
        None => format!("Windows of {} rows every {} rows", args.win, args.hop),
    };
    println!(
        "{windows}; p50/p95/p99 by NumPy's nearest rank; alert when p99 > {} for {} windows, cleared below {}",
        job.params.alert.raise, job.params.alert.consecutive, job.params.alert.clear
    );
    let mut out: Option<Box<dyn Write>> = match &args.out {
        None => None,
        Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout().lock())),
        Some(p) => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(write_err(p))?,
        ))),
    };
    let out_path = args.out.clone().unwrap_or_default();
    if let Some(w) = out.as_mut() {
        writeln!(w, "{ROW_HEADER}").map_err(write_err(&out_path))?;
    }
    let mut shown = Vec::new();
    let mut changes = Vec::new();
    let run = job
        .run(&mut |t, r| {
            if shown.len() < args.show {
                shown.push((t, *r));
            }
            if r.alert.changed && changes.len() < 10 {
                changes.push((t, *r));
            }
            match out.as_mut() {
                Some(w) => writeln!(w, "{}", row_line(t, r)),
                None => Ok(()),
            }
        })
        // A failed write stopped the run at its window: report it as the write error it is.
        .map_err(|e| match e {
            LogsError::Engine(sqrtspace::Error::Sink { window, source }) => {
                match source.downcast::<std::io::Error>() {
                    Ok(io) => write_err(&out_path)(*io),
                    Err(source) => LogsError::Engine(sqrtspace::Error::Sink { window, source }),
                }
            }
            e => e,
        })?;
    if let Some(mut w) = out {
        w.flush().map_err(write_err(&out_path))?;
    }
    if args.out.as_deref().is_some_and(|p| p.as_os_str() == "-") {
        return Ok(());
    }
    let dates = job.input.ts.is_some();
    println!();
    println!(
        "{:>7} {:>19} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5}",
        "window", "start", "count", "mean", "std", "min", "max", "p50", "p95", "p99", "alert"
    );
    for (t, r) in shown.iter().chain(&changes) {
        let a = &r.aggregates;
        println!(
            "{t:>7} {:>19} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>5}",
            if dates {
                crate::input::format_timestamp(r.ts_start)
            } else {
                format!("row {}", r.ts_start)
            },
            a.count,
            fmt_opt(a.mean),
            fmt_opt(a.std),
            fmt_opt(a.min),
            fmt_opt(a.max),
            fmt_opt(r.quantiles[0]),
            fmt_opt(r.quantiles[1]),
            fmt_opt(r.quantiles[2]),
            match (r.alert.active, r.alert.changed) {
                (true, true) => "RAISE",
                (false, true) => "clear",
                (true, false) => "on",
                (false, false) => "",
            }
        );
    }
    println!();
    println!("{run}");
    if args.verify {
        let other = if run.mode == Mode::Classic {
            Mode::Sqrt
        } else {
            Mode::Classic
        };
        let check = LogsJob {
            mode: other,
            ..job.clone()
        }
        .run(&mut |_, _| Ok(()))?;
        if check.digest != run.digest || check.windows != run.windows {
            return Err(LogsError::Mismatch(format!(
                "{other} gave different rows ({} windows, digest {:016x}) than {} ({} windows, digest {:016x})",
                check.windows, check.digest, run.mode, run.windows, run.digest
            )));
        }
        println!(
            "Verified: {other} gives bit-identical rows (digest {:016x}; {:.3} s, peak RSS {} in this process)",
            check.digest,
            check.measured.wall.as_secs_f64(),
            human(check.measured.peak_rss)
        );
    }
    Ok(())
}

/// A `--runs` entry: `MODE[:ENGINE[:WORKERS]]`; workers `None` when not given.
fn parse_run(s: &str) -> Result<(Mode, Engine, Option<usize>), LogsError> {
    let bad = || {
        LogsError::Argument(format!(
            "--runs entry `{s}`: write MODE:ENGINE[:WORKERS] with MODE auto, classic or sqrt, ENGINE incremental, naive or fused, and WORKERS a count or auto"
        ))
    };
    let (m, e) = s.split_once(':').unwrap_or((s, "incremental"));
    let (e, workers) = match e.split_once(':') {
        Some((e, n)) => (e, Some(parse_workers(n.trim()).map_err(|_| bad())?)),
        None => (e, None),
    };
    let mode: Mode = m.trim().parse().map_err(|_| bad())?;
    let engine = match e.trim() {
        "incremental" => Engine::Incremental,
        "naive" => Engine::Naive,
        "fused" => Engine::Fused,
        _ => return Err(bad()),
    };
    Ok((mode, engine, workers))
}

/// One measured run, as printed by a `--child` and written to the CSV.
#[derive(Debug, Clone)]
struct Line {
    run: String,
    mode: String,
    rows: u64,
    windows: u64,
    seconds: f64,
    cpu: f64,
    peak_rss: u64,
    digest: String,
    exact: String,
}

impl Line {
    fn of(name: &str, r: &LogsRun) -> Line {
        Line {
            run: name.to_string(),
            mode: if r.workers > 1 {
                format!("{}/{}w", r.mode, r.workers)
            } else {
                r.mode.to_string()
            },
            rows: r.input.rows,
            windows: r.windows,
            seconds: r.measured.wall.as_secs_f64(),
            cpu: r.measured.cpu.as_secs_f64(),
            peak_rss: r.measured.peak_rss,
            digest: format!("{:016x}", r.digest),
            exact: format!("{:016x}", r.exact_digest),
        }
    }
    fn encode(&self) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {}",
            self.run,
            self.mode,
            self.rows,
            self.windows,
            self.seconds,
            self.cpu,
            self.peak_rss,
            self.digest,
            self.exact
        )
    }
    fn decode(s: &str) -> Option<Line> {
        let f: Vec<&str> = s.split_whitespace().collect();
        if f.len() != 9 {
            return None;
        }
        Some(Line {
            run: f[0].into(),
            mode: f[1].into(),
            rows: f[2].parse().ok()?,
            windows: f[3].parse().ok()?,
            seconds: f[4].parse().ok()?,
            cpu: f[5].parse().ok()?,
            peak_rss: f[6].parse().ok()?,
            digest: f[7].into(),
            exact: f[8].into(),
        })
    }
}

const CHILD_TAG: &str = "SQRTSPACE_LOGS_RUN";

/// Runs `sqrtspace bench logs`: each configuration of `--runs` (in its own process with
/// `--extreme`), a table with time, rows/s, peak RSS and whether the rows match the first
/// run's (digest), and optionally CSV lines.
///
/// # Errors
/// Input errors, bad arguments, a child process that fails, write errors.
pub fn run_bench(args: &BenchArgs) -> Result<(), LogsError> {
    let base = job(&args.input, &args.rollup, args.win, args.hop)?;
    if let Some(path) = &args.write_raw {
        return write_raw(&base, path);
    }
    if let Some(run) = &args.child {
        let (mode, engine, workers) = parse_run(run)?;
        let r = LogsJob {
            mode,
            engine,
            workers: workers.unwrap_or(base.workers),
            ..base
        }
        .run(&mut |_, _| Ok(()))?;
        println!("{CHILD_TAG} {}", Line::of(run, &r).encode());
        return Ok(());
    }
    let mut lines = Vec::new();
    for run in &args.runs {
        let (mode, engine, workers) = parse_run(run)?;
        let line = if args.extreme {
            child(run)
        } else {
            LogsJob {
                mode,
                engine,
                workers: workers.unwrap_or(base.workers),
                ..base.clone()
            }
            .run(&mut |_, _| Ok(()))
            .map(|r| Line::of(run, &r))
        };
        // A run that does not fit (classic over the RAM budget) is reported and skipped.
        let line = match line {
            Ok(line) => line,
            Err(e @ LogsError::OutOfMemory { .. }) => {
                eprintln!("{run:<22} out of memory (typed error): {e}");
                continue;
            }
            Err(e) if args.extreme => {
                eprintln!("{run:<22} failed: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        eprintln!(
            "{:<22} {:>8} {:>10} rows {:>7} windows {:>8.3} s {:>7.1} M rows/s   peak RSS {:>10}",
            line.run,
            line.mode,
            line.rows,
            line.windows,
            line.seconds,
            line.rows as f64 / line.seconds.max(1e-9) / 1e6,
            human(line.peak_rss)
        );
        lines.push(line);
    }
    let first = lines.first().map(|l| l.digest.clone()).unwrap_or_default();
    let first_exact = lines.first().map(|l| l.exact.clone()).unwrap_or_default();
    println!(
        "{:<22} {:>8} {:>11} {:>8} {:>9} {:>9} {:>9} {:>12} {:>9} {:>10}",
        "run",
        "mode",
        "rows",
        "windows",
        "time s",
        "CPU s",
        "M rows/s",
        "peak RSS",
        "rows",
        "quantiles"
    );
    for l in &lines {
        println!(
            "{:<22} {:>8} {:>11} {:>8} {:>9.3} {:>9.3} {:>9.1} {:>12} {:>9} {:>10}",
            l.run,
            l.mode,
            l.rows,
            l.windows,
            l.seconds,
            l.cpu,
            l.rows as f64 / l.seconds.max(1e-9) / 1e6,
            human(l.peak_rss),
            if l.digest == first { "same" } else { "differ" },
            if l.exact == first_exact {
                "same"
            } else {
                "DIFFER"
            }
        );
    }
    if !args.extreme {
        println!(
            "(peak RSS is the process's high-water mark so far; use --extreme for each run's own)"
        );
    }
    if let Some(path) = &args.csv {
        let new = !path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(write_err(path))?;
        if new {
            writeln!(
                f,
                "run,mode,rows,windows,win,hop,seconds,cpu_seconds,rows_per_second,peak_rss_bytes,extreme,digest,rows_identical,quantiles_identical"
            )
            .map_err(write_err(path))?;
        }
        for l in &lines {
            writeln!(
                f,
                "{},{},{},{},{},{},{:.6},{:.6},{:.0},{},{},{},{},{}",
                l.run,
                l.mode,
                l.rows,
                l.windows,
                args.win,
                args.hop,
                l.seconds,
                l.cpu,
                l.rows as f64 / l.seconds.max(1e-9),
                l.peak_rss,
                args.extreme,
                l.digest,
                l.digest == first,
                l.exact == first_exact
            )
            .map_err(write_err(path))?;
        }
        println!("wrote {} lines to {}", lines.len(), path.display());
    }
    Ok(())
}

/// Re-runs this process's command line with `--child RUN` and reads its result line.
fn child(run: &str) -> Result<Line, LogsError> {
    let exe = std::env::current_exe().map_err(|source| LogsError::Io {
        path: "current executable".into(),
        source,
    })?;
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // Drop the options that make no sense in a child.
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].to_string_lossy().into_owned();
        if a == "--extreme" {
            argv.remove(i);
        } else if a == "--csv" || a == "--runs" {
            argv.drain(i..(i + 2).min(argv.len()));
        } else if a.starts_with("--csv=") || a.starts_with("--runs=") {
            argv.remove(i);
        } else {
            i += 1;
        }
    }
    argv.push("--child".into());
    argv.push(run.into());
    let out = std::process::Command::new(&exe)
        .args(&argv)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|source| LogsError::Io {
            path: exe.clone(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(CHILD_TAG).and_then(Line::decode))
        .ok_or_else(|| {
            LogsError::Argument(format!(
                "the child process for `{run}` ({}) printed no result (exit status {}): {}",
                exe.display(),
                out.status,
                text.trim()
            ))
        })
}

/// Writes the input's values (every row, NaN included) as raw little-endian f64.
fn write_raw(job: &LogsJob, path: &std::path::Path) -> Result<(), LogsError> {
    let mut reader = crate::input::Reader::open(&job.input)?;
    let f = std::fs::File::create(path).map_err(write_err(path))?;
    let mut w = std::io::BufWriter::new(f);
    let mut buf = Vec::new();
    let mut n = 0u64;
    while reader.next_chunk(&mut buf, 1 << 16)? {
        for r in &buf {
            w.write_all(&r.value.to_le_bytes())
                .map_err(write_err(path))?;
        }
        n += buf.len() as u64;
    }
    w.flush().map_err(write_err(path))?;
    println!("wrote {n} values ({}) to {}", human(n * 8), path.display());
    Ok(())
}

/// A stand-alone command line for `demo logs` (what `cargo run --example logs` runs).
#[derive(Debug, clap::Parser)]
#[command(
    name = "logs",
    about = "The logs rollup demo: rolling aggregates, exact p50/p95/p99 and alerts"
)]
struct DemoCli {
    #[command(flatten)]
    demo: DemoArgs,
}

/// A stand-alone command line for `bench logs`.
#[derive(Debug, clap::Parser)]
#[command(name = "logs-bench", about = "The logs rollup bench")]
struct BenchCli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Parses the process's arguments as [`DemoArgs`] and runs [`run_demo`], printing an error
/// to standard error (exit status 1) instead of panicking.
#[must_use]
pub fn demo_main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = DemoCli::parse();
    match run_demo(&cli.demo) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Parses the process's arguments as [`BenchArgs`] and runs [`run_bench`].
#[must_use]
pub fn bench_main() -> std::process::ExitCode {
    use clap::Parser;
    let cli = BenchCli::parse();
    match run_bench(&cli.bench) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
