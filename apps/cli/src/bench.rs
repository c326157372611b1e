//! `sqrtspace bench audio`: the window × k × LRU matrix in process, and `--extreme`: classic,
//! sqrt and auto in fresh processes over inputs that fit, barely fit and spill the RAM budget.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use clap::Args;

use super::say;
use super::{
    check_lru_mb, check_window, mib, parse_size, refuse_input_as_output, AtomicOutput, CliError,
    JobArgs, BENCH_INPUT,
};
use sqrtspace::metrics::{peak_rss, reset_peak_rss};
use sqrtspace::plan::human;
use sqrtspace::{Checkpoints, Config, Machine, Meter, Mode, Planner, MIB};
use sqrtspace_audio::pipeline::{estimate_for, repeat_for_seconds};
use sqrtspace_audio::{
    demo_config, fused_loop, AudioError, AudioParams, AudioPipeline, AudioReader, OutputDigest,
    WindowClass,
};

/// Arguments of `bench audio`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Recording to loop (WAV PCM, FLAC or Ogg Vorbis). Default: the shipped
    /// `apps/audio/assets/loop_amen_full.flac` (6.9 s drum loop, 44.1 kHz).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Seconds of (looped) audio for the matrix; decoded once into memory, so the matrix
    /// times the pipeline, not the decoder.
    #[arg(long, value_name = "S", default_value_t = 120.0)]
    pub seconds: f64,
    /// Window sizes of the matrix, in samples (comma-separated); the hop is window / 4.
    #[arg(long, value_name = "N,..", value_delimiter = ',', default_values_t = [2048usize, 4096, 8192])]
    pub windows: Vec<usize>,
    /// Checkpoint intervals of the matrix, in windows (comma-separated).
    #[arg(long = "k", value_name = "N,..", value_delimiter = ',', default_values_t = [8u64, 16, 32])]
    pub ks: Vec<u64>,
    /// LRU budgets of the matrix, in MiB (comma-separated).
    #[arg(long = "lru-mb", value_name = "MIB,..", value_delimiter = ',', default_values_t = [32.0, 64.0, 128.0])]
    pub lrus: Vec<f64>,
    /// Worker counts of the matrix (comma-separated, 1..=1024): each sqrt cell runs with
    /// `Config::max_workers` set to each; the engine caps it at the cores (and at 1 on a busy
    /// machine), and the row says how many it used and why.
    #[arg(long = "workers", value_name = "N,..", value_delimiter = ',', default_values_t = [1usize, 2, 4, 8])]
    pub workers: Vec<usize>,
    /// Time each matrix cell this many times and keep the fastest.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Write every row (matrix or extreme) to FILE as CSV, for `sqrtspace plot`.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Run classic, sqrt and auto each in a fresh process (true peak RSS, decoding included)
    /// over three input sizes whose estimated classic working set is ~10%, ~90% and ~150% of
    /// the RAM budget; every child runs under an address-space limit of the budget, so classic
    /// on the spilling size fails fast instead of exhausting the machine.
    #[arg(long)]
    pub extreme: bool,
    /// RAM budget for `--extreme` (default: the OS's available memory; without it, classic
    /// children may fill the machine's RAM). A size: `2G`, `1536M`, bytes with `B`; a bare
    /// number is MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub ram_budget: Option<u64>,
}

/// Arguments of the hidden `__bench-child` command: one run, one result line.
#[derive(Debug, Args)]
pub struct ChildArgs {
    /// Input recording, engine configuration, band and classifier thresholds.
    #[command(flatten)]
    pub job: JobArgs,
    /// Address-space limit (RLIMIT_AS) of this process, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub limit_as: Option<u64>,
}

/// One row of the benchmark CSV (both suites).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BenchRow {
    /// `matrix` or `extreme`.
    pub suite: String,
    /// Input size label: `modest`, `fits`, `barely`, `spills`.
    pub size: String,
    /// Hours of audio.
    pub hours: f64,
    /// The mode requested: `fused`, `classic`, `sqrt`, `auto`.
    pub requested: String,
    /// The mode that ran.
    pub mode: String,
    /// Window, samples.
    pub window: usize,
    /// Hop, samples.
    pub hop: usize,
    /// Checkpoint interval (0: not applicable).
    pub k: u64,
    /// LRU budget the engine used, MiB (0: not applicable): the requested one, capped by the
    /// planner in sqrt mode (at most 0.6 × the last-level cache).
    pub lru_mb: f64,
    /// LRU budget requested, MiB (0: not applicable).
    #[serde(default)]
    pub lru_requested_mb: f64,
    /// Windows evaluated.
    pub windows: u64,
    /// Wall time, s.
    pub wall_s: f64,
    /// Of which decoding, s.
    pub decode_s: f64,
    /// Peak RSS, MiB.
    pub peak_rss_mb: f64,
    /// Major page faults.
    pub major_faults: u64,
    /// Windows per second of wall time.
    pub windows_per_s: f64,
    /// Wall time over the fused loop's (same window), when measured.
    pub vs_fused: Option<f64>,
    /// The planner's estimate of classic's working set, MiB.
    pub classic_est_mb: f64,
    /// Workers requested (`Config::max_workers`; 1 where not applicable).
    #[serde(default = "one")]
    pub workers: usize,
    /// Threads the engine used (`Pipeline::workers_used`).
    #[serde(default = "one")]
    pub workers_used: usize,
    /// Why fewer workers ran than were requested (empty when all ran).
    #[serde(default)]
    pub workers_note: String,
    /// `ok`, or why it failed.
    pub status: String,
    /// Output comparison with the reference run.
    pub outputs: String,
    /// Why auto chose its mode.
    pub reason: String,
}

fn one() -> usize {
    1
}

/// Runs `bench audio`.
pub fn run(a: &BenchArgs) -> Result<(), CliError> {
    let path = a.input.clone().unwrap_or_else(|| {
        let p = PathBuf::from(BENCH_INPUT);
        p.canonicalize().unwrap_or(p)
    });
    check_bench_args(a)?;
    let mut target: Option<AtomicOutput> = None;
    let mut csv = match &a.csv {
        Some(p) => {
            refuse_input_as_output("--csv", p, &[path.as_path()])?;
            // Rows go to a temporary file, renamed over the target when the bench completes.
            let (out, file) = AtomicOutput::create(p)?;
            target = Some(out);
            Some((p.clone(), csv::Writer::from_writer(file)))
        }
        None => None,
    };
    let mut emit = |row: &BenchRow| -> Result<(), CliError> {
        if let Some((p, w)) = csv.as_mut() {
            w.serialize(row).map_err(|source| CliError::Csv {
                path: p.clone(),
                source,
            })?;
            w.flush().map_err(|source| CliError::Io {
                action: "write the CSV file",
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    };
    if a.extreme {
        extreme(a, &path, &mut emit)?;
    } else {
        matrix(a, &path, &mut emit)?;
    }
    drop(csv);
    if let Some(out) = target {
        out.commit()?;
    }
    Ok(())
}

/// Checks the matrix lists: windows between 2 and [`MAX_WINDOW`], LRU budgets finite and
/// `>= 0`, checkpoint intervals `>= 1`, a finite positive duration.
fn check_bench_args(a: &BenchArgs) -> Result<(), CliError> {
    for &w in &a.windows {
        check_window(w as u64)?;
    }
    if let Some(&w) = a.workers.iter().find(|&&w| w == 0 || w > 1024) {
        return Err(CliError::Usage(format!(
            "--workers {w} is out of range: give worker counts from 1 to 1024, e.g. --workers 1,2,4,8"
        )));
    }
    for &lru in &a.lrus {
        check_lru_mb(lru)?;
    }
    if let Some(&k) = a.ks.iter().find(|&&k| k == 0) {
        return Err(CliError::InvalidSetting {
            option: "--k",
            value: k.to_string(),
            expected: "use checkpoint intervals of at least 1 window, e.g. 8,16,32".into(),
        });
    }
    if !(a.seconds.is_finite() && a.seconds > 0.0) {
        return Err(CliError::InvalidSetting {
            option: "--seconds",
            value: a.seconds.to_string(),
            expected: "use a finite duration above 0 s, e.g. 120".into(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The in-process matrix.

fn matrix(
    a: &BenchArgs,
    path: &Path,
    emit: &mut dyn FnMut(&BenchRow) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let reader = AudioReader::open(path).map_err(AudioError::from)?;
    let sr = reader.sample_rate();
    let n = reader
        .duration_samples()
        .ok_or_else(|| AudioError::UnknownLength {
            path: path.to_path_buf(),
        })?;
    let repeat = repeat_for_seconds(path, n, sr, a.seconds)?;
    drop(reader);
    let start = Instant::now();
    let mut reader = AudioReader::with_repeat(path, repeat).map_err(AudioError::from)?;
    let mut signal =
        Vec::with_capacity(usize::try_from(reader.total_samples().unwrap_or(0)).unwrap_or(0));
    while let Some(c) = reader.next_chunk().map_err(AudioError::from)? {
        signal.extend_from_slice(c);
    }
    let decode = start.elapsed();
    let params = AudioParams::new(sr);
    let hours = signal.len() as f64 / f64::from(sr) / 3600.0;
    let peak_note = if reset_peak_rss() {
        "per run (VmHWM reset before each)"
    } else {
        "process high-water so far"
    };
    say!(
        "Input: {} ×{repeat} = {:.1} s at {sr} Hz ({} samples, decoded once into memory in {:.2} s, {} resident for every row)",
        path.display(),
        signal.len() as f64 / f64::from(sr),
        signal.len(),
        decode.as_secs_f64(),
        human(signal.len() as u64 * 4)
    );
    say!(
        "Hop = window / 4. Time: fastest of {} run(s); each sqrt run follows a run of the fused loop, and `vs fused` compares the fastest of those. Peak RSS: {peak_note}.",
        a.runs
    );
    say!(
        "LRU MiB: the budget the engine used; `U<R` when it capped the requested R MiB at 0.6 x LLC (the LLC is {} here).",
        human(Machine::probe().llc_bytes)
    );
    say!(
        "workers: Config::max_workers of the sqrt cells; `U<R` when the engine used U threads for R requested (capped at the {} cores, or at 1 on a busy machine: the row says which).",
        sqrtspace::parallel::cores()
    );
    say!(
        "{:<8} {:>6} {:>5} {:>4} {:>8} {:>7} {:>8} {:>9} {:>11} {:>11} {:>9}  outputs",
        "mode",
        "window",
        "hop",
        "k",
        "LRU MiB",
        "workers",
        "windows",
        "time s",
        "windows/s",
        "peak RSS",
        "vs fused"
    );
    let planner = Planner::from_machine();
    // Order: fused, then every sqrt cell, then classic (largest last, so it does not inflate
    // the others' peaks when VmHWM cannot be reset).
    let mut fused: Vec<(usize, Duration, OutputDigest)> = Vec::new();
    for &w in &a.windows {
        let config = cell_config(w, 8, 0.0)?;
        params.check(w)?;
        let mut best = (Duration::MAX, OutputDigest::default(), 0u64);
        for _ in 0..a.runs {
            let run = time_fused(&signal, &config, &params);
            if run.0 < best.0 {
                best = run;
            }
        }
        fused.push((w, best.0, best.1));
        let row = row(
            "matrix",
            "modest",
            hours,
            "fused",
            "fused",
            &config,
            0,
            0.0,
            best.2,
            best.0,
            Duration::ZERO,
            Some(1.0),
            "reference",
        );
        print_row(&row);
        emit(&row)?;
    }
    let fused_of = |w: usize| fused.iter().find(|f| f.0 == w).map(|f| (f.1, f.2));
    for &w in &a.windows {
        for &k in &a.ks {
            for &lru in &a.lrus {
                for &workers in &a.workers {
                    let config = cell_config(w, k, lru)?
                        .with_mode(Mode::Sqrt)
                        .with_max_workers(workers);
                    // Each sqrt run right after a run of the fused loop, fastest of each: the
                    // ratio then compares runs taken side by side, not minutes apart.
                    let mut fw = Duration::MAX;
                    let mut best = (Duration::MAX, OutputDigest::default(), 0u64, 0u64);
                    let mut threads = 1;
                    for _ in 0..a.runs {
                        fw = fw.min(time_fused(&signal, &config, &params).0);
                        let (run, u) = time_engine(&signal, &config, &params, &planner, 1)?;
                        threads = threads.max(u);
                        if run.0 < best.0 {
                            best = run;
                        }
                    }
                    let (wall, digest, windows, faults) = best;
                    let fd = fused_of(w).map_or(digest, |f| f.1);
                    let outputs = if fd == digest {
                        "identical to fused"
                    } else {
                        "DIFFER from fused"
                    };
                    // The budget the engine uses: the requested one capped at 0.6 x LLC.
                    let used = planner.lru_for(&config, Mode::Sqrt, 0) as f64 / MIB as f64;
                    let mut r = row(
                        "matrix",
                        "modest",
                        hours,
                        "sqrt",
                        "sqrt",
                        &config,
                        k,
                        used,
                        windows,
                        wall,
                        Duration::ZERO,
                        Some(ratio(wall, fw)),
                        outputs,
                    );
                    r.major_faults = faults;
                    r.lru_requested_mb = lru;
                    r.workers = workers;
                    r.workers_used = threads;
                    r.workers_note = workers_note(workers, threads);
                    print_row(&r);
                    emit(&r)?;
                }
            }
        }
    }
    for &w in &a.windows {
        let config = cell_config(w, 8, 0.0)?.with_mode(Mode::Classic);
        let ((wall, digest, windows, faults), _) =
            time_engine(&signal, &config, &params, &planner, a.runs)?;
        let (fw, fd) = fused_of(w).unwrap_or((wall, digest));
        let outputs = if fd == digest {
            "identical to fused"
        } else {
            "DIFFER from fused"
        };
        let mut r = row(
            "matrix",
            "modest",
            hours,
            "classic",
            "classic",
            &config,
            0,
            0.0,
            windows,
            wall,
            Duration::ZERO,
            Some(ratio(wall, fw)),
            outputs,
        );
        r.major_faults = faults;
        print_row(&r);
        emit(&r)?;
    }
    Ok(())
}

fn cell_config(window: usize, k: u64, lru_mb: f64) -> Result<Config, CliError> {
    let c = demo_config()
        .with_window(window)
        .with_hop((window / 4).max(1))
        .with_checkpoints(Checkpoints::Every(k.max(1)))
        .with_lru_bytes((lru_mb * MIB as f64) as usize);
    c.validate().map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(c)
}

/// One run of the hand-written fused loop over the in-memory signal: wall time, digest,
/// windows.
fn time_fused(
    signal: &[f32],
    config: &Config,
    params: &AudioParams,
) -> (Duration, OutputDigest, u64) {
    reset_peak_rss();
    let mut d = OutputDigest::default();
    let m = Meter::start();
    let windows = fused_loop(signal, config, params, |t, o| d.push(t, &o));
    (m.stop().wall, d, windows)
}

/// The fastest run of a cell: wall time, output digest, windows, major faults.
type Timed = (Duration, OutputDigest, u64, u64);

/// Times the engine over the in-memory signal: sqrt streams it in 32 Ki-sample chunks through
/// `Pipeline::stream` (the path `demo audio` uses, minus the decoder); classic evaluates the
/// whole range. Returns the fastest wall time, the digest, the windows and major faults, and
/// the most threads a run used.
fn time_engine(
    signal: &[f32],
    config: &Config,
    params: &AudioParams,
    planner: &Planner,
    runs: u32,
) -> Result<(Timed, usize), CliError> {
    let mut best = (Duration::MAX, OutputDigest::default(), 0u64, 0u64);
    let mut used = 1;
    for _ in 0..runs {
        let mut pipe = AudioPipeline::new(config.clone(), *params).map_err(AudioError::from)?;
        pipe.set_planner(planner.clone());
        let mut d = OutputDigest::default();
        reset_peak_rss();
        let m = Meter::start();
        let windows = if config.mode == Mode::Classic {
            let windows = config.windows_in(signal.len() as u64);
            pipe.evaluate_with::<sqrtspace_audio::pipeline::smooth>(signal, 0..windows, |t, o| {
                d.push(t, &o)
            })
            .map_err(AudioError::from)?;
            windows
        } else {
            let chunks = signal.chunks(1 << 15).map(Ok::<_, sqrtspace::Error>);
            pipe.stream(chunks, |t, o: WindowClass| d.push(t, &o))
                .map_err(AudioError::from)?
                .windows
        };
        let measured = m.stop();
        used = used.max(pipe.workers_used());
        if measured.wall < best.0 {
            best = (measured.wall, d, windows, measured.major_faults);
        }
    }
    Ok((best, used))
}

/// Why `used` threads ran for `requested` workers: capped at the cores, or at 1 because the
/// machine was busy when the run started (`sqrtspace::parallel::capped_by_load`); empty when
/// all ran.
fn workers_note(requested: usize, used: usize) -> String {
    let cores = sqrtspace::parallel::cores();
    if used >= requested {
        String::new()
    } else if used == requested.min(cores) {
        format!("capped at {used}: {cores} cores")
    } else {
        format!(
            "{used} of {}: the machine was busy (no spare core)",
            requested.min(cores)
        )
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

#[allow(
    clippy::too_many_arguments,
    reason = "one table row, built in three places"
)]
fn row(
    suite: &str,
    size: &str,
    hours: f64,
    requested: &str,
    mode: &str,
    config: &Config,
    k: u64,
    lru_mb: f64,
    windows: u64,
    wall: Duration,
    decode: Duration,
    vs_fused: Option<f64>,
    outputs: &str,
) -> BenchRow {
    let peak = peak_rss().unwrap_or(0);
    BenchRow {
        suite: suite.into(),
        size: size.into(),
        hours,
        requested: requested.into(),
        mode: mode.into(),
        window: config.window,
        hop: config.hop,
        k,
        lru_mb,
        lru_requested_mb: lru_mb,
        windows,
        wall_s: wall.as_secs_f64(),
        decode_s: decode.as_secs_f64(),
        peak_rss_mb: mib(peak),
        major_faults: 0,
        windows_per_s: windows as f64 / wall.as_secs_f64().max(1e-12),
        vs_fused,
        classic_est_mb: 0.0,
        workers: 1,
        workers_used: 1,
        workers_note: String::new(),
        status: "ok".into(),
        outputs: outputs.into(),
        reason: String::new(),
    }
}

fn print_row(r: &BenchRow) {
    let k = if r.k == 0 {
        "-".to_string()
    } else {
        r.k.to_string()
    };
    let lru = if r.lru_mb == 0.0 && r.lru_requested_mb == 0.0 {
        "-".to_string()
    } else if r.lru_requested_mb != 0.0 && (r.lru_requested_mb - r.lru_mb).abs() > 1e-9 {
        // The engine capped the requested budget: show what it used and what was asked.
        format!("{:.1}<{}", r.lru_mb, r.lru_requested_mb)
    } else {
        format!("{}", r.lru_mb)
    };
    let vs = r.vs_fused.map_or("-".to_string(), |v| format!("{v:.3}x"));
    // `used<requested` when the engine ran fewer threads (the note says why).
    let workers = if r.workers_used < r.workers {
        format!("{}<{}", r.workers_used, r.workers)
    } else {
        r.workers.to_string()
    };
    let note = if r.workers_note.is_empty() {
        String::new()
    } else {
        format!(" (workers {})", r.workers_note)
    };
    say!(
        "{:<8} {:>6} {:>5} {:>4} {:>8} {:>7} {:>8} {:>9.3} {:>11.0} {:>7.1} MiB {:>9}  {}{}",
        r.mode,
        r.window,
        r.hop,
        k,
        lru,
        workers,
        r.windows,
        r.wall_s,
        r.windows_per_s,
        r.peak_rss_mb,
        vs,
        r.outputs,
        note
    );
    let _ = std::io::stdout().flush();
}

// ---------------------------------------------------------------------------------------------
// --extreme: fresh processes.

/// The line prefix of a child's result.
const RESULT_TAG: &str = "@@sqrtspace-bench ";
/// The line a child prints before it exits with a typed out-of-memory error.
const OOM_TAG: &str = "@@sqrtspace-bench-out-of-memory";

/// Whether `e` is a clean, typed out-of-memory failure (classic mode's decoded signal, or the
/// engine's columns, could not be reserved).
///
/// Matched on the typed variants (the application's and the engine's `OutOfMemory`), never on
/// message text: an unrelated error that happens to mention memory is not an out-of-memory.
fn is_out_of_memory(e: &AudioError) -> bool {
    matches!(
        e,
        AudioError::OutOfMemory { .. } | AudioError::Engine(sqrtspace::Error::OutOfMemory { .. })
    )
}

/// What a child reports on its result line (one headerless CSV record).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ChildResult {
    requested: String,
    mode: String,
    windows: u64,
    samples: u64,
    seconds: f64,
    wall_s: f64,
    decode_s: f64,
    peak_rss: u64,
    major_faults: u64,
    digest: String,
    classic_est: u64,
    reason: String,
    /// The LRU budget the engine used, bytes.
    lru_bytes: u64,
}

/// Runs `__bench-child`: sets the address-space limit, runs the job (decoding included),
/// prints one result line.
pub fn child(a: &ChildArgs) -> Result<(), CliError> {
    if let Some(bytes) = a.limit_as {
        limit_address_space(bytes).map_err(|source| CliError::Io {
            action: "set RLIMIT_AS for",
            path: "this process".into(),
            source,
        })?;
    }
    let job = a.job.job(BENCH_INPUT)?;
    let planner = Planner::from_machine();
    let run = match job.run(&planner, &mut |_| {}, &mut |_, _| Ok(())) {
        Ok(run) => run,
        Err(e) => {
            if is_out_of_memory(&e) {
                // A typed, clean failure: tell the parent it was memory, not a crash.
                say!("{OOM_TAG}");
            }
            return Err(e.into());
        }
    };
    let result = ChildResult {
        requested: run.requested.to_string(),
        mode: run.mode.to_string(),
        windows: run.end.windows,
        samples: run.end.samples,
        seconds: run.seconds(),
        wall_s: run.measured.wall.as_secs_f64(),
        decode_s: run.decode.as_secs_f64(),
        peak_rss: run.measured.peak_rss,
        major_faults: run.measured.major_faults,
        digest: format!("{:016x}:{}", run.digest.hash, run.digest.windows),
        classic_est: run.plan.classic_bytes,
        reason: run.plan.reason.clone(),
        lru_bytes: run.lru_bytes as u64,
    };
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.serialize(&result).map_err(|source| CliError::Csv {
        path: "-".into(),
        source,
    })?;
    let line = w.into_inner().map_err(|e| CliError::Usage(e.to_string()))?;
    print!("{RESULT_TAG}{}", String::from_utf8_lossy(&line));
    Ok(())
}

/// Lowers this process's address-space limit (soft and hard) to `bytes` (setrlimit(2)
/// `RLIMIT_AS`, through `nix`).
///
/// # Errors
/// The OS error; `Unsupported` on platforms without `RLIMIT_AS`.
#[cfg(all(
    unix,
    not(any(target_os = "freebsd", target_os = "netbsd", target_os = "openbsd"))
))]
fn limit_address_space(bytes: u64) -> std::io::Result<()> {
    let limit =
        nix::sys::resource::rlim_t::try_from(bytes).unwrap_or(nix::sys::resource::RLIM_INFINITY);
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, limit, limit)
        .map_err(std::io::Error::from)
}

/// Lowers this process's address-space limit: not available on this platform.
#[cfg(not(all(
    unix,
    not(any(target_os = "freebsd", target_os = "netbsd", target_os = "openbsd"))
)))]
fn limit_address_space(_bytes: u64) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "an address-space limit (RLIMIT_AS) is not available on this platform",
    ))
}

fn extreme(
    a: &BenchArgs,
    path: &Path,
    emit: &mut dyn FnMut(&BenchRow) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let machine = Machine::probe();
    let budget = a.ram_budget.unwrap_or(machine.ram_available);
    let planner = Planner { machine };
    let reader = AudioReader::open(path).map_err(AudioError::from)?;
    let sr = reader.sample_rate();
    let n = reader
        .duration_samples()
        .ok_or_else(|| AudioError::UnknownLength {
            path: path.to_path_buf(),
        })?;
    drop(reader);
    let params = AudioParams::new(sr);
    let config = demo_config().with_ram_budget(budget);
    params.check(config.window)?;
    let per_hour = estimate_for(&config, &params, Some(u64::from(sr) * 3600), &planner)?
        .plan
        .classic_bytes;
    let exe = std::env::current_exe().map_err(|source| CliError::Io {
        action: "locate the running executable",
        path: "sqrtspace".into(),
        source,
    })?;
    say!(
        "RAM budget {} ({}); classic's estimated working set: {} per hour of {sr} Hz audio (window {}, hop {}).",
        human(budget),
        if a.ram_budget.is_some() { "--ram-budget" } else { "available memory" },
        human(per_hour),
        config.window,
        config.hop
    );
    say!(
        "Each run is a fresh process under RLIMIT_AS = {}; time and peak RSS include decoding.",
        human(budget)
    );
    say!(
        "{:<7} {:>7} {:<16} {:>9} {:>8} {:>12} {:>11} {:>12}  status / outputs",
        "size",
        "hours",
        "mode",
        "time s",
        "decode s",
        "peak RSS",
        "windows/s",
        "classic est"
    );
    for (label, frac) in [("fits", 0.1), ("barely", 0.9), ("spills", 1.5)] {
        let seconds = frac * budget as f64 / per_hour as f64 * 3600.0;
        let repeat = repeat_for_seconds(path, n, sr, seconds)?;
        let hours = (n * u64::from(repeat)) as f64 / f64::from(sr) / 3600.0;
        let mut reference: Option<(String, &str)> = None;
        let mut reason = String::new();
        for mode in [Mode::Classic, Mode::Sqrt, Mode::Auto] {
            let what = format!("{label} {mode} ×{repeat}");
            let args: Vec<String> = vec![
                "__bench-child".into(),
                "--input".into(),
                path.display().to_string(),
                "--repeat".into(),
                repeat.to_string(),
                "--mode".into(),
                mode.to_string(),
                "--window".into(),
                config.window.to_string(),
                "--hop".into(),
                config.hop.to_string(),
                "--lru-mb".into(),
                (config.lru_bytes as f64 / MIB as f64).to_string(),
                "--ram-budget".into(),
                format!("{budget}B"),
                "--limit-as".into(),
                budget.to_string(),
            ];
            let out = Command::new(&exe)
                .args(&args)
                .output()
                .map_err(|source| CliError::Io {
                    action: "start",
                    path: exe.clone(),
                    source,
                })?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let mut r = BenchRow {
                suite: "extreme".into(),
                size: label.into(),
                hours,
                requested: mode.to_string(),
                mode: mode.to_string(),
                window: config.window,
                hop: config.hop,
                k: 0,
                lru_mb: config.lru_bytes as f64 / MIB as f64,
                lru_requested_mb: config.lru_bytes as f64 / MIB as f64,
                workers: 1,
                workers_used: 1,
                workers_note: String::new(),
                windows: 0,
                wall_s: 0.0,
                decode_s: 0.0,
                peak_rss_mb: 0.0,
                major_faults: 0,
                windows_per_s: 0.0,
                vs_fused: None,
                classic_est_mb: 0.0,
                status: "ok".into(),
                outputs: "-".into(),
                reason: String::new(),
            };
            match stdout.lines().find_map(|l| l.strip_prefix(RESULT_TAG)) {
                Some(line) if out.status.success() => {
                    let res: ChildResult = csv::ReaderBuilder::new()
                        .has_headers(false)
                        .from_reader(line.as_bytes())
                        .deserialize()
                        .next()
                        .ok_or_else(|| CliError::Child {
                            what: what.clone(),
                            message: "empty result line".into(),
                        })?
                        .map_err(|e| CliError::Child {
                            what: what.clone(),
                            message: e.to_string(),
                        })?;
                    r.mode = if mode == Mode::Auto {
                        format!("auto->{}", res.mode)
                    } else {
                        res.mode.clone()
                    };
                    r.windows = res.windows;
                    r.wall_s = res.wall_s;
                    r.decode_s = res.decode_s;
                    r.peak_rss_mb = mib(res.peak_rss);
                    r.major_faults = res.major_faults;
                    r.windows_per_s = res.windows as f64 / res.wall_s.max(1e-12);
                    r.classic_est_mb = mib(res.classic_est);
                    r.reason = res.reason.clone();
                    r.lru_requested_mb = r.lru_mb;
                    r.lru_mb = mib(res.lru_bytes);
                    if mode == Mode::Auto {
                        reason = res.reason.clone();
                    }
                    r.outputs = match &reference {
                        None => "reference".into(),
                        Some((d, of)) if *d == res.digest => format!("identical to {of}"),
                        Some((_, of)) => format!("DIFFER from {of}"),
                    };
                    if reference.is_none() {
                        let of = if mode == Mode::Classic {
                            "classic"
                        } else {
                            "sqrt (classic failed)"
                        };
                        reference = Some((res.digest, of));
                    }
                }
                _ => {
                    r.status = failure_status(&out.status, stdout.contains(OOM_TAG), &stderr);
                    r.classic_est_mb =
                        mib(
                            estimate_for(&config, &params, Some(n * u64::from(repeat)), &planner)?
                                .plan
                                .classic_bytes,
                        );
                }
            }
            say!(
                "{:<7} {:>7.3} {:<16} {:>9.2} {:>8.2} {:>8.1} MiB {:>11.0} {:>8.1} MiB  {}",
                r.size,
                r.hours,
                r.mode,
                r.wall_s,
                r.decode_s,
                r.peak_rss_mb,
                r.windows_per_s,
                r.classic_est_mb,
                if r.status == "ok" {
                    r.outputs.clone()
                } else {
                    r.status.clone()
                }
            );
            let _ = std::io::stdout().flush();
            emit(&r)?;
        }
        say!("        auto: {reason}");
    }
    Ok(())
}

/// The `status` column of a failed child, classified from how it ended, never guessed:
/// - exit status 1 after the child's out-of-memory tag: `out of memory (typed error): ...`,
///   the clean failure the tool promises;
/// - SIGKILL: `killed (SIGKILL: the kernel's OOM killer, or a user)`; the parent cannot tell
///   which, and says so;
/// - SIGABRT: `aborted (SIGABRT): ...` with the last line of standard error (Rust's
///   allocation-failure handler prints `memory allocation of N bytes failed` and aborts: that
///   is a crash at an infallible allocation, not a handled out-of-memory error), or the panic
///   line when there is no allocation failure (never a backtrace's last line);
/// - any other signal: `killed by signal N`; any other exit: `failed (exit N): ...`.
///
/// [`failure_kind`] maps these back to a short label for charts.
#[must_use]
pub fn failure_status(status: &std::process::ExitStatus, oom_tag: bool, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .trim();
    let first_error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or(last)
        .trim();
    // What an abort said before any backtrace: the allocation failure or the panic.
    let cause = stderr
        .lines()
        .find(|l| l.contains("memory allocation of") || l.contains("panicked at"))
        .unwrap_or(first_error)
        .trim();
    match (status.code(), status.signal()) {
        (Some(_), _) if oom_tag => format!("out of memory (typed error): {first_error}"),
        (_, Some(nix::libc::SIGKILL)) => {
            "killed (SIGKILL: the kernel's OOM killer, or a user)".into()
        }
        (_, Some(nix::libc::SIGABRT)) => format!("aborted (SIGABRT): {cause}"),
        (_, Some(sig)) => format!("killed by signal {sig}: {cause}"),
        (Some(code), None) => format!("failed (exit {code}): {first_error}"),
        (None, None) => format!("failed ({status}): {last}"),
    }
}

/// A short label for a `status` column ([`failure_status`]): `ok`, `out of memory (typed
/// error)`, `killed (SIGKILL)`, `aborted (SIGABRT)`, `killed by a signal` or `failed`.
#[must_use]
pub fn failure_kind(status: &str) -> &'static str {
    if status == "ok" {
        "ok"
    } else if status.starts_with("out of memory") {
        "out of memory (typed error)"
    } else if status.starts_with("killed (SIGKILL") {
        "killed (SIGKILL)"
    } else if status.starts_with("aborted (SIGABRT)") {
        "aborted (SIGABRT)"
    } else if status.starts_with("killed by signal") {
        "killed by a signal"
    } else {
        "failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    #[test]
    fn failures_are_classified_by_how_the_child_ended() {
        // A typed out-of-memory error: exit status 1 after the child's tag.
        let exit1 = ExitStatus::from_raw(1 << 8);
        let s = failure_status(
            &exit1,
            true,
            "error: classic mode could not allocate 9.0 GiB for the decoded signal\n",
        );
        assert!(
            s.starts_with("out of memory (typed error): error: classic mode"),
            "{s}"
        );
        assert_eq!(failure_kind(&s), "out of memory (typed error)");
        // The same exit status without the tag is a plain failure.
        let s = failure_status(&exit1, false, "error: `x.wav` is corrupt\n");
        assert_eq!(s, "failed (exit 1): error: `x.wav` is corrupt");
        assert_eq!(failure_kind(&s), "failed");
        // SIGABRT is an abort, even after an allocation failure: not a handled OOM.
        let abrt = ExitStatus::from_raw(nix::libc::SIGABRT);
        let s = failure_status(&abrt, false, "memory allocation of 4096 bytes failed\n");
        assert_eq!(
            s,
            "aborted (SIGABRT): memory allocation of 4096 bytes failed"
        );
        assert_eq!(failure_kind(&s), "aborted (SIGABRT)");
        assert!(!s.contains("out of memory"));
        // SIGKILL: what the OOM killer sends; the parent says it cannot tell who sent it.
        let s = failure_status(&ExitStatus::from_raw(nix::libc::SIGKILL), false, "");
        assert_eq!(failure_kind(&s), "killed (SIGKILL)");
        assert!(s.contains("OOM killer, or a user"), "{s}");
        let s = failure_status(&ExitStatus::from_raw(nix::libc::SIGSEGV), false, "");
        assert_eq!(failure_kind(&s), "killed by a signal");
        assert!(s.contains(&nix::libc::SIGSEGV.to_string()), "{s}");
        assert_eq!(failure_kind("ok"), "ok");
    }

    #[test]
    fn a_typed_out_of_memory_error_is_recognised() {
        assert!(is_out_of_memory(&AudioError::OutOfMemory {
            bytes: 1 << 40,
            samples: 1 << 38,
        }));
        assert!(!is_out_of_memory(&AudioError::UnknownLength {
            path: "x.wav".into()
        }));
        // The engine's typed error (classic columns reserved with try_reserve) counts ...
        assert!(is_out_of_memory(&AudioError::Engine(
            sqrtspace::Error::OutOfMemory {
                bytes: 1 << 40,
                what: "a classic-mode column",
            }
        )));
        // ... an engine error whose text merely mentions memory does not.
        assert!(!is_out_of_memory(&AudioError::Engine(
            sqrtspace::Error::Io(std::io::Error::other("out of memory"))
        )));
    }
}
