//! Audio input and analysis for windowed pipelines: an application of the `sqrtspace` runtime,
//! kept in its own crate (`apps/audio`, package `sqrtspace-audio`) so the runtime's dependency
//! tree stays small (symphonia and realfft are needed here only).
//!
//! - [`assets`]: the shipped recordings (packaged with this crate).
//! - [`decode`]: [`AudioReader`] decodes WAV (PCM), FLAC and Ogg Vorbis incrementally with
//!   symphonia, packet by packet, mixed down to mono `f32` (full scale 1.0) at the file's
//!   native sample rate, optionally looping the recording to make long-form input;
//!   failures are typed [`DecodeError`]s.
//! - `decode_ahead`: decoding on its own thread, overlapped with evaluation: a streamed
//!   [`AudioJob`] receives decoded chunks through a bounded channel of
//!   `DECODE_AHEAD` (4) chunks (backpressure), decoder errors in
//!   order after the samples before them.
//! - [`dsp`]: pure per-window functions: a Hann-windowed real FFT ([`Stft`],
//!   [`hann_spectrum`]; realfft), band limiting ([`bandpass`]), spectral features
//!   ([`spectral_features`]: centroid, peak, flatness, kurtosis, RMS level), spectral flux,
//!   a Silence/Tonal/Noise classifier with a hysteresis smoother ([`ClassSmoother`]) and a
//!   timeline summary ([`ClassSummary`]).
//! - [`pipeline`]: those functions as `#[stage]`s of [`AudioPipeline`] (spectrum → band-pass →
//!   features and flux (a lookback) → classify → smooth (state)), and [`AudioJob`], which runs
//!   it on a recording: streamed from the decoder in `sqrt` mode, decoded whole in `classic`
//!   mode (the baseline), chosen from the file header in `auto` mode.
//!
//! Shapes and units: a frame is `window` mono samples; a spectrum has `window / 2 + 1`
//! bins, bin `k` at `k · sample_rate / window` Hz; times are in seconds and levels in dBFS.

pub mod assets;
pub mod decode;
mod decode_ahead;
pub mod dsp;
pub mod pipeline;

pub use decode::{read_all, AudioReader, DecodeError};
pub use dsp::{
    band_bins, band_features, bandpass, bandpass_into, bin_frequency, classify, hann_periodic,
    hann_spectrum, hann_spectrum_into, rms_dbfs, spectral_features, spectral_flux, Class,
    ClassSmoother, ClassSummary, DspError, Features, Segment, Stft, DEFAULT_FLATNESS_SPLIT,
    DEFAULT_HOLD, DEFAULT_SILENCE_DBFS, RMS_FLOOR_DBFS,
};
pub use pipeline::{
    demo_config, describe_summary, fused_loop, AudioError, AudioJob, AudioParams, AudioPipeline,
    AudioRun, Estimate, OutputDigest, Progress, WindowClass,
};
