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
use sqrtspace_audio::pipeline::{repeat_for_seconds, DEFAULT_F_HI, DEFAULT_F_LO};
use sqrtspace_audio::{AudioError, AudioJob, AudioParams, AudioReader};

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
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Bench {
    /// The audio pipeline over the window × k × LRU matrix (in process), or, with
    /// `--extreme`, classic / sqrt / auto in fresh processes over inputs that fit, barely fit
    /// and spill the RAM budget.
    Audio(bench::BenchArgs),
}

/// Errors of the command-line tool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Reading or analysing the audio failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
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
        Command::Plan(a) => plan::run(&a),
        Command::Bench(Bench::Audio(a)) => bench::run(&a),
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
    /// Checkpoint interval in windows (default: planned; 16 while streaming).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
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
    /// [`CliError::Usage`] for a negative or non-finite `--lru-mb` or `hop > window`.
    pub fn config(&self) -> Result<Config, CliError> {
        if !(self.lru_mb.is_finite() && self.lru_mb >= 0.0) {
            return Err(CliError::Usage(format!(
                "--lru-mb must be a size in MiB >= 0 (got {})",
                self.lru_mb
            )));
        }
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
    /// [`InputArgs::repeat_for`]); [`CliError::Usage`] for an invalid engine configuration
    /// (see [`EngineArgs::config`]).
    pub fn job(&self, default: &str) -> Result<AudioJob, CliError> {
        let path = self.input.path(default);
        let repeat = self.input.repeat_for(&path)?;
        Ok(AudioJob::new(path)
            .with_repeat(repeat)
            .with_config(self.engine.config()?)
            .with_params(self.band.params()))
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
}
