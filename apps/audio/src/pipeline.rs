//! The audio analysis pipeline: Hann-windowed real FFT → band-pass → spectral features →
//! spectral flux (lookback) → classification → hysteresis smoothing (state), declared with
//! `#[stage]` and `pipeline!`, and the jobs that run it on real recordings.
//!
//! ```text
//! input ─► spectrum ─► bandpass ─┬─► features ─┬─► classify ─► smooth (output)
//!   │                 ▲          │             │      ▲          ▲
//!   └─────────────────┘          └─► flux ◄────┼──────┘          │
//!        (frame length, RMS)     (bandpass[-1]) └────────────────┘
//! ```
//!
//! - [`spectrum`]: one-sided spectrum of the periodic-Hann-windowed frame
//!   ([`hann_spectrum`](dsp::hann_spectrum), realfft); `window / 2 + 1` bins, bin `k` at `k · sample_rate / window` Hz.
//! - [`bandpass`]: the spectrum with every bin outside `[f_lo, f_hi]` Hz zeroed
//!   ([`dsp::bandpass`]).
//! - [`features`]: spectral centroid (Hz), peak (Hz), flatness, kurtosis over the band and the
//!   frame's RMS level (dBFS); definitions and references on [`Features`].
//! - [`flux`]: half-wave-rectified spectral flux of the band against the previous window's band
//!   (`bandpass[-1]`, a lookback; 0 at window 0), [`spectral_flux`].
//! - [`classify`]: silence / tonal / noise from level and flatness ([`dsp::classify`]).
//! - [`smooth`]: a [`ClassSmoother`] (the stage's `#[state]`) removes isolated flips; the
//!   output [`WindowClass`] carries the smoothed class, the raw class, the features and the flux.
//!
//! [`AudioJob`] runs the pipeline on a file: in `sqrt` mode it decodes incrementally with
//! [`AudioReader`] on a thread of its own (overlapped with the evaluation) and feeds [`Pipeline::stream`](sqrtspace::Pipeline::stream), never holding the recording; in `classic`
//! mode it decodes everything into memory and calls [`Pipeline::evaluate_with`](sqrtspace::Pipeline::evaluate_with) (the
//! baseline); in `auto` mode [`AudioJob::estimate`] plans from the file header alone and picks
//! one of the two. Outputs are bit-identical across modes ([`OutputDigest`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use num_complex::Complex32;

use crate::decode::{AudioReader, DecodeError};
use crate::decode_ahead::{decoded_ahead, Decoded};
use crate::dsp::{
    self, band_bins, band_features, hann_spectrum_into, spectral_flux, Class, ClassSmoother,
    ClassSummary, DspError, Features, DEFAULT_FLATNESS_SPLIT, DEFAULT_SILENCE_DBFS,
};
use sqrtspace::config::{Checkpoints, Config, Mode, MIB};
use sqrtspace::exec::{needs, span, Graph, Has, StreamEnd};
use sqrtspace::metrics::{reset_peak_rss, Counters, Measured, Meter, Report, Verification};
use sqrtspace::plan::{Plan, Planner};
use sqrtspace::{pipeline, stage, ByteSize};

/// The default lower edge of the analysis band: 80 Hz.
pub const DEFAULT_F_LO: f32 = 80.0;
/// The default upper edge of the analysis band: 2000 Hz.
pub const DEFAULT_F_HI: f32 = 2000.0;

/// Runtime parameters of [`AudioPipeline`] (the pipeline's `#[params]`).
///
/// | field | unit | default |
/// |---|---|---|
/// | `sample_rate` | Hz, of the decoded signal | set from the file by [`AudioJob`] |
/// | `f_lo`, `f_hi` | Hz, band kept by [`bandpass`] (inclusive bin centres) | 80, 2000 |
/// | `silence_dbfs` | dBFS, RMS level below which a window is silence | −50 |
/// | `flatness_split` | spectral flatness above which an audible window is noise | 0.3 |
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioParams {
    /// Sample rate of the signal in Hz.
    pub sample_rate: u32,
    /// Lowest kept frequency in Hz.
    pub f_lo: f32,
    /// Highest kept frequency in Hz (must be below the Nyquist frequency `sample_rate / 2`).
    pub f_hi: f32,
    /// Silence threshold in dBFS (RMS level, full scale 1.0).
    pub silence_dbfs: f32,
    /// Flatness above which an audible window is [`Class::Noise`] (0..1).
    pub flatness_split: f32,
}

impl AudioParams {
    /// The defaults (band 80..2000 Hz, silence below −50 dBFS, noise above flatness 0.3) for a
    /// signal sampled at `sample_rate` Hz.
    #[must_use]
    pub fn new(sample_rate: u32) -> Self {
        AudioParams {
            sample_rate,
            f_lo: DEFAULT_F_LO,
            f_hi: DEFAULT_F_HI,
            silence_dbfs: DEFAULT_SILENCE_DBFS,
            flatness_split: DEFAULT_FLATNESS_SPLIT,
        }
    }

    /// Sets the band in Hz.
    #[must_use]
    pub fn with_band(mut self, f_lo: f32, f_hi: f32) -> Self {
        self.f_lo = f_lo;
        self.f_hi = f_hi;
        self
    }

    /// The sample rate as `f32` Hz, as the DSP helpers take it.
    #[must_use]
    pub fn rate(&self) -> f32 {
        self.sample_rate as f32
    }

    /// Checks the parameters against frames of `window` samples.
    ///
    /// # Errors
    /// [`AudioError::WindowTooLarge`] when `window > MAX_WINDOW`,
    /// [`AudioError::InvalidThreshold`] for a silence threshold that is not finite or a
    /// flatness split outside `[0, 1]` (NaN included),
    /// [`AudioError::InvalidBand`] for a band that is not `0 <= f_lo < f_hi` (finite),
    /// [`AudioError::SampleRateTooLow`] when `f_hi >= sample_rate / 2`, and
    /// [`AudioError::EmptyBand`] when no bin centre of a `window`-sample FFT falls in the band.
    pub fn check(&self, window: usize) -> Result<(), AudioError> {
        if window > MAX_WINDOW {
            return Err(AudioError::WindowTooLarge {
                window: window as u64,
                max: MAX_WINDOW,
            });
        }
        if !self.silence_dbfs.is_finite() {
            return Err(AudioError::InvalidThreshold {
                name: "silence threshold (--silence-dbfs)",
                value: self.silence_dbfs,
                expected: "a finite level in dBFS, e.g. -50",
            });
        }
        if !(self.flatness_split.is_finite() && (0.0..=1.0).contains(&self.flatness_split)) {
            return Err(AudioError::InvalidThreshold {
                name: "flatness split (--flatness-split)",
                value: self.flatness_split,
                expected: "a spectral flatness between 0 and 1, e.g. 0.3",
            });
        }
        let (f_lo, f_hi) = (self.f_lo, self.f_hi);
        if !(f_lo.is_finite() && f_hi.is_finite() && f_lo >= 0.0 && f_lo < f_hi) {
            return Err(AudioError::InvalidBand { f_lo, f_hi });
        }
        let nyquist = self.sample_rate as f32 / 2.0;
        if f_hi >= nyquist {
            return Err(AudioError::SampleRateTooLow {
                sample_rate: self.sample_rate,
                f_hi,
                nyquist,
            });
        }
        if band_bins(f_lo, f_hi, window, self.rate()).is_empty() {
            return Err(AudioError::EmptyBand {
                f_lo,
                f_hi,
                window,
                bin_hz: self.rate() / window.max(1) as f32,
            });
        }
        Ok(())
    }
}

/// The longest analysis window [`AudioParams::check`] accepts: 2^24 samples (6.3 minutes at
/// 44.1 kHz; one frame and its spectrum then take 192 MiB). Longer windows would make the
/// per-window buffers (and the planner's probe frame) allocate without bound.
pub const MAX_WINDOW: usize = 1 << 24;

/// Everything that can go wrong running the audio pipeline on a file. Each message says what
/// to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// Opening or decoding the recording failed (missing, unsupported, corrupt, truncated,
    /// empty); mid-stream errors carry the samples read before the failure.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The engine refused the configuration or a stage failed.
    #[error(transparent)]
    Engine(#[from] sqrtspace::Error),
    /// A DSP helper rejected its arguments.
    #[error(transparent)]
    Dsp(#[from] DspError),
    /// The band's upper edge is at or above the Nyquist frequency of the recording.
    #[error(
        "the recording's sample rate ({sample_rate} Hz) is too low for the band: its upper edge \
         f_hi = {f_hi} Hz is not below the Nyquist frequency {nyquist} Hz (half the sample rate); \
         lower f_hi (--f-hi) below {nyquist} Hz, or use a recording sampled above {} Hz",
        2.0 * f_hi
    )]
    SampleRateTooLow {
        /// The recording's sample rate in Hz.
        sample_rate: u32,
        /// The band's upper edge in Hz.
        f_hi: f32,
        /// Half the sample rate in Hz.
        nyquist: f32,
    },
    /// The analysis window is longer than [`MAX_WINDOW`].
    #[error(
        "the window of {window} samples is longer than the {max} samples this analysis accepts \
         (one frame and its spectrum are allocated per window); use a shorter --window, e.g. 4096"
    )]
    WindowTooLarge {
        /// The requested window in samples.
        window: u64,
        /// [`MAX_WINDOW`].
        max: usize,
    },
    /// A classifier threshold is NaN, infinite or out of its range.
    #[error("invalid {name}: {value}; use {expected}")]
    InvalidThreshold {
        /// Which threshold, with its command-line option.
        name: &'static str,
        /// The value given.
        value: f32,
        /// What is accepted.
        expected: &'static str,
    },
    /// The band is not `0 <= f_lo < f_hi` with finite edges.
    #[error(
        "invalid band {f_lo}..{f_hi} Hz: use finite edges with 0 <= f_lo < f_hi (--f-lo, --f-hi)"
    )]
    InvalidBand {
        /// Lower edge in Hz.
        f_lo: f32,
        /// Upper edge in Hz.
        f_hi: f32,
    },
    /// No FFT bin centre falls inside the band.
    #[error(
        "the band {f_lo}..{f_hi} Hz holds no FFT bin at window {window} samples (bins are \
         {bin_hz} Hz apart): widen the band or use a longer window (--window)"
    )]
    EmptyBand {
        /// Lower edge in Hz.
        f_lo: f32,
        /// Upper edge in Hz.
        f_hi: f32,
        /// Window in samples.
        window: usize,
        /// Bin spacing in Hz.
        bin_hz: f32,
    },
    /// The recording holds fewer samples than one analysis window.
    #[error(
        "`{}` holds {samples} samples ({:.3} s at {sample_rate} Hz), fewer than one analysis \
         window of {window} samples: use a longer recording, --repeat, or a shorter --window",
        .path.display(),
        *samples as f64 / f64::from(*sample_rate)
    )]
    TooShort {
        /// The recording.
        path: PathBuf,
        /// Samples decoded.
        samples: u64,
        /// Window in samples.
        window: usize,
        /// Sample rate in Hz.
        sample_rate: u32,
    },
    /// `--hours` needs the recording's length, which its header does not declare.
    #[error(
        "`{}` does not declare its length, so a duration in hours cannot be turned into a \
         repeat count: use --repeat N instead",
        .path.display()
    )]
    UnknownLength {
        /// The recording.
        path: PathBuf,
    },
    /// Classic mode could not allocate the decoded signal.
    #[error(
        "classic mode could not allocate {} for the decoded signal ({samples} samples): the input \
         does not fit in memory; use --mode sqrt (bounded memory) or --mode auto",
        sqrtspace::plan::human(*bytes)
    )]
    OutOfMemory {
        /// Bytes requested.
        bytes: u64,
        /// Samples of the input.
        samples: u64,
    },
    /// The requested long-form input needs more than `u32::MAX` passes, or a duration that is
    /// not positive and finite.
    #[error("cannot loop `{}` for {seconds} s: use a duration above 0 that needs at most 4294967295 passes", .path.display())]
    InvalidDuration {
        /// The recording.
        path: PathBuf,
        /// The requested duration in seconds.
        seconds: f64,
    },
}

/// One analysed window: the output of [`smooth`], the pipeline's output stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowClass {
    /// The smoothed class ([`ClassSmoother`] over the raw decisions).
    pub class: Class,
    /// The raw per-window decision of [`classify`].
    pub raw: Class,
    /// Spectral features of the band and the frame's level.
    pub features: Features,
    /// Spectral flux of the band against the previous window (magnitude units).
    pub flux: f32,
}

impl WindowClass {
    /// The exact bits of every field (for bit-identity checks; NaN-safe, unlike `==`).
    #[must_use]
    pub fn to_bits(&self) -> [u32; 8] {
        let f = &self.features;
        [
            class_code(self.class),
            class_code(self.raw),
            f.centroid_hz.to_bits(),
            f.peak_hz.to_bits(),
            f.flatness.to_bits(),
            f.kurtosis.to_bits(),
            f.rms_dbfs.to_bits(),
            self.flux.to_bits(),
        ]
    }

    /// Whether two outputs are bit-identical.
    #[must_use]
    pub fn bits_eq(&self, other: &WindowClass) -> bool {
        self.to_bits() == other.to_bits()
    }
}

fn class_code(c: Class) -> u32 {
    match c {
        Class::Silence => 0,
        Class::Tonal => 1,
        Class::Noise => 2,
        Class::NonFinite => 3,
    }
}

impl ByteSize for Class {}
impl ByteSize for Features {}
impl ByteSize for ClassSmoother {}
impl ByteSize for WindowClass {}

// ---------------------------------------------------------------------------------------------
// The stages.

/// The one-sided spectrum of the periodic-Hann-windowed frame: `window / 2 + 1` bins,
/// unnormalised ([`hann_spectrum`](dsp::hann_spectrum)), written into `out` (a recycled buffer: see "Buffer
/// reuse" in the `sqrtspace` docs; every bin is overwritten).
#[stage(inputs = [input], cost = 10)]
pub fn spectrum(frame: &[f32], #[out] out: &mut Vec<Complex32>) {
    hann_spectrum_into(frame, out);
}

/// The spectrum with every bin whose centre lies outside `[f_lo, f_hi]` Hz zeroed
/// ([`dsp::bandpass`]), written into `out` (a recycled buffer, cleared and refilled); the
/// frame is read only for its length.
#[stage(inputs = [spectrum, input], cost = 1)]
pub fn bandpass(
    spec: &[Complex32],
    frame: &[f32],
    #[params] p: &AudioParams,
    #[out] out: &mut Vec<Complex32>,
) {
    dsp::bandpass_into(spec, p.f_lo, p.f_hi, p.rate(), frame.len(), out);
}

/// Spectral features over the band's bins ([`band_features`]) and the RMS level of the
/// raw frame.
#[stage(inputs = [bandpass, input], cost = 2)]
pub fn features(band: &[Complex32], frame: &[f32], #[params] p: &AudioParams) -> Features {
    let bins = band_bins(p.f_lo, p.f_hi, frame.len(), p.rate());
    band_features(band, bins, frame, p.rate(), frame.len())
}

/// Half-wave-rectified spectral flux (L2) of the band against the previous window's band;
/// 0 at window 0 ([`spectral_flux`]).
#[stage(inputs = [bandpass, bandpass[-1]], cost = 1)]
pub fn flux(band: &[Complex32], previous: Option<&Vec<Complex32>>) -> f32 {
    spectral_flux(band, previous.map(Vec::as_slice))
}

/// The raw class of the window ([`dsp::classify`]: silence below `silence_dbfs`, noise above
/// `flatness_split`, tonal otherwise).
#[stage(inputs = [features, flux], cost = 1)]
pub fn classify(f: &Features, flux: &f32, #[params] p: &AudioParams) -> Class {
    dsp::classify(f, *flux, p.silence_dbfs, p.flatness_split)
}

/// Hysteresis over the raw classes (a [`ClassSmoother`] carried across windows), bundled with
/// the features and flux of the window.
#[stage(inputs = [classify, features, flux], cost = 1)]
pub fn smooth(
    raw: &Class,
    f: &Features,
    flux: &f32,
    #[state] s: &mut ClassSmoother,
) -> WindowClass {
    WindowClass {
        class: s.update(*raw),
        raw: *raw,
        features: *f,
        flux: *flux,
    }
}

pipeline! {
    /// Silence / tonal / noise classification of windowed audio: spectrum → band-pass →
    /// features and flux → classify → smooth.
    pub struct AudioPipeline {
        sample: f32,
        params: AudioParams,
        stages: [spectrum, bandpass, features, flux, classify, smooth],
        output: smooth,
    }
}

/// The same stage functions called by hand, window by window, over an in-memory signal: what
/// the engine's `sqrt` mode should cost (the throughput baseline of `sqrtspace bench audio`).
/// Returns the number of windows.
pub fn fused_loop(
    signal: &[f32],
    config: &Config,
    params: &AudioParams,
    mut sink: impl FnMut(u64, WindowClass),
) -> u64 {
    let (w, h) = (config.window, config.hop);
    let windows = config.windows_in(signal.len() as u64);
    let mut state = ClassSmoother::default();
    // Buffers allocated once: the spectrum's, and two bands (this window's and the previous
    // one, swapped each window).
    let (mut spec, mut band) = (Vec::new(), Vec::new());
    let mut previous: Option<Vec<Complex32>> = None;
    for t in 0..windows {
        let start = t as usize * h;
        let frame = &signal[start..start + w];
        spectrum(frame, &mut spec);
        bandpass(&spec, frame, params, &mut band);
        let f = features(&band, frame, params);
        let fl = flux(&band, previous.as_ref());
        let raw = classify(&f, &fl, params);
        sink(t, smooth(&raw, &f, &fl, &mut state));
        let spent = previous.replace(std::mem::take(&mut band));
        band = spent.unwrap_or_default();
    }
    windows
}

// ---------------------------------------------------------------------------------------------
// Output digests.

/// An order-sensitive 64-bit digest (FNV-1a) of a run's outputs: window indices and the exact
/// bits of every [`WindowClass`]. Equal digests over equal window counts mean bit-identical
/// outputs (up to a 2⁻⁶⁴ collision), without keeping the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputDigest {
    /// The FNV-1a state.
    pub hash: u64,
    /// Windows folded in.
    pub windows: u64,
}

impl Default for OutputDigest {
    fn default() -> Self {
        OutputDigest {
            hash: 0xcbf2_9ce4_8422_2325,
            windows: 0,
        }
    }
}

impl OutputDigest {
    /// Folds in window `t`'s output.
    pub fn push(&mut self, t: u64, o: &WindowClass) {
        let mut h = self.hash;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(&t.to_le_bytes());
        for word in o.to_bits() {
            eat(&word.to_le_bytes());
        }
        self.hash = h;
        self.windows += 1;
    }
}

impl std::fmt::Display for OutputDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x} over {} windows", self.hash, self.windows)
    }
}

// ---------------------------------------------------------------------------------------------
// Jobs.

/// The LRU budget of the demo and the long-form runs: 2 MiB, room for ~64 cached spectra of
/// 16 KiB at `window = 4096` (a window needs its spectrum, its band and the previous window's
/// band). Just big enough: a larger LRU only cycles more memory through the caches
/// (`sqrtspace bench audio` measured sqrt at 1.07x the fused loop with 2 MiB, 1.14x with
/// 8 MiB, 1.18x with 32 MiB on 5 minutes of 44.1 kHz audio).
pub const DEMO_LRU_BYTES: usize = 2 * MIB;
/// The checkpoint budget of the demo: 64 KiB (the smoother's state is 12 bytes; streaming
/// never restores, checkpoints only serve random access).
pub const DEMO_CHECKPOINT_BYTES: usize = 64 << 10;
/// Samples handed to [`Pipeline::stream`](sqrtspace::Pipeline::stream) per chunk (decoder packets are gathered up to this).
const CHUNK_SAMPLES: usize = 1 << 15;

/// The engine configuration of the demo: the spec's window (4096) and hop (1024), a 2 MiB
/// LRU and a 64 KiB checkpoint ring.
#[must_use]
pub fn demo_config() -> Config {
    Config::default()
        .with_lru_bytes(DEMO_LRU_BYTES)
        .with_checkpoint_bytes(DEMO_CHECKPOINT_BYTES)
}

/// The pass count that makes `seconds` of audio from a recording of `duration_samples`
/// samples at `sample_rate` Hz: `ceil(seconds · sample_rate / duration_samples)`.
///
/// # Errors
/// [`AudioError::InvalidDuration`] when `seconds` is not positive and finite or the count
/// exceeds `u32::MAX`.
pub fn repeat_for_seconds(
    path: &Path,
    duration_samples: u64,
    sample_rate: u32,
    seconds: f64,
) -> Result<u32, AudioError> {
    let bad = || AudioError::InvalidDuration {
        path: path.to_path_buf(),
        seconds,
    };
    if !(seconds.is_finite() && seconds > 0.0) || duration_samples == 0 {
        return Err(bad());
    }
    let passes = (seconds * f64::from(sample_rate) / duration_samples as f64).ceil();
    if passes > f64::from(u32::MAX) {
        return Err(bad());
    }
    Ok((passes as u32).max(1))
}

/// What the planner expects for a job, computed from the file header without decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// The plan `auto` follows (or the requested mode's plan).
    pub plan: Plan,
    /// The recording's sample rate in Hz.
    pub sample_rate: u32,
    /// Mono samples of the whole input (one pass × repeat), when the header declares a length.
    pub total_samples: Option<u64>,
    /// Bytes each stage outputs per window, in declaration order (`AudioPipeline::STAGES`).
    pub per_window: Vec<usize>,
}

impl Estimate {
    /// Seconds of input, when known.
    #[must_use]
    pub fn seconds(&self) -> Option<f64> {
        self.total_samples
            .map(|n| n as f64 / f64::from(self.sample_rate))
    }
}

/// Analysis of one recording (optionally looped): input, engine configuration (including the
/// requested mode) and band parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioJob {
    /// The recording (WAV PCM, FLAC or Ogg Vorbis).
    pub input: PathBuf,
    /// Times the recording is played back to back (≥ 1).
    pub repeat: u32,
    /// Engine configuration; `mode` selects classic, sqrt or auto.
    pub config: Config,
    /// Band and classifier parameters; `sample_rate` is replaced by the recording's.
    pub params: AudioParams,
}

/// A completed run.
#[derive(Debug, Clone)]
pub struct AudioRun {
    /// The mode the configuration asked for.
    pub requested: Mode,
    /// The mode that ran (never `Auto`).
    pub mode: Mode,
    /// The plan: for `auto`, the estimate that chose the mode; else the estimate for the
    /// requested mode.
    pub plan: Plan,
    /// The effective configuration (mode resolved).
    pub config: Config,
    /// The checkpoint interval used, in windows.
    pub k: u64,
    /// The LRU budget the engine used, in bytes: in sqrt mode the configured one capped by the
    /// planner ([`Planner::lru_for`]: at most 0.6 × the last-level cache), in classic mode the
    /// plan's. May be less than `config.lru_bytes`.
    pub lru_bytes: usize,
    /// Threads the engine used ([`Pipeline::workers_used`](sqrtspace::Pipeline::workers_used)):
    /// 1 unless the planner chose parallel evaluation for `config.max_workers > 1`.
    pub workers: usize,
    /// The recording's sample rate in Hz.
    pub sample_rate: u32,
    /// Samples read, windows evaluated, trailing samples no window covers.
    pub end: StreamEnd,
    /// Class fractions and segments.
    pub summary: ClassSummary,
    /// Digest of every output.
    pub digest: OutputDigest,
    /// Time, CPU, peak RSS and faults of the run (decoding included). On Linux `peak_rss` is
    /// this run's own peak ([`sqrtspace::metrics::peak_rss`], reset when the run starts), elsewhere the
    /// process's high-water mark (`ru_maxrss`).
    pub measured: Measured,
    /// Time spent inside the decoder. Streamed runs decode on their own thread, overlapped
    /// with the evaluation (so it may be mostly hidden in `measured.wall`, and it counts in
    /// `measured`'s CPU time); classic runs decode first, on the calling thread.
    pub decode: Duration,
    /// The engine's counters.
    pub counters: Counters,
}

impl AudioRun {
    /// Seconds of audio analysed.
    #[must_use]
    pub fn seconds(&self) -> f64 {
        self.end.samples as f64 / f64::from(self.sample_rate)
    }

    /// Windows per second of wall time.
    #[must_use]
    pub fn windows_per_second(&self) -> f64 {
        self.end.windows as f64 / self.measured.wall.as_secs_f64().max(1e-9)
    }

    /// The report in the spec's template. `baseline`: a measured classic run; without one,
    /// classic's working set is the planner's estimate.
    #[must_use]
    pub fn report(&self, baseline: Option<&AudioRun>, outputs: Verification) -> Report {
        let (baseline, baseline_estimated) = match baseline {
            Some(b) => (Some(b.measured), false),
            None => (
                Some(Measured {
                    wall: Duration::ZERO,
                    cpu: Duration::ZERO,
                    peak_rss: self.plan.classic_bytes,
                    minor_faults: 0,
                    major_faults: 0,
                    read_bytes: 0,
                    write_bytes: 0,
                }),
                true,
            ),
        };
        Report {
            mode: self.mode,
            requested: self.requested,
            window: self.config.window,
            hop: self.config.hop,
            k: self.k,
            lru_bytes: self.lru_bytes,
            workers: self.workers,
            windows: self.end.windows,
            run: self.measured,
            baseline,
            baseline_estimated,
            outputs,
            counters: self.counters.clone(),
        }
    }
}

/// Where the job's input stands while it runs: handed to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Mono samples decoded so far.
    pub samples: u64,
    /// Samples of the whole input, when known.
    pub total: Option<u64>,
}

/// Chunks decoded ahead on the decoder thread ([`crate::decode_ahead`]), with decode time
/// and progress accounted on the calling thread as they arrive.
struct Chunks<'a> {
    decoded: &'a mut dyn Iterator<Item = Decoded>,
    decode: &'a mut Duration,
    progress: &'a mut dyn FnMut(Progress),
    total: Option<u64>,
}

impl Iterator for Chunks<'_> {
    type Item = Result<Vec<f32>, AudioError>;
    fn next(&mut self) -> Option<Self::Item> {
        let d = self.decoded.next()?;
        *self.decode += d.decode;
        (self.progress)(Progress {
            samples: d.samples_read,
            total: self.total,
        });
        Some(d.item.map_err(AudioError::from))
    }
}

impl AudioJob {
    /// A job over `input`, played once, with [`demo_config`] (mode `auto`) and the default band.
    #[must_use]
    pub fn new(input: impl Into<PathBuf>) -> Self {
        AudioJob {
            input: input.into(),
            repeat: 1,
            config: demo_config(),
            params: AudioParams::new(0),
        }
    }

    /// Sets the pass count.
    #[must_use]
    pub fn with_repeat(mut self, repeat: u32) -> Self {
        self.repeat = repeat;
        self
    }

    /// Sets the engine configuration.
    #[must_use]
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the mode.
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.config.mode = mode;
        self
    }

    /// Sets the band and classifier parameters (`sample_rate` is taken from the file).
    #[must_use]
    pub fn with_params(mut self, params: AudioParams) -> Self {
        self.params = params;
        self
    }

    /// Opens the input and checks the configuration and band against its sample rate.
    ///
    /// # Errors
    /// Decoder errors when opening, [`AudioError::Engine`] for an invalid configuration, and
    /// the band errors of [`AudioParams::check`] ([`AudioError::WindowTooLarge`] first, before
    /// the engine's own limits, which a huge window would also break).
    pub fn open(&self) -> Result<(AudioReader, AudioParams), AudioError> {
        // The job's own limit first: it names the option to change, where the engine's
        // overflow checks would only say which product is too large.
        if self.config.window > MAX_WINDOW {
            return Err(AudioError::WindowTooLarge {
                window: self.config.window as u64,
                max: MAX_WINDOW,
            });
        }
        self.config.validate().map_err(sqrtspace::Error::from)?;
        let reader = AudioReader::with_repeat(&self.input, self.repeat)?;
        let params = AudioParams {
            sample_rate: reader.sample_rate(),
            ..self.params
        };
        params.check(self.config.window)?;
        Ok((reader, params))
    }

    /// The plan for this job from the file header alone (no decoding): the input's length is
    /// `duration_samples × repeat`, stage output sizes come
    /// from the engine's probe on silence ([`per_window_bytes`]), and the windows each stage
    /// needs from [`needs`]; [`Planner::plan`] then estimates classic's working set (every
    /// intermediate plus the decoded signal) and sqrt's (LRU plus checkpoints) and picks the
    /// mode with its reason. When the header declares no length, `auto` picks sqrt (the
    /// stream's length is unknown, so only bounded memory is safe).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn estimate(&self, planner: &Planner) -> Result<Estimate, AudioError> {
        let (reader, params) = self.open()?;
        estimate_for(&self.config, &params, reader.total_samples(), planner)
    }

    /// Runs the job in its configured mode (auto: as [`estimate`](Self::estimate) decides),
    /// handing each window's output to `sink` in order and the decoder's position to
    /// `progress`. A sink that fails (a writer's `Err`) stops the run at that window.
    ///
    /// # Errors
    /// As [`open`](Self::open); decoder errors mid-stream (with the samples read; outputs of
    /// complete windows before the failure have been handed to `sink`);
    /// [`AudioError::TooShort`] when the input holds no complete window;
    /// [`AudioError::Engine`]`(`[`sqrtspace::Error::Sink`]`)` with the sink's `io::Error` as
    /// its source when the sink fails (decoding stops there too: at most a few chunks, the
    /// decoder thread's queue, were decoded ahead).
    ///
    /// Streamed runs (`sqrt`) decode on a thread of their own (`sqrtspace-decode`), feeding
    /// the evaluation through a bounded queue of decoded chunks, so that the run takes about
    /// the longer of decoding and evaluating, not their sum.
    pub fn run(
        &self,
        planner: &Planner,
        progress: &mut dyn FnMut(Progress),
        sink: &mut dyn FnMut(u64, &WindowClass) -> std::io::Result<()>,
    ) -> Result<AudioRun, AudioError> {
        let (mut reader, params) = self.open()?;
        let estimate = estimate_for(&self.config, &params, reader.total_samples(), planner)?;
        let mode = estimate.plan.mode;
        let mut config = self.config.clone();
        config.mode = mode;
        let mut pipe = AudioPipeline::new(config.clone(), params)?;
        pipe.set_planner(planner.clone());
        let mut summary = ClassSummary::new(config.hop, params.sample_rate)?;
        let mut digest = OutputDigest::default();
        let mut decode = Duration::ZERO;
        let total = reader.total_samples();
        let mut on_output = |t: u64, o: &WindowClass| {
            summary.push(t, o.class);
            digest.push(t, o);
            sink(t, o)
        };
        // This run's own peak: VmHWM restarts from the current RSS (Linux; see reset_peak_rss).
        reset_peak_rss();
        let meter = Meter::start();
        let (end, k, lru_bytes) = match mode {
            Mode::Classic => {
                let signal = read_signal(&mut reader, &mut decode, progress, total)?;
                let windows = config.windows_in(signal.len() as u64);
                if windows == 0 {
                    return Err(too_short(
                        &self.input,
                        signal.len() as u64,
                        &config,
                        params.sample_rate,
                    ));
                }
                pipe.evaluate_with::<smooth>(&signal, 0..windows, |t, o| on_output(t, &o))?;
                let covered = (windows - 1) * config.hop as u64 + config.window as u64;
                let k = pipe.last_plan().map_or(0, |p| p.k);
                let lru = pipe.last_plan().map_or(config.lru_bytes, |p| p.lru_bytes);
                (
                    StreamEnd {
                        stopped_at: None,
                        samples: signal.len() as u64,
                        windows,
                        tail_samples: signal.len() as u64 - covered,
                    },
                    k,
                    lru,
                )
            }
            _ => {
                // Decoding runs on its own thread, overlapped with the evaluation.
                let end = decoded_ahead(&mut reader, CHUNK_SAMPLES, |decoded| {
                    let chunks = Chunks {
                        decoded,
                        decode: &mut decode,
                        progress,
                        total,
                    };
                    pipe.stream(chunks, |t, o| on_output(t, &o))
                })?;
                if end.windows == 0 {
                    return Err(too_short(
                        &self.input,
                        end.samples,
                        &config,
                        params.sample_rate,
                    ));
                }
                (
                    end,
                    streaming_k(planner, &config, &params),
                    planner.lru_for(&config, Mode::Sqrt, 0),
                )
            }
        };
        let measured = meter.stop();
        Ok(AudioRun {
            requested: self.config.mode,
            mode,
            plan: estimate.plan,
            config,
            k,
            lru_bytes,
            workers: pipe.workers_used(),
            sample_rate: params.sample_rate,
            end,
            summary,
            digest,
            measured,
            decode,
            counters: pipe.counters(),
        })
    }

    /// Runs the job again in `mode` and compares its outputs with `main`'s: digests first,
    /// then, only if they differ, window by window (re-running `main`'s mode) to count the
    /// windows that differ. Returns the other run and the verdict.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn verify(
        &self,
        planner: &Planner,
        main: &AudioRun,
        mode: Mode,
    ) -> Result<(AudioRun, Verification), AudioError> {
        let other_job = self.clone().with_mode(mode);
        let mut kept: Vec<WindowClass> = Vec::new();
        let other = other_job.run(planner, &mut |_| {}, &mut |_, o| {
            kept.push(*o);
            Ok(())
        })?;
        if other.digest == main.digest {
            return Ok((other, Verification::Identical));
        }
        let again = self.clone().with_mode(main.mode);
        let differ = count_differing(&kept, WindowClass::bits_eq, |sink| {
            again
                .run(planner, &mut |_| {}, &mut |t, o| {
                    sink(t, o);
                    Ok(())
                })
                .map(|_| ())
        })?;
        Ok((other, Verification::Differ(differ.max(1))))
    }
}

/// The verifier's window-by-window comparison: runs `rerun`, which hands each window's output
/// to the sink as `(t, output)`, and counts the windows whose output is not `same` as
/// `kept[t]`, plus the difference in window counts (a window only one run produced differs).
///
/// [`AudioJob::verify`] calls it once the digests of two runs disagree; it is generic so a test
/// can drive it with a deliberately non-deterministic stage.
///
/// # Errors
/// Whatever `rerun` returns.
pub fn count_differing<T, E>(
    kept: &[T],
    same: impl Fn(&T, &T) -> bool,
    rerun: impl FnOnce(&mut dyn FnMut(u64, &T)) -> Result<(), E>,
) -> Result<u64, E> {
    let mut differ = 0u64;
    let mut seen = 0u64;
    rerun(&mut |t, o| {
        seen += 1;
        if usize::try_from(t)
            .ok()
            .and_then(|t| kept.get(t))
            .is_none_or(|k| !same(k, o))
        {
            differ += 1;
        }
    })?;
    Ok(differ + (kept.len() as u64).abs_diff(seen))
}

fn too_short(path: &Path, samples: u64, config: &Config, sample_rate: u32) -> AudioError {
    AudioError::TooShort {
        path: path.to_path_buf(),
        samples,
        window: config.window,
        sample_rate,
    }
}

/// The checkpoint interval [`Pipeline::stream`](sqrtspace::Pipeline::stream) uses (the stream's length is unknown to it).
fn streaming_k(planner: &Planner, config: &Config, params: &AudioParams) -> u64 {
    planner.k_for(
        config,
        None,
        span::<AudioPipeline>(config.window, config.hop),
        AudioPipeline::state_bytes(params),
    )
}

/// Decodes the whole input into memory (classic mode's baseline), preallocated from the header.
fn read_signal(
    reader: &mut AudioReader,
    decode: &mut Duration,
    progress: &mut dyn FnMut(Progress),
    total: Option<u64>,
) -> Result<Vec<f32>, AudioError> {
    let mut signal: Vec<f32> = Vec::new();
    if let Some(n) = total {
        let too_big = || AudioError::OutOfMemory {
            bytes: n.saturating_mul(4),
            samples: n,
        };
        signal
            .try_reserve_exact(usize::try_from(n).map_err(|_| too_big())?)
            .map_err(|_| too_big())?;
    }
    loop {
        let start = Instant::now();
        let chunk = reader.next_chunk();
        *decode += start.elapsed();
        match chunk? {
            Some(c) => {
                // Fallible growth too: the header may not declare the length, or lie about it.
                let needed = signal.len().saturating_add(c.len()) as u64;
                signal
                    .try_reserve(c.len())
                    .map_err(|_| AudioError::OutOfMemory {
                        bytes: needed.saturating_mul(4),
                        samples: needed,
                    })?;
                signal.extend_from_slice(c);
            }
            None => break,
        }
        if signal.len() % CHUNK_SAMPLES < 8192 {
            progress(Progress {
                samples: signal.len() as u64,
                total,
            });
        }
    }
    progress(Progress {
        samples: signal.len() as u64,
        total,
    });
    Ok(signal)
}

/// Bytes each stage outputs per window at `config.window`, in declaration order: the engine's
/// probe ([`Pipeline::probe_output_bytes`](sqrtspace::Pipeline::probe_output_bytes)) on four
/// windows of silence (output sizes do not depend on the content; no decoding needed).
///
/// # Errors
/// [`AudioError::Engine`] for an invalid configuration.
pub fn per_window_bytes(config: &Config, params: &AudioParams) -> Result<Vec<usize>, AudioError> {
    let mut pipe = AudioPipeline::new(config.clone(), *params)?;
    let silence = vec![0.0f32; config.window.saturating_add(config.hop.saturating_mul(3))];
    Ok(pipe.probe_output_bytes(&silence)?)
}

/// The plan for `total_samples` samples of input (see [`AudioJob::estimate`]).
///
/// # Errors
/// [`AudioError::Engine`] for an invalid configuration (see [`per_window_bytes`]).
pub fn estimate_for(
    config: &Config,
    params: &AudioParams,
    total_samples: Option<u64>,
    planner: &Planner,
) -> Result<Estimate, AudioError> {
    let per_window = per_window_bytes(config, params)?;
    let samples = total_samples.unwrap_or(0);
    let windows = config.windows_in(samples).max(1);
    let range = 0..windows;
    let need = needs::<AudioPipeline>(<AudioPipeline as Has<smooth>>::INDEX, range.clone());
    let signal = usize::try_from(samples).unwrap_or(usize::MAX);
    let mut plan = planner.plan::<AudioPipeline>(
        config,
        &range,
        &need,
        &per_window,
        AudioPipeline::state_bytes(params),
        signal,
    );
    if total_samples.is_none() {
        plan.k = streaming_k(planner, config, params);
        plan.k_reason = "the stream's length is unknown".to_string();
        if config.mode == Mode::Auto {
            plan.mode = Mode::Sqrt;
            plan.reason =
                "the recording does not declare its length: sqrt streams it in bounded memory"
                    .to_string();
        }
    } else if plan.mode == Mode::Sqrt {
        // Streaming does not know the length either: it checkpoints every DEFAULT_K windows.
        let k = streaming_k(planner, config, params);
        if k != plan.k && config.checkpoints == Checkpoints::Auto {
            plan.k_reason = format!(
                "{k} while streaming (length unknown to the stream); {}",
                plan.k_reason
            );
            plan.k = k;
        }
    }
    Ok(Estimate {
        plan,
        sample_rate: params.sample_rate,
        total_samples,
        per_window,
    })
}

/// A few lines about a timeline: the time fraction and segment count of each class, then the
/// first `first` segments (start..end seconds) and how many more there are.
#[must_use]
pub fn describe_summary(summary: &ClassSummary, first: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Classes: {summary}");
    for class in Class::ALL {
        if class == Class::NonFinite && summary.count(class) == 0 {
            continue;
        }
        let segments = summary
            .segments()
            .iter()
            .filter(|g| g.class == class)
            .count();
        let seconds = summary.fraction(class) * summary.total_seconds();
        let _ = writeln!(
            s,
            "  {:<10} {:>6.1}% of time  {:>9.2} s  {:>6} windows  {:>5} segments",
            class.as_str(),
            100.0 * summary.fraction(class),
            seconds,
            summary.count(class),
            segments
        );
    }
    let segs = summary.segments();
    let _ = write!(
        s,
        "Segments (first {} of {}):",
        first.min(segs.len()),
        segs.len()
    );
    for g in segs.iter().take(first) {
        let _ = write!(
            s,
            "\n  {:>9.2} .. {:>9.2} s  {}",
            g.start_s, g.end_s, g.class
        );
    }
    if segs.len() > first {
        let _ = write!(s, "\n  ... {} more", segs.len() - first);
    }
    s
}
