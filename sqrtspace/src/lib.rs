//! # sqrtspace
//!
//! Long windowed signal pipelines (hours of audio, 10^8-row logs, radio captures) in bounded
//! memory. Annotate plain functions with [`#[stage]`](macro@stage), declare a
//! [`pipeline!`], and evaluate it in one of three [modes](Mode):
//!
//! - `classic`: stage by stage over the whole range, every intermediate materialised (the
//!   baseline, fastest when everything fits);
//! - `sqrt`: depth-first per window, a byte-bounded LRU for hot outputs, checkpoints of stage
//!   state every `k` windows and recomputation on demand: peak memory independent of length;
//! - `auto`: the [planner](plan) estimates the working set against RAM and the last-level cache
//!   and says why it chose.
//!
//! Outputs are bit-identical across modes for deterministic stages.
//!
//! A random lookup in `sqrt` mode resumes each stateful stage from its nearest checkpoint at or
//! before the window it needs and replays fewer than `k` windows of it; every stage on the
//! lookup's path runs at most `k + 1` times, so a lookup costs at most about `k` stage
//! evaluations per stage on that path (with LRU 0, two chained stateful stages replay up to
//! `2(k - 1)` windows in all), not fewer than `k` in total. Without checkpoints
//! (`checkpoint_bytes` 0) replays start at window 0, and push mode keeps the whole stream
//! ([`plan::push_warnings`]).
//!
//! ```
//! use sqrtspace::{pipeline, stage, Config, Mode};
//!
//! /// Runtime parameters, passed to stages that take `#[params]`.
//! pub struct Gain { pub db: f32 }
//!
//! /// Mean of a frame of samples.
//! #[stage(inputs = [input], cost = 1)]
//! fn mean(frame: &[f32]) -> f32 {
//!     frame.iter().sum::<f32>() / frame.len() as f32
//! }
//!
//! /// The mean scaled by the gain (dB).
//! #[stage(inputs = [mean])]
//! fn level(m: &f32, #[params] g: &Gain) -> f32 {
//!     m * 10f32.powf(g.db / 20.0)
//! }
//!
//! /// Change of level since the previous window (`None` at window 0).
//! #[stage(inputs = [level, level[-1]])]
//! fn delta(now: &f32, before: Option<&f32>) -> f32 {
//!     before.map_or(0.0, |b| now - b)
//! }
//!
//! pipeline! {
//!     /// Level changes of a signal.
//!     pub struct Levels {
//!         sample: f32,
//!         params: Gain,
//!         stages: [mean, level, delta],
//!         output: delta,
//!     }
//! }
//!
//! let signal: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin()).collect();
//! let config = Config::default().with_window(64).with_hop(16);
//! let mut sqrt = Levels::new(config.clone().with_mode(Mode::Sqrt), Gain { db: 6.0 })?;
//! let mut classic = Levels::new(config.with_mode(Mode::Classic), Gain { db: 6.0 })?;
//! let a = sqrt.evaluate::<delta>(&signal, 0..50)?;
//! let b = classic.evaluate::<delta>(&signal, 0..50)?;
//! assert_eq!(a, b);
//! assert!(Levels::DOT.contains("level -> delta"));
//! # Ok::<(), sqrtspace::Error>(())
//! ```
//!
//! ## Layout of the runtime
//!
//! The data path is visible in the modules: samples become [frames](graph::Frames), stages
//! compute outputs into per-stage [slots](graph::Slot), and the [executors](exec) drive it.
//!
//! - [`graph`]: what a pipeline *is*: the run-time traits that `pipeline!` and `#[stage]`
//!   implement ([`Graph`](graph::Graph), [`Has`](graph::Has), [`Compute`](graph::Compute)),
//!   the evaluation context they are written against, per-stage storage, frames, run-time
//!   analysis ([`needs`](graph::needs), [`span`](graph::span)) and the compile-time checks
//!   (`graph::compile`). The traits and the context name each other, so they share a module.
//! - [`exec`]: how it is evaluated: `sqrt` (depth-first with LRU, checkpoints and
//!   recomputation), `classic` (columns), the pull API ([`Session`], [`Pipeline::evaluate`])
//!   and the push/stream API with history trimming.
//! - [`plan`] and [`cost`]: the planner; [`cache`]: the LRU and checkpoint rings;
//!   [`metrics`]: counters and process measurements; [`units`]: byte formatting;
//!   [`config`], [`error`], [`stage`](mod@stage), [`source`], [`bytes`].
//! - [`framing`]: frames of varying length, by a non-decreasing key per sample (time
//!   windows, [`KeyWindows`]), beside the count framing of `window`/`hop`.
//!
//! Dependencies run one way, `exec` -> `plan` -> `graph` -> (`cache`, `metrics`, `config`,
//! `stage`), with no cycle between top-level modules (checked by listing each module's
//! `crate::` paths). Engine internals that users never implement or name (`Exec`, `Core`,
//! `Held`, `fetch`, `classic_column`) are reachable only through the hidden `__private`
//! module that the macros use.
//!
//! ## Why the macros are built this way
//!
//! A proc macro sees only its own tokens, so `pipeline!` cannot read the `#[stage]` attributes
//! of other items. `#[stage]` therefore emits, next to the untouched function, a hidden braced
//! struct of the same name (structs live in the type namespace, functions in the value
//! namespace, so they never clash) implementing [`Stage`](stage::Stage) with the inputs, output
//! type, state and cost as associated items, plus a generic `Compute<G>` impl that fetches its
//! inputs from any pipeline `G` that [has](graph::Has) them and calls the function. Input names
//! are resolved by rustc in the stage's own scope, so stages are ordinary items that can live in
//! any module or crate. `pipeline!` then emits the typed storage, the `Has` impls, and `const _`
//! items that walk the graph in rustc's const evaluator (duplicates, cycles spelled as
//! `a -> b -> a`, topological order, DOT and Mermaid text). Type errors land on the user's
//! tokens through `quote_spanned!` and `#[diagnostic::on_unimplemented]` bounds. The
//! alternative — `#[stage]` emitting a `macro_rules!` that hands its metadata to `pipeline!` —
//! breaks on macro-expanded `#[macro_export]` paths across crates; the trait design does not.
//!
//! ## Applications live in their own crates
//!
//! This crate is the runtime only; its default dependency tree is thiserror, sysinfo, num-complex,
//! nix (Unix only) and the macros. Applications built on it are separate workspace crates under
//! `apps/`: `sqrtspace-audio` (decoding with symphonia, STFT with realfft, the audio pipeline
//! and job) and `sqrtspace-cli` (the `sqrtspace` binary), each with its own dependencies and
//! shipped assets. They use only this crate's public API, as a user's crate would.
//!
//! ## Parallel evaluation
//!
//! With [`Config::with_max_workers`] above 1, stages of the *pure prefix* (no stateful stage
//! upstream) are computed ahead for batches of windows on several threads, each with its own
//! engine state, while the stateful stages and everything downstream of them run on the
//! calling thread in window order, taking those outputs instead of computing them. Outputs,
//! their order, errors and panics are those of one worker, bit for bit. The planner measures
//! each stage's cost in its probe and puts the workers, the batch size, the sequential
//! fraction and the Amdahl estimate (with the measured hand-over cost) in the [`Plan`]
//! ([`parallel::Parallelism`]); it uses more than one worker only when the estimate says it
//! pays, and never more than the cores; in `auto`, from the start of a signal, it then times
//! one worker and its choice over the probe prefix and keeps the choice only if it was
//! measured faster (both timings and their cost are in the plan). The threads are a small pool owned by the pipeline
//! (std threads and bounded channels, no dependency), so stages' thread-local caches stay
//! warm; the batch size keeps the hand-over cost under 2% of a batch's work. Batches are
//! pipelined: the pool computes the next batch while the calling thread computes its share of
//! the current one and runs the sequential part over it, so neither waits for the other.
//! Budgets hold for all threads together. [`Pipeline::worker_stats`] says where the threads'
//! time went. Design and limits: [`exec::parallel`].
//!
//! ## Frames of varying length
//!
//! Frame `t` is samples `[start(t), end(t))`, `start` and `end` non-decreasing in `t`. By
//! default `[t*H, t*H + W)` ([`Config::window`], [`Config::hop`]); with
//! [`Config::with_key_windows`]`(every, period)` each sample carries a key (a timestamp) and
//! window `t` holds the keys in `[origin + t*every, origin + t*every + period)`, Polars'
//! `group_by_dynamic` with its defaults. Input then goes in with its keys
//! ([`Pipeline::over_keyed`], [`Pipeline::push_keyed`], [`Pipeline::stream_keyed`]); every
//! mode, the worker pool, lookback, state and checkpoints work unchanged, per window index.
//! Definition, streaming and the memory bound: [`framing`].
//!
//! ## Buffer reuse
//!
//! A stage may write its output in place instead of returning it: `#[out] out: &mut O` (and
//! return `()`, or `Result<(), E>` when it can fail). The engine hands it a buffer from the
//! stage's own pool of spent outputs, or `O::default()` while the pool is empty. Spent outputs
//! return to that pool when nobody can read them again: an output read once, at the end of its
//! consumer's call; an output the LRU evicts or push mode drops as dead. Outputs handed to the
//! caller are the caller's. The buffer holds a stale output of the same stage (unspecified
//! contents and length): the stage must overwrite it fully (`out.clear(); out.extend(..)`, or
//! `resize` then write every element), and its outputs are then bit-identical to the owned
//! style in every mode. A pool keeps at most [`POOL_CAP`] buffers per stage and engine state
//! (each worker thread has its own), counted exactly in [`Pipeline::pool_bytes`] and in the
//! live bytes. Details: [`graph::pool`].
//!
//! `#[scratch] s: &mut S` (`S: Default`) is per-thread working memory (FFT buffers,
//! temporaries): never checkpointed, never part of an output, `S::default()` on each thread's
//! first call and whatever an earlier call on that thread left afterwards, so a stage must not
//! let its contents change the output. It lives in a thread-local of the stage (so it is shared
//! by all pipelines that run the stage on that thread, and freed when the thread ends), and is
//! not counted in the engine's budgets.
//!
//! ```
//! use sqrtspace::{pipeline, stage, Config};
//!
//! #[stage(inputs = [input])]
//! fn squares(frame: &[f32], #[out] out: &mut Vec<f32>) {
//!     out.clear();
//!     out.extend(frame.iter().map(|x| x * x));
//! }
//!
//! #[stage(inputs = [squares])]
//! fn energy(x: &[f32], #[scratch] sorted: &mut Vec<f32>) -> f32 {
//!     sorted.clear();
//!     sorted.extend_from_slice(x);
//!     sorted.sort_by(f32::total_cmp);
//!     sorted.iter().sum()
//! }
//!
//! pipeline! {
//!     /// Energy per window.
//!     pub struct Energy { stages: [squares, energy] }
//! }
//!
//! let config = Config::default().with_window(4).with_hop(4);
//! let mut p = Energy::new(config, ())?;
//! let e = p.evaluate::<energy>(&[1.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0], 0..2)?;
//! assert_eq!(e, [5.0, 9.0]);
//! # Ok::<(), sqrtspace::Error>(())
//! ```
//!
//! `stream` takes chunks that are anything `AsRef<[T]>`, borrowed slices included
//! (`samples.chunks(4096).map(Ok::<_, Error>)`): the engine copies the samples it needs into its
//! own bounded input buffer.
#![warn(missing_docs)]

pub mod bytes;
pub mod cache;
pub mod config;
pub mod cost;
pub mod error;
pub mod exec;
pub mod framing;
pub mod graph;
pub mod metrics;
pub mod parallel;
pub mod plan;
pub mod source;
pub mod stage;
pub mod units;

// Lets the derive and the DSL (which name `::sqrtspace`) be used inside this crate's own tests.
extern crate self as sqrtspace;

#[doc(hidden)]
pub mod __private;

pub use bytes::ByteSize;
pub use config::{Checkpoints, Config, Mode, MIB};
pub use error::{ConfigError, Error};
pub use exec::{Pipeline, Session, Sink, SinkFlow, StreamEnd};
pub use framing::KeyWindows;
pub use graph::pool::POOL_CAP;
pub use metrics::{Counters, Meter, Report, Usage, Verification};
pub use num_complex::{Complex, Complex32};

/// The `ndarray` crate (feature `ndarray`), re-exported so that a pipeline's array types are
/// those [`ByteSize`] is implemented for: write `sqrtspace::ndarray::Array2<f32>` (or depend on
/// the same `ndarray` version, 0.17).
#[cfg(feature = "ndarray")]
pub use ndarray;
pub use plan::{Machine, Plan, Planner};
pub use source::{RawReader, RawSample};

#[doc(inline)]
pub use sqrtspace_macros::pipeline;

/// Declares a pipeline stage: a plain function, annotated with its inputs.
///
/// ```text
/// #[stage(inputs = [a, b[-1], input], cost = 10, init = path)]
/// fn name(a: &A, b_before: Option<&B>, frame: &[T], #[state] s: &mut S, #[params] p: &P) -> O
/// ```
///
/// - `inputs`: in parameter order, the upstream stages (`a` arrives as `&A`, the output of
///   `a` at the same window), lookbacks `b[-n]` (`Option<&B>`, `None` before window `n`), and
///   `input` for the raw frame (`&[T]`, `T` the pipeline's `sample` type; `input[-n]` is
///   `Option<&[T]>`).
/// - `cost = N`: recompute-cost hint for the planner (1 an element-wise pass, 10 an FFT, 100
///   a model inference; default 1).
/// - `#[state] s: &mut S`: state carried across windows (`S: Clone + ByteSize`; checkpoints
///   clone it). It starts as `S::default()`; as `path()` with `init = path` (`fn() -> S`);
///   or as `path(params)` with `init = path(params)` (`fn(&P) -> S`, the pipeline's params,
///   e.g. a buffer sized by a setting). The macro sees only the path, not the function's
///   signature, so the call is written out; and since `#[stage]` cannot see the pipeline,
///   `P` is the type of the stage's `#[params]` parameter, which the stage must then have
///   (write `#[params] _p: &P` if only the init reads it). Every initial state, replays from
///   window 0 included, and the checkpoint planning ([`Graph::state_bytes`](graph::Graph::state_bytes))
///   use the params the pipeline was built with.
///
///   ```
///   use sqrtspace::{pipeline, stage, ByteSize, Config};
///
///   /// Smoothing settings.
///   pub struct Smoothing { pub alpha: f32, pub start: f32 }
///
///   /// An exponential smoother's state.
///   #[derive(Clone, ByteSize)]
///   pub struct Ema { level: f32 }
///   impl Ema {
///       fn from_params(p: &Smoothing) -> Self { Ema { level: p.start } }
///   }
///
///   /// The smoothed first sample of each frame.
///   #[stage(inputs = [input], init = Ema::from_params(params))]
///   fn ema(frame: &[f32], #[state] s: &mut Ema, #[params] p: &Smoothing) -> f32 {
///       s.level += p.alpha * (frame[0] - s.level);
///       s.level
///   }
///
///   pipeline! {
///       /// Smoothed levels.
///       pub struct Smooth { params: Smoothing, stages: [ema] }
///   }
///
///   let mut p = Smooth::new(Config::default().with_window(1).with_hop(1), Smoothing { alpha: 0.5, start: 2.0 })?;
///   assert_eq!(p.evaluate::<ema>(&[0.0, 0.0], 0..2)?, [1.0, 0.5]);
///   # Ok::<(), sqrtspace::Error>(())
///   ```
/// - `#[params] p: &P`: the pipeline's runtime parameters.
///
/// Stages must be deterministic: the engine recomputes evicted outputs and replays state
/// from checkpoints, and relies on getting the same values.
///
/// # Fallible stages
/// A stage returning `Result<T, E>` (`E: std::error::Error + Send + Sync + 'static`) outputs
/// `T`; its `Err(e)` stops the evaluation with [`Error::Stage`]` { stage, window, source: e }`.
/// Nothing computed is lost, and the pipeline can go on:
///
/// - pull ([`Session::evaluate_with`], [`Pipeline::evaluate_with`]): every window before the
///   failing one has reached the sink; the session stays usable (evaluate a later range);
/// - push ([`Pipeline::pull_until`]): the outputs before the failing window are returned,
///   the position stays at it, and the next call returns the error; the caller then stops
///   (everything before was delivered) or calls [`Pipeline::skip_window`] to go on after it
///   (a later window that needs the failed one again, through a lookback or a stateful
///   stage's replay, fails again);
/// - [`Pipeline::stream`]: stops with the error after every earlier output reached the sink.
///
/// Sinks may stop a run too: a sink returning `ControlFlow::Break(())` or `Err(e)` (see
/// [`SinkFlow`]) stops it after that window, `Err` with [`Error::Sink`].
///
/// A stage that *panics* leaves the pipeline poisoned ([`Error::Poisoned`]) until
/// [`Pipeline::reset`] or a new [`Session`].
///
/// ```
/// use sqrtspace::{pipeline, stage, Config, Error};
///
/// /// A sensor reading that is out of range.
/// #[derive(Debug)]
/// pub struct OutOfRange(pub f32);
/// impl std::fmt::Display for OutOfRange {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "reading {} is out of range", self.0)
///     }
/// }
/// impl std::error::Error for OutOfRange {}
///
/// /// The frame's peak, refused when a reading is out of range.
/// #[stage(inputs = [input])]
/// fn peak(frame: &[f32]) -> Result<f32, OutOfRange> {
///     match frame.iter().find(|x| x.abs() > 100.0) {
///         Some(&bad) => Err(OutOfRange(bad)),
///         None => Ok(frame.iter().fold(0.0, |m, x| m.max(x.abs()))),
///     }
/// }
///
/// pipeline! {
///     /// Peaks of a sensor's readings.
///     pub struct Peaks { stages: [peak], output: peak }
/// }
///
/// let mut readings = vec![1.0f32; 64];
/// readings[40] = 1e6; // window 5 (window 8, hop 8)
/// let mut p = Peaks::new(Config::default().with_window(8).with_hop(8), ())?;
/// let mut s = p.over(&readings);
/// let mut peaks = Vec::new();
/// let e = s.evaluate_with::<peak>(0..8, |_, v| peaks.push(v)).unwrap_err();
/// assert_eq!(peaks, [1.0; 5]); // windows 0..5 reached the sink
/// assert!(matches!(e, Error::Stage { stage: "peak", window: 5, .. }));
/// assert_eq!(s.evaluate::<peak>(6..8)?, [1.0, 1.0]); // and the session goes on
/// # Ok::<(), Error>(())
/// ```
#[doc(inline)]
pub use sqrtspace_macros::stage;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
