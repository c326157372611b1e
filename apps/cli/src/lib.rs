//! The `sqrtspace` command-line tool: `demo audio`, `plan --print`, `bench audio` and `plot`,
//! built with clap's derive API on the runtime (`sqrtspace`) and the audio application
//! (`sqrtspace-audio`).
//!
//! The binary (`src/main.rs`, installed as `sqrtspace`) only calls [`main`]. Every subcommand returns a
//! [`CliError`] instead of panicking; [`main`] prints it with its causes and exits with
//! status 1 (clap's own usage errors exit with 2).

mod bench;
mod demo;
mod plan;
mod plot;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use sqrtspace::{Checkpoints, Config, Mode, Planner, MIB};
use sqrtspace_audio::pipeline::{repeat_for_seconds, DEFAULT_F_HI, DEFAULT_F_LO, MAX_WINDOW};
use sqrtspace_audio::{AudioError, AudioJob, AudioParams, AudioReader};

/// `println!` that never panics: when standard output is a closed pipe (`sqrtspace plan --print
/// | head -1`) the process exits quietly with status 0, as [`main`] does for a broken pipe;
/// other write errors are ignored (the report is informational; files are written elsewhere).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}
pub(crate) use say;

/// The recording `demo audio` and `plan` analyse when no `--input` is given: 112 s of speech
/// received over HF radio (8 kHz; LGPL-2.1, the codec2 project), shipped in `sqrtspace-audio`
/// ([`sqrtspace_audio::assets::SPEECH`]).
pub const DEFAULT_INPUT: &str = sqrtspace_audio::assets::SPEECH;
/// The recording `bench audio` loops: a 6.9 s drum loop at 44.1 kHz (CC0), shipped in
/// `sqrtspace-audio` ([`sqrtspace_audio::assets::DRUM_LOOP`]).
pub const BENCH_INPUT: &str = sqrtspace_audio::assets::DRUM_LOOP;

/// Windowed audio analysis in bounded memory: classic vs sqrt(t) evaluation, with a planner
/// that says why it chose.
#[derive(Debug, Parser)]
#[command(name = "sqrtspace", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a demo pipeline end to end and print its report.
    #[command(subcommand)]
    Demo(Demo),
    /// Show the plan `auto` would choose for an input and configuration, without running it.
    Plan(plan::PlanArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(Bench),
    /// Draw PNG charts (time and peak RSS by mode and input size) from a `bench audio --csv` file.
    Plot(plot::PlotArgs),
    /// One benchmark run in a fresh process (used by `bench audio --extreme`).
    #[command(name = "__bench-child", hide = true)]
    BenchChild(bench::ChildArgs),
}

/// The demos.
#[derive(Debug, Subcommand)]
pub enum Demo {
    /// Classify a recording into silence / tonal / noise, window by window: Hann-windowed FFT →
    /// band-pass → spectral features and flux → classify → smooth.
    Audio(demo::DemoArgs),
    /// Rolling rollups of a table of rows (the shipped US flight delays by default): filter →
    /// count / mean / std / min / max → exact p50 / p95 / p99 → alert flags, per window of rows.
    Logs(sqrtspace_logs::cli::DemoArgs),
}

/// The benchmarks.
// Parsed once per process: the size difference of the argument structs costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// The audio pipeline over the window × k × LRU matrix (in process), or, with
    /// `--extreme`, classic / sqrt / auto in fresh processes over inputs that fit, barely fit
    /// and spill the RAM budget.
    Audio(bench::BenchArgs),
    /// The logs job: classic / sqrt / auto and the hand-written loop over real or synthetic
    /// rows (`--n`), each in a fresh process with `--extreme`; writes a CSV with `--csv`.
    Logs(sqrtspace_logs::cli::BenchArgs),
}

/// Errors of the command-line tool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Reading or analysing the audio failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Reading or analysing the rows of the logs job failed.
    #[error(transparent)]
    Logs(#[from] sqrtspace_logs::LogsError),
    /// A file could not be written or read.
    #[error("could not {action} `{}`: {source}", .path.display())]
    Io {
        /// What was being done (`write the CSV file`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be written or parsed.
    #[error("CSV file `{}`: {source}", .path.display())]
    Csv {
        /// The file (`-` for standard output).
        path: PathBuf,
        /// The csv crate's error.
        #[source]
        source: csv::Error,
    },
    /// A chart could not be drawn.
    #[error("could not draw `{}`: {message}", .path.display())]
    Plot {
        /// The PNG file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A benchmark child process failed in an unexpected way.
    #[error("benchmark run `{what}` failed: {message}")]
    Child {
        /// Which run.
        what: String,
        /// Its exit status and the end of its standard error.
        message: String,
    },
    /// Arguments that parse but do not make sense together.
    #[error("{0}")]
    Usage(String),
    /// A setting outside the range the tool accepts.
    #[error("invalid {option} {value}: {expected}")]
    InvalidSetting {
        /// The option, e.g. `--window`.
        option: &'static str,
        /// The value given.
        value: String,
        /// What is accepted, and what to use instead.
        expected: String,
    },
    /// An output file names one of the run's input files: writing it would destroy the input
    /// before it is read.
    #[error(
        "{option} `{}` is the input file `{}`: writing it would overwrite the recording; \
         choose another output path",
        .output.display(),
        .input.display()
    )]
    OutputIsInput {
        /// The output option, e.g. `--csv`.
        option: &'static str,
        /// The output path as given.
        output: PathBuf,
        /// The input path it resolves to.
        input: PathBuf,
    },
}

/// Runs the tool with the process's arguments and returns its exit status.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `sqrtspace demo audio --csv - | head`: the reader has all it wants.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                // Transparent wrappers repeat their inner message; print only new text.
                let text = s.to_string();
                if !e.to_string().contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

impl CliError {
    /// Whether this is a write to a closed pipe (standard output piped into `head`, ...).
    #[must_use]
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            CliError::Io { source, .. } => Some(source),
            CliError::Csv { source, .. } => match source.kind() {
                csv::ErrorKind::Io(e) => Some(e),
                _ => None,
            },
            _ => None,
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Runs one parsed command.
///
/// # Errors
/// Whatever the command reports.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Demo(Demo::Audio(a)) => demo::run(&a),
        Command::Demo(Demo::Logs(a)) => Ok(sqrtspace_logs::cli::run_demo(&a)?),
        Command::Plan(a) => plan::run(&a),
        Command::Bench(Bench::Audio(a)) => bench::run(&a),
        Command::Bench(Bench::Logs(a)) => Ok(sqrtspace_logs::cli::run_bench(&a)?),
        Command::Plot(a) => plot::run(&a),
        Command::BenchChild(a) => bench::child(&a),
    }
}

/// Which recording, played how many times.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Recording to analyse (WAV PCM, FLAC or Ogg Vorbis); decoded incrementally, mixed to mono
    /// at its own sample rate. Default: the shipped `apps/audio/assets/ve9qrp.wav` (112 s of speech, 8 kHz).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Play the recording N times back to back (long-form input from a short file).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "hours")]
    pub repeat: u32,
    /// Loop the recording to at least H hours of audio (a repeat count of
    /// ceil(H · 3600 s / the recording's length)).
    #[arg(long, value_name = "H")]
    pub hours: Option<f64>,
}

impl InputArgs {
    /// The input path (the default recording when none is given).
    #[must_use]
    pub fn path(&self, default: &str) -> PathBuf {
        self.input.clone().unwrap_or_else(|| {
            let p = PathBuf::from(default);
            p.canonicalize().unwrap_or(p)
        })
    }

    /// The pass count: `--repeat`, or the one `--hours` needs (reads the file header).
    ///
    /// # Errors
    /// Decoder errors opening the file, [`AudioError::UnknownLength`] and
    /// [`AudioError::InvalidDuration`].
    pub fn repeat_for(&self, path: &Path) -> Result<u32, AudioError> {
        let Some(hours) = self.hours else {
            return Ok(self.repeat);
        };
        let reader = AudioReader::open(path)?;
        let Some(n) = reader.duration_samples() else {
            return Err(AudioError::UnknownLength {
                path: path.to_path_buf(),
            });
        };
        repeat_for_seconds(path, n, reader.sample_rate(), hours * 3600.0)
    }
}

/// The engine's knobs.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Executor: `auto` (the planner chooses from the estimated working set and RAM),
    /// `classic` (decode everything into memory, then stage by stage: the baseline) or `sqrt`
    /// (stream from the decoder, depth-first per window, bounded memory).
    #[arg(long, value_name = "MODE", default_value = "auto", value_parser = parse_mode)]
    pub mode: Mode,
    /// Frame length in samples (the FFT size).
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(2..))]
    pub window: u64,
    /// Samples between the starts of consecutive frames (1..=window).
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub hop: u64,
    /// LRU budget for cached stage outputs, in MiB (fractions allowed; 0 forces recomputation).
    #[arg(long, value_name = "MIB", default_value_t = 2.0)]
    pub lru_mb: f64,
    /// Checkpoint interval in windows, 1 to 4294967295 (default: planned; 16 while streaming).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=u64::from(u32::MAX)))]
    pub k: Option<u64>,
    /// RAM the planner may assume is free (default: the OS's available memory). A size:
    /// `512M`, `2G`, `1536MiB`, `65536K`, bytes with a `B` suffix (`1073741824B`); a bare
    /// number is MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub ram_budget: Option<u64>,
}

impl EngineArgs {
    /// The engine configuration these arguments describe (checkpoint ring: 64 KiB).
    ///
    /// # Errors
    /// [`CliError::InvalidSetting`] for a negative, non-finite or unrepresentable `--lru-mb`
    /// and a `--window` above [`MAX_WINDOW`]; [`CliError::Usage`] for `hop > window`.
    pub fn config(&self) -> Result<Config, CliError> {
        check_lru_mb(self.lru_mb)?;
        check_window(self.window)?;
        let mut c = sqrtspace_audio::demo_config()
            .with_mode(self.mode)
            .with_window(to_usize(self.window))
            .with_hop(to_usize(self.hop))
            .with_lru_bytes((self.lru_mb * MIB as f64) as usize);
        if let Some(k) = self.k {
            c = c.with_checkpoints(Checkpoints::Every(k));
        }
        if let Some(b) = self.ram_budget {
            c = c.with_ram_budget(b);
        }
        c.validate().map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(c)
    }
}

/// The band and classifier thresholds.
#[derive(Debug, Clone, Args)]
pub struct BandArgs {
    /// Lower edge of the analysis band in Hz.
    #[arg(long, value_name = "HZ", default_value_t = DEFAULT_F_LO)]
    pub f_lo: f32,
    /// Upper edge of the analysis band in Hz (must be below half the sample rate).
    #[arg(long, value_name = "HZ", default_value_t = DEFAULT_F_HI)]
    pub f_hi: f32,
    /// RMS level in dBFS below which a window is silence.
    #[arg(long, value_name = "DBFS", default_value_t = sqrtspace_audio::DEFAULT_SILENCE_DBFS, allow_negative_numbers = true)]
    pub silence_dbfs: f32,
    /// Spectral flatness (0..1) above which an audible window is noise.
    #[arg(long, value_name = "X", default_value_t = sqrtspace_audio::DEFAULT_FLATNESS_SPLIT)]
    pub flatness_split: f32,
}

impl BandArgs {
    /// The pipeline parameters (the sample rate is taken from the file).
    #[must_use]
    pub fn params(&self) -> AudioParams {
        AudioParams {
            sample_rate: 0,
            f_lo: self.f_lo,
            f_hi: self.f_hi,
            silence_dbfs: self.silence_dbfs,
            flatness_split: self.flatness_split,
        }
    }
}

/// The arguments every audio-job command takes (`demo audio`, `plan` and the bench's child
/// runs), flattened into each: which recording, the engine's knobs, the band and thresholds.
#[derive(Debug, Clone, Args)]
pub struct JobArgs {
    /// Input recording and long-form looping.
    #[command(flatten)]
    pub input: InputArgs,
    /// Engine configuration.
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Band and classifier thresholds.
    #[command(flatten)]
    pub band: BandArgs,
}

impl JobArgs {
    /// The job these arguments describe; `default` is the recording used without `--input`.
    ///
    /// # Errors
    /// [`CliError::Audio`] when `--hours` cannot be turned into a repeat count (see
    /// [`InputArgs::repeat_for`]); [`CliError::Usage`] or [`CliError::InvalidSetting`] for an
    /// invalid engine configuration or threshold (see [`EngineArgs::config`]).
    pub fn job(&self, default: &str) -> Result<AudioJob, CliError> {
        check_band(&self.band)?;
        let path = self.input.path(default);
        let repeat = self.input.repeat_for(&path)?;
        Ok(AudioJob::new(path)
            .with_repeat(repeat)
            .with_config(self.engine.config()?)
            .with_params(self.band.params()))
    }
}

/// Checks an LRU budget in MiB: finite, `>= 0` and representable in bytes.
fn check_lru_mb(lru_mb: f64) -> Result<(), CliError> {
    if !(lru_mb.is_finite() && lru_mb >= 0.0 && lru_mb * MIB as f64 <= usize::MAX as f64) {
        return Err(CliError::InvalidSetting {
            option: "--lru-mb",
            value: lru_mb.to_string(),
            expected: "use a finite size in MiB >= 0 (0 forces recomputation), e.g. 2".into(),
        });
    }
    Ok(())
}

/// Checks a window length in samples against [`MAX_WINDOW`] (the lower bound, 2, is clap's).
fn check_window(window: u64) -> Result<(), CliError> {
    if window < 2 || window > MAX_WINDOW as u64 {
        return Err(CliError::InvalidSetting {
            option: "--window",
            value: window.to_string(),
            expected: format!(
                "use a frame length between 2 and {MAX_WINDOW} samples (2^24), e.g. 4096"
            ),
        });
    }
    Ok(())
}

/// Checks the classifier thresholds: a finite `--silence-dbfs`, a `--flatness-split` in
/// `[0, 1]`, and finite band edges (NaN is refused: it would make every comparison false).
fn check_band(band: &BandArgs) -> Result<(), CliError> {
    let bad = |option: &'static str, value: f32, expected: &str| CliError::InvalidSetting {
        option,
        value: value.to_string(),
        expected: expected.to_owned(),
    };
    if !band.silence_dbfs.is_finite() {
        return Err(bad(
            "--silence-dbfs",
            band.silence_dbfs,
            "use a finite level in dBFS, e.g. -50",
        ));
    }
    if !(band.flatness_split.is_finite() && (0.0..=1.0).contains(&band.flatness_split)) {
        return Err(bad(
            "--flatness-split",
            band.flatness_split,
            "use a spectral flatness between 0 and 1, e.g. 0.3",
        ));
    }
    for (option, v) in [("--f-lo", band.f_lo), ("--f-hi", band.f_hi)] {
        if !v.is_finite() {
            return Err(bad(option, v, "use a finite frequency in Hz"));
        }
    }
    Ok(())
}

/// Refuses an output path that is one of `inputs` (the same file by device and inode, or by
/// canonical path), so `--csv` can never truncate the recording it is about to read. An output
/// that does not exist yet cannot be an input.
///
/// # Errors
/// [`CliError::OutputIsInput`].
pub fn refuse_input_as_output(
    option: &'static str,
    output: &Path,
    inputs: &[&Path],
) -> Result<(), CliError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(out_meta) = std::fs::metadata(output) else {
        return Ok(());
    };
    let out_canon = output.canonicalize().ok();
    for input in inputs {
        let same_inode = std::fs::metadata(input)
            .is_ok_and(|m| m.dev() == out_meta.dev() && m.ino() == out_meta.ino());
        let same_path = out_canon.is_some() && input.canonicalize().ok() == out_canon;
        if same_inode || same_path {
            return Err(CliError::OutputIsInput {
                option,
                output: output.to_path_buf(),
                input: input.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// An output file written whole or not at all: the data goes to a temporary file in the same
/// directory (`.NAME.partial-XXXXXX`), which [`commit`](Self::commit) renames over the target
/// (atomic on POSIX file systems). If the run fails, the temporary file is removed on drop; if
/// the process is killed, the target keeps its previous content and only the `.partial` file is
/// left behind, so a torn file is never mistaken for a complete one.
#[derive(Debug)]
pub struct AtomicOutput {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl AtomicOutput {
    /// Creates the temporary file beside `path`; returns it and a handle to write through.
    ///
    /// # Errors
    /// [`CliError::Io`] when the directory is not writable.
    pub fn create(path: &Path) -> Result<(Self, std::fs::File), CliError> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let io = |source| CliError::Io {
            action: "create a temporary file for",
            path: path.to_path_buf(),
            source,
        };
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.partial-"))
            .tempfile_in(&dir)
            .map_err(io)?;
        let file = tmp.reopen().map_err(io)?;
        Ok((
            AtomicOutput {
                path: path.to_path_buf(),
                tmp,
            },
            file,
        ))
    }

    /// Flushes the data to disk and renames the temporary file over the target.
    ///
    /// # Errors
    /// [`CliError::Io`] when syncing or renaming fails.
    pub fn commit(self) -> Result<(), CliError> {
        let path = self.path;
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|source| CliError::Io {
                action: "write",
                path: path.clone(),
                source,
            })?;
        self.tmp.persist(&path).map_err(|e| CliError::Io {
            action: "rename the finished temporary file to",
            path,
            source: e.error,
        })?;
        Ok(())
    }
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

/// Parses a size: `512M`, `512MB`, `512MiB`, `2G`, `64K`, `1024B`; a bare number is MiB.
/// Multiples are binary (1 M = 1 MB = 1 MiB = 2^20 bytes): the unit is spelled in its IEC
/// form and the `bytesize` crate parses the result (fractions such as `1.5G` included).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let iec = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "m" | "mb" | "mib" => "MiB",
        "b" => "B",
        "k" | "kb" | "kib" => "KiB",
        "g" | "gb" | "gib" => "GiB",
        "t" | "tb" | "tib" => "TiB",
        _ => {
            return Err(format!(
                "unknown size unit in `{s}`: use B, K, M or G (e.g. 512M, 2G); a bare number is MiB"
            ))
        }
    };
    let not_a_size =
        || format!("`{s}` is not a size: use e.g. 512M, 2G or 1073741824B; a bare number is MiB");
    if num.is_empty() || num.parse::<f64>().is_err() {
        return Err(not_a_size());
    }
    let bytes = format!("{num} {iec}")
        .parse::<bytesize::ByteSize>()
        .map_err(|_| not_a_size())?
        .as_u64();
    if bytes == 0 {
        return Err(format!(
            "`{s}` is not a usable size: it must be at least 1 byte"
        ));
    }
    // bytesize saturates: the largest value stands for "more than 64 bits can count".
    if bytes == u64::MAX {
        return Err(format!(
            "`{s}` is not a usable size: it must be below 16 EiB"
        ));
    }
    Ok(bytes)
}

/// The planner for `config` (RAM from the OS; `config.ram_budget` overrides it when planning).
fn planner() -> Planner {
    Planner::from_machine()
}

/// A progress bar over seconds of audio, drawn on stderr only when stdout is a terminal and
/// `quiet` is false; hidden otherwise.
fn progress_bar(total_seconds: Option<f64>, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stdout().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total_seconds {
        Some(s) => indicatif::ProgressBar::new(s.ceil() as u64),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} s of audio (eta {eta})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Bytes as MiB with one decimal, for tables.
fn mib(bytes: u64) -> f64 {
    (bytes as f64 / MIB as f64 * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_job_commands_share_one_argument_group() {
        let flags = [
            "--input",
            "x.wav",
            "--hours",
            "2",
            "--mode",
            "sqrt",
            "--window",
            "2048",
            "--hop",
            "512",
            "--lru-mb",
            "0.5",
            "--k",
            "8",
            "--ram-budget",
            "1G",
            "--f-lo",
            "100",
            "--f-hi",
            "3000",
            "--silence-dbfs",
            "-40",
            "--flatness-split",
            "0.4",
        ];
        let parse = |cmd: &[&str]| {
            let argv: Vec<&str> = ["sqrtspace"]
                .iter()
                .chain(cmd)
                .chain(&flags)
                .copied()
                .collect();
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Demo(Demo::Audio(a)) => a.job,
                Command::Plan(a) => a.job,
                Command::BenchChild(a) => a.job,
                other => panic!("not a job command: {other:?}"),
            }
        };
        let demo = format!("{:?}", parse(&["demo", "audio"]));
        assert_eq!(demo, format!("{:?}", parse(&["plan"])));
        assert_eq!(demo, format!("{:?}", parse(&["__bench-child"])));
        let job = parse(&["plan"]);
        assert_eq!(job.engine.ram_budget, Some(1 << 30));
        assert_eq!(job.input.hours, Some(2.0));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("512"), Ok(512 * MIB as u64));
        assert_eq!(parse_size("512M"), Ok(512 * MIB as u64));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("1000B"), Ok(1000));
        assert!(parse_size("12Q").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("x").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("0.1B").unwrap_err().contains("at least 1 byte"));
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("below 16 EiB"));
        assert_eq!(parse_size(" 64 KiB "), Ok(64 << 10));
    }

    #[test]
    fn every_option_is_documented() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "`{path} --{id}` has no help text");
            }
            for sub in cmd.get_subcommands() {
                assert!(
                    sub.get_about().is_some() || sub.is_hide_set(),
                    "`{path} {}` has no about",
                    sub.get_name()
                );
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "sqrtspace");
    }

    #[test]
    fn demo_arguments_parse_with_units() {
        let cli = Cli::try_parse_from([
            "sqrtspace",
            "demo",
            "audio",
            "--mode",
            "sqrt",
            "--hours",
            "0.5",
            "--window",
            "2048",
            "--hop",
            "512",
            "--lru-mb",
            "16",
            "--k",
            "32",
            "--ram-budget",
            "2G",
            "--silence-dbfs",
            "-60",
        ])
        .unwrap();
        let Command::Demo(Demo::Audio(a)) = cli.command else {
            panic!("not demo audio")
        };
        let c = a.job.engine.config().unwrap();
        assert_eq!(
            (c.mode, c.window, c.hop, c.lru_bytes),
            (Mode::Sqrt, 2048, 512, 16 * MIB)
        );
        assert_eq!(c.checkpoints, Checkpoints::Every(32));
        assert_eq!(c.ram_budget, Some(2 << 30));
        assert_eq!(a.job.band.params().silence_dbfs, -60.0);
        assert!(Cli::try_parse_from([
            "sqrtspace",
            "demo",
            "audio",
            "--repeat",
            "2",
            "--hours",
            "1"
        ])
        .is_err());
        assert!(Cli::try_parse_from(["sqrtspace", "demo", "audio", "--mode", "fast"]).is_err());
        assert!(Cli::try_parse_from(["sqrtspace", "demo", "audio", "--repeat", "0"]).is_err());
    }

    #[test]
    fn missing_and_corrupt_inputs_are_errors_not_panics() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let corrupt = dir.join("corrupt.wav");
        std::fs::write(&corrupt, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
        for (path, needle) in [(dir.join("missing.wav"), "does not exist"), (corrupt, "")] {
            let cli = Cli::try_parse_from([
                "sqrtspace",
                "demo",
                "audio",
                "--input",
                path.to_str().unwrap(),
            ])
            .unwrap();
            let err = run(cli).unwrap_err();
            assert!(matches!(err, CliError::Audio(_)), "{err:?}");
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    mod fuzz_settings {
        use super::*;
        use proptest::prelude::*;

        /// Values a user might type for a numeric option, extremes and garbage included.
        fn value() -> impl Strategy<Value = String> {
            let extreme = prop::sample::select(vec![
                "0",
                "1",
                "2",
                "-1",
                "nan",
                "NaN",
                "inf",
                "-inf",
                "1e300",
                "1e-300",
                "18446744073709551615",
                "18446744073709551616",
                "1099511627776",
                "4294967296",
                "16777217",
                "65536",
                "0.5",
                "512M",
                "1T",
            ])
            .prop_map(str::to_string);
            prop_oneof![
                4 => extreme,
                4 => (1u64..20_000).prop_map(|v| v.to_string()),
                1 => any::<u64>().prop_map(|v| v.to_string()),
                1 => any::<f32>().prop_map(|v| v.to_string()),
                1 => "[0-9.eE+-]{1,12}",
            ]
        }

        const OPTIONS: [&str; 11] = [
            "--window",
            "--hop",
            "--lru-mb",
            "--k",
            "--ram-budget",
            "--silence-dbfs",
            "--flatness-split",
            "--f-lo",
            "--f-hi",
            "--repeat",
            "--hours",
        ];

        fn cases() -> u32 {
            std::env::var("SQRTSPACE_FUZZ_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(64)
        }

        /// Any combination of option values parses to a clap usage error, or runs `plan` on
        /// the shipped recording to a plan or a typed error: never a panic, never an allocation
        /// sized by an unchecked setting. A configuration that is accepted validates and keeps
        /// the window within `MAX_WINDOW`. Prints how many cases got past clap to `run`.
        #[test]
        fn any_settings_give_a_plan_or_a_typed_error() {
            use proptest::test_runner::TestRunner;
            let mut runner = TestRunner::new(ProptestConfig {
                cases: cases(),
                failure_persistence: None,
                ..ProptestConfig::default()
            });
            let reached = std::cell::Cell::new(0u32);
            let strategy = prop::collection::vec((0..OPTIONS.len(), value()), 1..4);
            let result = runner.run(&strategy, |picks| {
                let mut args = vec!["sqrtspace".to_string(), "plan".into()];
                for (i, v) in &picks {
                    args.push(format!("{}={v}", OPTIONS[*i]));
                }
                let Ok(cli) = Cli::try_parse_from(&args) else {
                    return Ok(());
                };
                let Command::Plan(a) = &cli.command else {
                    unreachable!("parsed `plan`")
                };
                if let Ok(c) = a.job.engine.config() {
                    prop_assert!(c.validate().is_ok());
                    prop_assert!(c.window <= MAX_WINDOW && c.window >= 2);
                }
                reached.set(reached.get() + 1);
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli)));
                match outcome {
                    Err(_) => prop_assert!(false, "panicked on {args:?}"),
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        let msg = e.to_string();
                        prop_assert!(!msg.is_empty());
                        prop_assert!(!matches!(e, CliError::Child { .. }), "{msg}");
                    }
                }
                Ok(())
            });
            if let Err(e) = result {
                panic!("{e}");
            }
            println!(
                "settings fuzz: {} of {} cases got past clap to `plan`",
                reached.get(),
                cases()
            );
            assert!(
                reached.get() > 0,
                "no case reached `plan`: the generator is too wild"
            );
        }
    }

    #[test]
    fn invalid_settings_name_the_option_and_the_fix() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["sqrtspace", "demo", "audio"];
            args.extend(extra);
            let Command::Demo(Demo::Audio(a)) = Cli::try_parse_from(args).unwrap().command else {
                panic!("not demo audio")
            };
            a
        };
        let e = parse(&["--window", "1099511627776"])
            .job
            .engine
            .config()
            .unwrap_err();
        assert!(
            matches!(
                e,
                CliError::InvalidSetting {
                    option: "--window",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("e.g. 4096"), "{e}");
        let e = parse(&["--window", &u64::MAX.to_string()])
            .job
            .engine
            .config()
            .unwrap_err();
        assert!(
            matches!(
                e,
                CliError::InvalidSetting {
                    option: "--window",
                    ..
                }
            ),
            "{e:?}"
        );
        let e = parse(&["--lru-mb", "1e300"])
            .job
            .engine
            .config()
            .unwrap_err();
        assert!(
            matches!(
                e,
                CliError::InvalidSetting {
                    option: "--lru-mb",
                    ..
                }
            ),
            "{e:?}"
        );
        for (flag, v) in [
            ("--silence-dbfs", "nan"),
            ("--silence-dbfs", "inf"),
            ("--flatness-split", "nan"),
            ("--flatness-split", "1.5"),
            ("--f-hi", "inf"),
        ] {
            let e = check_band(&parse(&[flag, v]).job.band).unwrap_err();
            assert!(
                matches!(&e, CliError::InvalidSetting { option, .. } if *option == flag),
                "{flag} {v}: {e:?}"
            );
        }
        // A checkpoint interval far past any stream is a usage error; the largest accepted
        // one plans without overflowing the planner's recompute estimate (the settings fuzz
        // found `--k 498560650640798694` overflowing it).
        assert!(Cli::try_parse_from(["sqrtspace", "plan", "--k", "498560650640798694"]).is_err());
        let cli = Cli::try_parse_from(["sqrtspace", "plan", "--k", "4294967295"]).unwrap();
        assert!(run(cli).is_ok());
        assert!(check_band(&parse(&[]).job.band).is_ok());
        assert!(parse(&[]).job.engine.config().is_ok());
    }

    #[test]
    fn an_output_that_is_an_input_is_refused_by_inode_and_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.wav");
        std::fs::write(&input, b"RIFF").unwrap();
        let other = dir.path().join("other.csv");
        let link = dir.path().join("hard.wav");
        std::fs::hard_link(&input, &link).unwrap();
        let dotted = dir.path().join(".").join("in.wav");
        for out in [&input, &link, &dotted] {
            let e = refuse_input_as_output("--csv", out, &[&input]).unwrap_err();
            assert!(matches!(e, CliError::OutputIsInput { .. }), "{e:?}");
        }
        // A new file, or an existing different one, is fine.
        assert!(refuse_input_as_output("--csv", &other, &[&input]).is_ok());
        std::fs::write(&other, b"x").unwrap();
        assert!(refuse_input_as_output("--csv", &other, &[&input]).is_ok());
    }

    #[test]
    fn atomic_output_replaces_the_target_only_on_commit() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("rows.csv");
        std::fs::write(&target, b"old\n").unwrap();
        // Dropped without commit: the target keeps its content, no temporary file is left.
        {
            let (_out, mut f) = AtomicOutput::create(&target).unwrap();
            f.write_all(b"half a li").unwrap();
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"old\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Committed: replaced whole.
        let (out, mut f) = AtomicOutput::create(&target).unwrap();
        f.write_all(b"a,b\n1,2\n").unwrap();
        drop(f);
        out.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"a,b\n1,2\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
