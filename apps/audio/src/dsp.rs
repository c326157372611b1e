//! Pure DSP building blocks for windowed audio analysis: a Hann-windowed real FFT,
//! band limiting, per-window spectral features, spectral flux, a three-way classifier with
//! a hysteresis smoother, and a summary of the classified timeline.
//!
//! Conventions used throughout:
//! - a *frame* (or window) is `window` consecutive mono samples, full scale 1.0;
//! - a *spectrum* is the one-sided DFT of one frame: `window / 2 + 1` complex bins, bin `k`
//!   centred at `k · sample_rate / window` Hz ([`bin_frequency`]); it is unnormalised
//!   (`X[k] = Σₙ w[n]·x[n]·e^{-2πikn/N}`, the same scaling as `numpy.fft.rfft`), so a
//!   full-scale sine on a bin centre has a peak magnitude of `N/4` under the Hann window;
//! - frequencies are in Hz, times in seconds, levels in dBFS.
//!
//! The FFT is [`realfft`] (a real-to-complex wrapper around RustFFT); nothing here
//! implements an FFT itself.

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

/// Errors of the DSP helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DspError {
    /// An FFT of zero samples was requested.
    #[error(
        "the analysis window must hold at least 1 sample (got 0); choose a window length \
         such as 1024 samples"
    )]
    ZeroWindow,

    /// A frame handed to [`Stft::process`] does not have the planned length.
    #[error(
        "frame has {got} samples but this Stft was built for windows of {expected} samples; \
         pass frames of exactly {expected} samples or build an Stft for {got}"
    )]
    FrameLength {
        /// The planned window length (samples).
        expected: usize,
        /// The length of the frame that was passed (samples).
        got: usize,
    },

    /// [`ClassSummary::new`] was given a hop of 0 samples or a sample rate of 0 Hz.
    #[error(
        "a class summary needs a hop of at least 1 sample and a sample rate above 0 Hz \
         (got hop {hop} samples, sample rate {sample_rate} Hz)"
    )]
    InvalidTiming {
        /// The hop that was given (samples).
        hop: usize,
        /// The sample rate that was given (Hz).
        sample_rate: u32,
    },

    /// realfft rejected a buffer (an internal invariant failed; please report it).
    #[error("the FFT failed: {0}; this is a bug in sqrtspace, please report it")]
    Fft(String),
}

/// The periodic Hann window of length `n`: `w[i] = 0.5 − 0.5·cos(2πi/n)`, `i = 0..n`.
///
/// This is the *periodic* (DFT-even) convention of Harris (1978), "On the use of windows
/// for harmonic analysis with the discrete Fourier transform", Proc. IEEE 66(1), and of
/// `scipy.signal.get_window('hann', n)` (`fftbins=True`); it is **not** `numpy.hanning`,
/// which is the symmetric variant (denominator `n − 1`). As in scipy, `n == 1` gives `[1.0]`.
/// Computed in `f64` and rounded to `f32`.
pub fn hann_periodic(n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![1.0];
    }
    (0..n)
        .map(|i| {
            let phase = 2.0 * std::f64::consts::PI * i as f64 / n as f64;
            (0.5 - 0.5 * phase.cos()) as f32
        })
        .collect()
}

/// A planned Hann-windowed forward real FFT for frames of one length.
///
/// Holds the periodic Hann window ([`hann_periodic`]), a [`realfft`] forward plan and its
/// input/scratch buffers, so [`process`](Self::process) allocates nothing once `out` has
/// grown to `window / 2 + 1` bins.
pub struct Stft {
    window: usize,
    hann: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    input: Vec<f32>,
    scratch: Vec<Complex32>,
}

impl fmt::Debug for Stft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stft")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Stft {
    /// Plans an FFT for frames of `window` samples (any length ≥ 1; lengths with small
    /// prime factors, e.g. powers of two, are fastest).
    ///
    /// # Errors
    /// [`DspError::ZeroWindow`] when `window == 0`.
    pub fn new(window: usize) -> Result<Self, DspError> {
        if window == 0 {
            return Err(DspError::ZeroWindow);
        }
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(window);
        Ok(Self {
            window,
            hann: hann_periodic(window),
            input: fft.make_input_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
        })
    }

    /// The frame length this plan accepts (samples).
    pub fn window(&self) -> usize {
        self.window
    }

    /// The number of bins of every spectrum: `window / 2 + 1`.
    pub fn bins(&self) -> usize {
        self.window / 2 + 1
    }

    /// Windows `frame` with the Hann window and writes its one-sided spectrum into `out`
    /// (resized to `window / 2 + 1` bins; unnormalised, see the module docs).
    ///
    /// # Errors
    /// [`DspError::FrameLength`] when `frame.len() != window`; `out` is left unchanged.
    pub fn process(&mut self, frame: &[f32], out: &mut Vec<Complex32>) -> Result<(), DspError> {
        if frame.len() != self.window {
            return Err(DspError::FrameLength {
                expected: self.window,
                got: frame.len(),
            });
        }
        for ((dst, &x), &w) in self.input.iter_mut().zip(frame).zip(&self.hann) {
            *dst = x * w;
        }
        out.resize(self.bins(), Complex32::new(0.0, 0.0));
        self.fft
            .process_with_scratch(&mut self.input, out, &mut self.scratch)
            .map_err(|e| DspError::Fft(e.to_string()))
    }

    /// [`process`](Self::process) into a new `Vec` of `window / 2 + 1` bins.
    ///
    /// # Errors
    /// [`DspError::FrameLength`] when `frame.len() != window`.
    pub fn spectrum(&mut self, frame: &[f32]) -> Result<Vec<Complex32>, DspError> {
        let mut out = Vec::with_capacity(self.bins());
        self.process(frame, &mut out)?;
        Ok(out)
    }
}

/// How many differently sized plans [`hann_spectrum`] keeps per thread.
const PLAN_CACHE: usize = 4;

thread_local! {
    /// Most recently used first.
    static STFT_CACHE: RefCell<Vec<Stft>> = const { RefCell::new(Vec::new()) };
}

/// The Hann-windowed one-sided spectrum of `frame`: `frame.len() / 2 + 1` bins
/// (unnormalised, bin `k` at `k · sample_rate / frame.len()` Hz).
///
/// Meant for stage functions of the form `fn(&[f32], &P) -> Vec<Complex32>`: plans are
/// cached per thread, keyed by frame length (the 4 most recently used lengths), so a call
/// costs one allocation (the returned `Vec`) and no re-planning.
/// An empty frame gives an empty spectrum. Never panics.
pub fn hann_spectrum(frame: &[f32]) -> Vec<Complex32> {
    let mut out = Vec::with_capacity(frame.len() / 2 + 1);
    hann_spectrum_into(frame, &mut out);
    out
}

/// [`hann_spectrum`] written into `out` (resized to `frame.len() / 2 + 1` bins, every bin
/// overwritten; emptied for an empty frame), for stages that fill a recycled buffer
/// (`#[out] out: &mut Vec<Complex32>`): no allocation once `out` has the capacity and the
/// plan for this length is cached on the thread. Bit-identical to [`hann_spectrum`].
/// Never panics.
pub fn hann_spectrum_into(frame: &[f32], out: &mut Vec<Complex32>) {
    let n = frame.len();
    if n == 0 {
        out.clear();
        return;
    }
    STFT_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let pos = cache.iter().position(|s| s.window == n);
        match pos {
            Some(0) => {}
            Some(i) => {
                let stft = cache.remove(i);
                cache.insert(0, stft);
            }
            None => {
                // `n > 0`, so planning cannot fail.
                let Ok(stft) = Stft::new(n) else {
                    out.clear();
                    return;
                };
                cache.truncate(PLAN_CACHE - 1);
                cache.insert(0, stft);
            }
        }
        // Unreachable error: the plan was selected by length.
        if cache[0].process(frame, out).is_err() {
            out.clear();
        }
    })
}

/// The centre frequency of bin `bin` of a `window`-sample DFT: `bin · sample_rate / window`
/// Hz. Returns 0.0 when `window == 0`.
pub fn bin_frequency(bin: usize, window: usize, sample_rate: f32) -> f32 {
    if window == 0 {
        return 0.0;
    }
    (bin as f64 * f64::from(sample_rate) / window as f64) as f32
}

/// The bins of a `window`-sample one-sided spectrum whose centre frequency
/// ([`bin_frequency`]) lies in `[f_lo, f_hi]` Hz, as a half-open index range clamped to
/// `0..window / 2 + 1`.
///
/// Empty (`0..0`) when the interval holds no bin centre, when `f_lo > f_hi`, when either
/// bound is NaN, or when `window == 0` or `sample_rate` is not positive and finite.
pub fn band_bins(f_lo: f32, f_hi: f32, window: usize, sample_rate: f32) -> Range<usize> {
    let valid_rate = sample_rate.is_finite() && sample_rate > 0.0;
    if window == 0 || !valid_rate || f_lo.is_nan() || f_hi.is_nan() || f_lo > f_hi {
        return 0..0;
    }
    let bins = window / 2 + 1;
    let scale = window as f64 / f64::from(sample_rate);
    let lo = (f64::from(f_lo) * scale).ceil().max(0.0);
    let hi = (f64::from(f_hi) * scale).floor();
    if hi < 0.0 || lo >= bins as f64 || lo > hi {
        return 0..0;
    }
    // Both are non-negative integers below `bins` (or clamped to it) at this point.
    let lo = lo as usize;
    let hi = (hi.min((bins - 1) as f64)) as usize;
    lo..hi + 1
}

/// A copy of `spectrum` with every bin outside `[f_lo, f_hi]` Hz set to zero (an ideal
/// "brick-wall" band-pass in the frequency domain; see [`band_bins`] for which bins are
/// kept). `window` is the frame length (samples) the spectrum came from; the output has the
/// same length as `spectrum` (normally `window / 2 + 1` bins).
pub fn bandpass(
    spectrum: &[Complex32],
    f_lo: f32,
    f_hi: f32,
    sample_rate: f32,
    window: usize,
) -> Vec<Complex32> {
    let mut out = Vec::with_capacity(spectrum.len());
    bandpass_into(spectrum, f_lo, f_hi, sample_rate, window, &mut out);
    out
}

/// [`bandpass`] written into `out` (cleared, then filled with `spectrum.len()` bins), for
/// stages that fill a recycled buffer: no allocation once `out` has the capacity.
/// Bit-identical to [`bandpass`].
pub fn bandpass_into(
    spectrum: &[Complex32],
    f_lo: f32,
    f_hi: f32,
    sample_rate: f32,
    window: usize,
    out: &mut Vec<Complex32>,
) {
    let keep = band_bins(f_lo, f_hi, window, sample_rate);
    out.clear();
    out.extend(spectrum.iter().enumerate().map(|(k, &x)| {
        if keep.contains(&k) {
            x
        } else {
            Complex32::new(0.0, 0.0)
        }
    }));
}

/// The RMS level below which [`classify`] reports [`Class::Silence`]: −50 dBFS.
pub const DEFAULT_SILENCE_DBFS: f32 = -50.0;

/// The spectral flatness above which [`classify`] reports [`Class::Noise`]: 0.3.
pub const DEFAULT_FLATNESS_SPLIT: f32 = 0.3;

/// The floor of [`Features::rms_dbfs`]: −120 dBFS (also the level of an all-zero frame).
pub const RMS_FLOOR_DBFS: f32 = -120.0;

/// Added to every power bin before the logarithm in the spectral flatness.
const FLATNESS_EPSILON: f64 = 1e-20;

/// Spectral and level features of one analysis window.
///
/// All fields are finite for finite input; an all-zero frame gives centroid 0, peak 0,
/// flatness 0, kurtosis 0 and rms −120 dBFS (the [`Default`] value, except for `rms_dbfs`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Features {
    /// Spectral centroid (Hz): the power-weighted mean bin frequency over the band,
    /// `Σ f_k |X_k|² / Σ |X_k|²`. Peeters (2004), "A large set of audio features for sound
    /// description (similarity and classification) in the CUIDADO project", IRCAM report,
    /// spectral shape descriptors.
    pub centroid_hz: f32,
    /// Peak frequency (Hz): centre frequency of the largest-magnitude bin in the band (the
    /// lowest such bin on ties).
    pub peak_hz: f32,
    /// Spectral flatness in `[0, 1]`: geometric mean over arithmetic mean of the power
    /// spectrum over the band, `exp(mean ln(P_k + ε)) / mean(P_k + ε)`, ε = 1e-20.
    /// Gray & Markel (1974), "A spectral-flatness measure for studying the autocorrelation
    /// method of linear prediction of speech analysis", IEEE Trans. ASSP 22(3); Peeters
    /// (2004). Near 0 for a pure tone, near 1 for white noise (≈ 0.56 for the
    /// power spectrum of Gaussian white noise, whose bins are exponentially distributed).
    pub flatness: f32,
    /// Spectral kurtosis: the 4th standardised moment of the frequency distribution
    /// `p_k = |X_k| / Σ|X_k|` over the band, `Σ (f_k − μ)⁴ p_k / σ⁴`, where
    /// `μ = Σ f_k p_k` is the (magnitude-weighted) centroid and `σ² = Σ (f_k − μ)² p_k`.
    /// Not excess kurtosis: a Gaussian-shaped spectrum gives 3, a flat one ≈ 1.8, a peaky
    /// one more. Peeters (2004). Defined as 0 when `σ = 0` (one non-zero bin).
    pub kurtosis: f32,
    /// RMS level of the time-domain frame in dBFS: `20·log10(rms)` with full scale 1.0,
    /// floored at −120 dBFS. Full scale as in AES17 (digital full scale = the largest
    /// representable amplitude, 1.0 here); note this RMS-based reading puts a full-scale
    /// sine at −3.01 dBFS, whereas AES17's sine-referenced convention calls it 0 dBFS.
    pub rms_dbfs: f32,
}

/// Spectral features of the band-limited spectrum `band` and level of the time-domain
/// `frame`.
///
/// `band` is a one-sided spectrum of a `window`-sample frame (bin `k` at
/// `k · sample_rate / window` Hz), normally the output of [`bandpass`]. The *band* over
/// which the spectral features are computed is the bins from the first to the last
/// non-zero bin of `band` — exactly the pass band for the output of [`bandpass`], unless
/// its edge bins are exactly zero. Use [`band_features`] to give the bin range explicitly.
/// `frame` is the raw (unwindowed) frame, used only for [`Features::rms_dbfs`].
pub fn spectral_features(
    band: &[Complex32],
    frame: &[f32],
    sample_rate: f32,
    window: usize,
) -> Features {
    let first = band.iter().position(|x| x.norm_sqr() != 0.0);
    let last = band.iter().rposition(|x| x.norm_sqr() != 0.0);
    let bins = match (first, last) {
        (Some(a), Some(b)) => a..b + 1,
        _ => 0..0,
    };
    band_features(band, bins, frame, sample_rate, window)
}

/// [`spectral_features`] over an explicit bin range `bins` of `spectrum` (clamped to the
/// spectrum's length; frequencies via [`bin_frequency`]).
pub fn band_features(
    spectrum: &[Complex32],
    bins: Range<usize>,
    frame: &[f32],
    sample_rate: f32,
    window: usize,
) -> Features {
    let end = bins.end.min(spectrum.len());
    let start = bins.start.min(end);
    let band = &spectrum[start..end];
    let freq = |i: usize| f64::from(bin_frequency(start + i, window, sample_rate));

    let mut features = Features {
        rms_dbfs: rms_dbfs(frame),
        ..Features::default()
    };

    let mut power_sum = 0.0f64;
    let mut weighted = 0.0f64;
    let mut mag_sum = 0.0f64;
    let mut peak = (0usize, -1.0f64);
    for (i, x) in band.iter().enumerate() {
        let p = f64::from(x.norm_sqr());
        let m = p.sqrt();
        power_sum += p;
        weighted += freq(i) * p;
        mag_sum += m;
        if m > peak.1 {
            peak = (i, m);
        }
    }
    if power_sum <= 0.0 || !power_sum.is_finite() {
        // Silent band (or non-finite input): the documented all-zero values, keeping any
        // non-finite value visible rather than hiding it.
        if !power_sum.is_finite() {
            features.centroid_hz = f32::NAN;
        }
        return features;
    }
    features.centroid_hz = (weighted / power_sum) as f32;
    features.peak_hz = freq(peak.0) as f32;

    // Flatness: geometric mean / arithmetic mean of (P + ε).
    let n = band.len() as f64;
    let log_mean = band
        .iter()
        .map(|x| (f64::from(x.norm_sqr()) + FLATNESS_EPSILON).ln())
        .sum::<f64>()
        / n;
    let arith = power_sum / n + FLATNESS_EPSILON;
    features.flatness = (log_mean.exp() / arith).clamp(0.0, 1.0) as f32;

    // Kurtosis of the magnitude distribution around its own mean.
    let mu = band
        .iter()
        .enumerate()
        .map(|(i, x)| freq(i) * f64::from(x.norm()))
        .sum::<f64>()
        / mag_sum;
    let (mut m2, mut m4) = (0.0f64, 0.0f64);
    for (i, x) in band.iter().enumerate() {
        let p = f64::from(x.norm()) / mag_sum;
        let d2 = (freq(i) - mu).powi(2);
        m2 += d2 * p;
        m4 += d2 * d2 * p;
    }
    features.kurtosis = if m2 > 0.0 {
        (m4 / (m2 * m2)) as f32
    } else {
        0.0
    };
    features
}

/// RMS level of `frame` in dBFS (`20·log10(rms)`, full scale 1.0), floored at
/// [`RMS_FLOOR_DBFS`]; −120 for an empty or all-zero frame. Accumulates in `f64`.
pub fn rms_dbfs(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return RMS_FLOOR_DBFS;
    }
    let mean_square = frame
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / frame.len() as f64;
    if mean_square.is_nan() {
        return f32::NAN;
    }
    // 20·log10(rms) = 10·log10(mean square).
    let db = 10.0 * mean_square.log10();
    (db.max(f64::from(RMS_FLOOR_DBFS))) as f32
}

/// Half-wave-rectified spectral flux between consecutive spectra, L2 norm:
/// `sqrt(Σ_k H(|cur_k| − |prev_k|)²)` with `H(x) = max(x, 0)`.
///
/// Dixon (2006), "Onset detection revisited", Proc. DAFx-06 (rectified flux, given
/// there with the L1 norm); the L2 variant follows Bello et al. (2005), "A tutorial on
/// onset detection in music signals", IEEE Trans. Speech Audio Process. 13(5).
/// In magnitude units of the spectra (unnormalised). `prev == None` (the first window)
/// gives 0.0. Bins present only in `cur` count as rises from 0; bins only in `prev` are
/// decreases and contribute nothing.
pub fn spectral_flux(cur: &[Complex32], prev: Option<&[Complex32]>) -> f32 {
    let Some(prev) = prev else { return 0.0 };
    let sum: f64 = cur
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let before = prev.get(k).map_or(0.0, |p| f64::from(p.norm()));
            let rise = (f64::from(c.norm()) - before).max(0.0);
            rise * rise
        })
        .sum();
    sum.sqrt() as f32
}

/// The class of one analysis window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Class {
    /// Level below the silence threshold.
    Silence,
    /// Audible with a peaky spectrum (low flatness): tones, voiced sounds, music.
    Tonal,
    /// Audible with a flat spectrum (high flatness): hiss, wind, rain, unvoiced sounds.
    Noise,
    /// The frame holds NaN or infinite samples, so its level or flatness is not finite and no
    /// class applies (NaN and infinity pass through the stages unchanged; the classifier does
    /// not guess).
    NonFinite,
}

impl Class {
    /// All classes, in the order used by [`ClassSummary`]'s `Display` (which lists
    /// [`Class::NonFinite`] only when some window has it).
    pub const ALL: [Class; 4] = [Class::Silence, Class::Tonal, Class::Noise, Class::NonFinite];

    /// The lower-case name: `"silence"`, `"tonal"`, `"noise"` or `"non-finite"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Silence => "silence",
            Class::Tonal => "tonal",
            Class::Noise => "noise",
            Class::NonFinite => "non-finite",
        }
    }

    fn index(self) -> usize {
        match self {
            Class::Silence => 0,
            Class::Tonal => 1,
            Class::Noise => 2,
            Class::NonFinite => 3,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies one window from its features.
///
/// Rule, in order:
/// 0. a level or flatness that is not finite (the frame holds NaN or ±inf samples) →
///    [`Class::NonFinite`] (RMS levels of finite frames are always finite: they are floored
///    at [`RMS_FLOOR_DBFS`]);
/// 1. `f.rms_dbfs < silence_dbfs` (dBFS; default [`DEFAULT_SILENCE_DBFS`] = −50) →
///    [`Class::Silence`];
/// 2. `f.flatness > flatness_split` (default [`DEFAULT_FLATNESS_SPLIT`] = 0.3) →
///    [`Class::Noise`];
/// 3. otherwise [`Class::Tonal`].
///
/// The threshold rule is a simple heuristic in the spirit of flatness-based
/// tonal/noise discrimination (Peeters 2004; the MPEG-7 AudioSpectrumFlatness
/// descriptor, ISO/IEC 15938-4). `flux` (see [`spectral_flux`]) is accepted so callers can
/// pass it through, but the current rule does not use it. NaN thresholds make every
/// comparison false; callers reject them first ([`crate::audio::AudioParams::check`]).
pub fn classify(f: &Features, flux: f32, silence_dbfs: f32, flatness_split: f32) -> Class {
    let _ = flux;
    if !(f.rms_dbfs.is_finite() && f.flatness.is_finite()) {
        Class::NonFinite
    } else if f.rms_dbfs < silence_dbfs {
        Class::Silence
    } else if f.flatness > flatness_split {
        Class::Noise
    } else {
        Class::Tonal
    }
}

/// The default number of consecutive windows a new class must hold before
/// [`ClassSmoother`] switches to it.
pub const DEFAULT_HOLD: u32 = 3;

/// Hysteresis over raw per-window decisions: the smoothed class changes only after a
/// different raw class has been seen in `hold` consecutive windows (default
/// [`DEFAULT_HOLD`] = 3), which removes isolated flips.
///
/// The first decision is adopted immediately. The output therefore lags a genuine change by
/// `hold − 1` windows. This is the stateful stage of the audio pipeline; its state is a few
/// bytes (`Copy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClassSmoother {
    hold: u32,
    current: Option<Class>,
    candidate: Option<Class>,
    run: u32,
}

impl Default for ClassSmoother {
    fn default() -> Self {
        Self::new(DEFAULT_HOLD)
    }
}

impl ClassSmoother {
    /// A smoother that switches after `hold` consecutive agreeing windows (`0` is treated
    /// as 1: no smoothing).
    pub fn new(hold: u32) -> Self {
        Self {
            hold: hold.max(1),
            current: None,
            candidate: None,
            run: 0,
        }
    }

    /// The current smoothed class (`None` before the first update).
    pub fn current(&self) -> Option<Class> {
        self.current
    }

    /// Feeds the raw decision of the next window and returns the smoothed class.
    ///
    /// [`Class::NonFinite`] is returned as it is and leaves the state untouched: a window
    /// without a finite level is never smoothed into (or out of) a real class.
    pub fn update(&mut self, raw: Class) -> Class {
        if raw == Class::NonFinite {
            return raw;
        }
        match self.current {
            None => {
                self.current = Some(raw);
                self.candidate = None;
                self.run = 0;
                raw
            }
            Some(cur) if cur == raw => {
                self.candidate = None;
                self.run = 0;
                cur
            }
            Some(cur) => {
                if self.candidate == Some(raw) {
                    self.run += 1;
                } else {
                    self.candidate = Some(raw);
                    self.run = 1;
                }
                if self.run >= self.hold {
                    self.current = Some(raw);
                    self.candidate = None;
                    self.run = 0;
                    raw
                } else {
                    cur
                }
            }
        }
    }
}

/// A run of windows of one class, in seconds from the start of the stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// The class of every window in the run.
    pub class: Class,
    /// Start time (s): `t_first · hop / sample_rate`.
    pub start_s: f64,
    /// End time (s): `(t_last + 1) · hop / sample_rate`, the start of the next hop.
    pub end_s: f64,
}

/// Accumulates a timeline of classified windows: per-class time fractions and merged
/// segments.
///
/// Window `t` covers samples `[t·hop, t·hop + window)`; it is credited with the hop interval
/// `[t·hop, (t+1)·hop)` so consecutive windows tile the timeline without overlap. Windows
/// should be pushed with `t` increasing by 1; any other step (a gap, a repeat or a step
/// back) starts a new segment. Memory grows with the number of segments, not windows.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassSummary {
    hop: usize,
    sample_rate: u32,
    counts: [u64; 4],
    segments: Vec<Segment>,
    last_t: Option<u64>,
}

impl ClassSummary {
    /// An empty summary for windows `hop` samples apart at `sample_rate` Hz.
    ///
    /// # Errors
    /// [`DspError::InvalidTiming`] when `hop == 0` or `sample_rate == 0`.
    pub fn new(hop: usize, sample_rate: u32) -> Result<Self, DspError> {
        if hop == 0 || sample_rate == 0 {
            return Err(DspError::InvalidTiming { hop, sample_rate });
        }
        Ok(Self {
            hop,
            sample_rate,
            counts: [0; 4],
            segments: Vec::new(),
            last_t: None,
        })
    }

    fn seconds(&self, t: u64) -> f64 {
        t as f64 * self.hop as f64 / f64::from(self.sample_rate)
    }

    /// Records that window `t` (0-based window index) was classified `class`.
    pub fn push(&mut self, t: u64, class: Class) {
        self.counts[class.index()] += 1;
        let start = self.seconds(t);
        let end = self.seconds(t.saturating_add(1));
        let contiguous = self
            .last_t
            .is_some_and(|last| last.checked_add(1) == Some(t));
        self.last_t = Some(t);
        if contiguous {
            if let Some(seg) = self.segments.last_mut() {
                if seg.class == class {
                    seg.end_s = end;
                    return;
                }
            }
        }
        self.segments.push(Segment {
            class,
            start_s: start,
            end_s: end,
        });
    }

    /// The number of windows pushed.
    pub fn windows(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The number of windows classified `class`.
    pub fn count(&self, class: Class) -> u64 {
        self.counts[class.index()]
    }

    /// Total time covered (s): windows pushed × hop / sample rate.
    pub fn total_seconds(&self) -> f64 {
        self.seconds(self.windows())
    }

    /// The fraction of time (= of windows) classified `class`, in `[0, 1]`; 0.0 for every
    /// class while the summary is empty. The fractions of [`Class::ALL`] sum to 1 otherwise.
    pub fn fraction(&self, class: Class) -> f64 {
        match self.windows() {
            0 => 0.0,
            n => self.count(class) as f64 / n as f64,
        }
    }

    /// The merged runs of equal class, in push order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
}

impl fmt::Display for ClassSummary {
    /// E.g. `silence 12.5%, tonal 60.0%, noise 27.5% of 10.00 s in 7 segments`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, class) in Class::ALL.iter().enumerate() {
            if *class == Class::NonFinite && self.count(*class) == 0 {
                continue;
            }
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {:.1}%", class, 100.0 * self.fraction(*class))?;
        }
        write!(
            f,
            " of {:.2} s in {} segments",
            self.total_seconds(),
            self.segments.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 8000.0;
    const N: usize = 1024;

    fn sine(freq: f32, amp: f32, n: usize, sr: f32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                amp * (2.0 * std::f64::consts::PI * f64::from(freq) * i as f64 / f64::from(sr))
                    .sin() as f32
            })
            .collect()
    }

    /// Uniform white noise in [-amp, amp) from a 64-bit LCG (Knuth MMIX constants).
    fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (s >> 40) as f32 / (1u64 << 24) as f32;
                amp * (2.0 * u - 1.0)
            })
            .collect()
    }

    fn features_of(frame: &[f32]) -> Features {
        let spec = hann_spectrum(frame);
        let band = bandpass(&spec, 0.0, SR / 2.0, SR, frame.len());
        spectral_features(&band, frame, SR, frame.len())
    }

    #[test]
    fn hann_is_periodic() {
        let w = hann_periodic(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-7);
        assert!((w[2] - 0.5).abs() < 1e-7);
        assert!((w[1] - w[7]).abs() < 1e-7); // symmetric about n/2, no repeated endpoint
        assert_eq!(hann_periodic(1), vec![1.0]);
        assert!(hann_periodic(0).is_empty());
    }

    #[test]
    fn sine_1khz_is_tonal() {
        let frame = sine(1000.0, 0.5, N, SR);
        let f = features_of(&frame);
        let bin_hz = SR / N as f32;
        assert!((f.peak_hz - 1000.0).abs() <= bin_hz, "{f:?}");
        assert!((f.centroid_hz - 1000.0).abs() < 2.0 * bin_hz, "{f:?}");
        assert!(f.flatness < 0.05, "{f:?}");
        assert!(f.kurtosis > 3.0, "{f:?}");
        // rms of a 0.5 sine = 0.3536 → −9.03 dBFS
        assert!((f.rms_dbfs - (-9.03)).abs() < 0.05, "{f:?}");
        let class = classify(&f, 0.0, DEFAULT_SILENCE_DBFS, DEFAULT_FLATNESS_SPLIT);
        assert_eq!(class, Class::Tonal);
    }

    #[test]
    fn peak_magnitude_matches_window_gain() {
        // 1 kHz at 8 kHz / 1024 = bin 128 exactly; Hann coherent gain 0.5 → |X| = A·N/4.
        let frame = sine(1000.0, 1.0, N, SR);
        let spec = hann_spectrum(&frame);
        assert_eq!(spec.len(), N / 2 + 1);
        assert!(
            (spec[128].norm() - N as f32 / 4.0).abs() < 0.01 * N as f32,
            "{}",
            spec[128].norm()
        );
    }

    #[test]
    fn white_noise_is_noise() {
        let frame = noise(N, 0.5, 42);
        let f = features_of(&frame);
        assert!(f.flatness > 0.4, "{f:?}");
        assert!(f.flatness <= 1.0);
        assert!((f.centroid_hz - 2000.0).abs() < 400.0, "{f:?}");
        let class = classify(&f, 0.0, DEFAULT_SILENCE_DBFS, DEFAULT_FLATNESS_SPLIT);
        assert_eq!(class, Class::Noise);
    }

    #[test]
    fn zeros_are_silence_with_finite_features() {
        let frame = vec![0.0f32; N];
        let f = features_of(&frame);
        assert_eq!(
            f,
            Features {
                centroid_hz: 0.0,
                peak_hz: 0.0,
                flatness: 0.0,
                kurtosis: 0.0,
                rms_dbfs: -120.0
            }
        );
        let class = classify(&f, 0.0, DEFAULT_SILENCE_DBFS, DEFAULT_FLATNESS_SPLIT);
        assert_eq!(class, Class::Silence);
        assert_eq!(rms_dbfs(&[]), -120.0);
        assert!(hann_spectrum(&[]).is_empty());
    }

    #[test]
    fn bandpass_zeroes_out_of_band_bins() {
        let frame = noise(N, 0.5, 7);
        let spec = hann_spectrum(&frame);
        let band = bandpass(&spec, 500.0, 1500.0, SR, N);
        assert_eq!(band.len(), spec.len());
        let keep = band_bins(500.0, 1500.0, N, SR);
        assert_eq!(keep, 64..193); // 500 Hz = bin 64, 1500 Hz = bin 192
        for (k, (b, s)) in band.iter().zip(&spec).enumerate() {
            if keep.contains(&k) {
                assert_eq!(b, s);
            } else {
                assert_eq!(*b, Complex32::new(0.0, 0.0), "bin {k}");
            }
        }
        let f = spectral_features(&band, &frame, SR, N);
        assert!(f.centroid_hz > 500.0 && f.centroid_hz < 1500.0, "{f:?}");
        assert!(f.peak_hz >= 500.0 && f.peak_hz <= 1500.0, "{f:?}");
        assert!(f.flatness > 0.4, "flatness over the band only: {f:?}");
    }

    #[test]
    fn band_bins_edge_cases() {
        assert_eq!(band_bins(0.0, 4000.0, N, SR), 0..N / 2 + 1);
        assert_eq!(band_bins(-100.0, 1e9, N, SR), 0..N / 2 + 1);
        assert_eq!(band_bins(2000.0, 1000.0, N, SR), 0..0);
        assert_eq!(band_bins(f32::NAN, 1000.0, N, SR), 0..0);
        assert_eq!(band_bins(0.0, 1000.0, 0, SR), 0..0);
        assert_eq!(band_bins(0.0, 1000.0, N, 0.0), 0..0);
        assert_eq!(band_bins(5000.0, 6000.0, N, SR), 0..0);
        assert_eq!(band_bins(1.0, 2.0, N, SR), 0..0); // between bins 0 and 1
        assert_eq!(bin_frequency(128, N, SR), 1000.0);
        assert_eq!(bin_frequency(3, 0, SR), 0.0);
    }

    #[test]
    fn stft_checks_frame_length_and_reuses_output() {
        let mut stft = Stft::new(N).unwrap();
        let mut out = Vec::new();
        let err = stft.process(&[0.0; 10], &mut out).unwrap_err();
        assert_eq!(
            err,
            DspError::FrameLength {
                expected: N,
                got: 10
            }
        );
        assert!(err.to_string().contains("exactly 1024"));
        let frame = sine(1000.0, 1.0, N, SR);
        stft.process(&frame, &mut out).unwrap();
        assert_eq!(out.len(), N / 2 + 1);
        assert_eq!(out, hann_spectrum(&frame));
        assert_eq!(stft.spectrum(&frame).unwrap(), out);
        assert_eq!(Stft::new(0).unwrap_err(), DspError::ZeroWindow);
        // Odd and tiny lengths work.
        assert_eq!(hann_spectrum(&[1.0]).len(), 1);
        assert_eq!(hann_spectrum(&[1.0; 9]).len(), 5);
    }

    #[test]
    fn hann_spectrum_cache_handles_many_lengths() {
        for n in [16usize, 32, 64, 128, 256, 16, 512, 32] {
            let frame = sine(1000.0, 1.0, n, SR);
            let mut stft = Stft::new(n).unwrap();
            assert_eq!(hann_spectrum(&frame), stft.spectrum(&frame).unwrap());
        }
    }

    #[test]
    fn flux_is_rectified() {
        let a = hann_spectrum(&sine(1000.0, 0.1, N, SR));
        let b = hann_spectrum(&sine(1000.0, 0.5, N, SR));
        assert_eq!(spectral_flux(&a, None), 0.0);
        let rise = spectral_flux(&b, Some(&a));
        assert!(rise > 0.0);
        // Only decreases (up to rounding in the near-zero leakage bins).
        assert!(spectral_flux(&a, Some(&b)) < 1e-6 * rise);
        assert_eq!(spectral_flux(&a, Some(&a)), 0.0);
        let three = [Complex32::new(3.0, 4.0)];
        assert_eq!(spectral_flux(&three, Some(&[])), 5.0);
    }

    #[test]
    fn smoother_hysteresis() {
        use Class::*;
        let mut s = ClassSmoother::default();
        let raw = [
            Tonal, Noise, Tonal, Noise, Noise, Noise, Noise, Silence, Noise, Silence, Silence,
            Silence,
        ];
        let out: Vec<Class> = raw.iter().map(|&c| s.update(c)).collect();
        assert_eq!(
            out,
            [
                Tonal, Tonal, Tonal, Tonal, Tonal, Noise, Noise, Noise, Noise, Noise, Noise,
                Silence
            ]
        );
        let mut none = ClassSmoother::new(0);
        assert_eq!(none.update(Tonal), Tonal);
        assert_eq!(none.update(Noise), Noise);
        assert_eq!(none.current(), Some(Noise));
    }

    #[test]
    fn summary_fractions_and_segments() {
        use Class::*;
        let mut s = ClassSummary::new(400, 8000).unwrap(); // hop = 0.05 s
        assert_eq!(s.fraction(Tonal), 0.0);
        let seq = [Silence, Silence, Tonal, Tonal, Tonal, Noise, Tonal, Tonal];
        for (t, &c) in seq.iter().enumerate() {
            s.push(t as u64, c);
        }
        let total: f64 = Class::ALL.iter().map(|&c| s.fraction(c)).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert_eq!(s.fraction(Tonal), 5.0 / 8.0);
        let segs = s.segments();
        assert_eq!(segs.len(), 4);
        assert_eq!(
            segs[0],
            Segment {
                class: Silence,
                start_s: 0.0,
                end_s: 0.1
            }
        );
        assert_eq!(segs[1].class, Tonal);
        assert!((segs[1].start_s - 0.1).abs() < 1e-12 && (segs[1].end_s - 0.25).abs() < 1e-12);
        assert!((segs[3].end_s - 0.4).abs() < 1e-12);
        assert!((s.total_seconds() - 0.4).abs() < 1e-12);
        let text = s.to_string();
        assert_eq!(
            text,
            "silence 25.0%, tonal 62.5%, noise 12.5% of 0.40 s in 4 segments"
        );
        // A gap starts a new segment even for the same class.
        s.push(10, Tonal);
        assert_eq!(s.segments().len(), 5);
        assert!(ClassSummary::new(0, 8000).is_err());
        assert!(ClassSummary::new(1, 0).is_err());
    }
}
