//! Procedural macros of [sqrtspace](https://docs.rs/sqrtspace): `#[stage]` and `pipeline!`.
//! Use them through the `sqrtspace` crate, which re-exports them and documents their syntax.
//!
//! Each macro runs four phases: parse (syntax only) -> check (semantic errors, all collected)
//! -> analyze (what the expansion needs) -> expand. Entry points convert to `proc_macro2` and
//! call testable functions.
#![forbid(unsafe_code)]

mod bytesize;
mod errors;
mod pipeline;
mod stage;

use proc_macro::TokenStream;

/// Declares a pipeline stage: a free function whose parameters are the outputs of other
/// stages (or the raw frame), and whose return value is its output for one window.
///
/// # Syntax
///
/// ```text
/// #[stage(inputs = [a, b[-1], input], cost = 10, init = path)]
/// fn name(a: &A, b_before: Option<&B>, frame: &[T], #[state] s: &mut S, #[params] p: &P) -> Out
/// ```
///
/// | written | meaning |
/// |---|---|
/// | `inputs = [a, b]` | one data parameter per entry, **in this order** (bound by position): `a: &Output of a` |
/// | `input` | the current frame of raw samples, `&[T]` (`T` = the pipeline's `sample`, default `f32`) |
/// | `a[-n]` | `a`'s output `n` windows back, as `Option<&T>` (`None` before window `n`); `1 <= n <= 1024`; `input[-n]` is `Option<&[T]>` |
/// | `cost = N` | relative recompute-cost hint: 1 an element-wise pass (default), 10 an FFT, 100 a model inference |
/// | `#[state] s: &mut S` | explicit state carried across windows and checkpointed (`S: Clone + ByteSize`, with the `serde` feature also `Serialize + Deserialize`) |
/// | `init = path` | `path()` gives the initial state (default: `S::default()`) |
/// | `#[params] p: &P` | the pipeline's runtime parameters (`params: P` in [`pipeline!`]) |
///
/// The output type must be `Clone + sqrtspace::ByteSize` (`#[derive(ByteSize)]` for your own
/// structs and enums) and owned: not `()` (a stage runs a mode-dependent number of times, so
/// side effects belong on the pipeline's output) and not a reference. Stages must be
/// deterministic: the same inputs and state give the same output and next state, since the
/// engine recomputes evicted outputs and replays state from checkpoints.
///
/// The function stays an ordinary function (callable, testable); `#[stage]` adds a hidden
/// marker type of the same name that pipelines and `Pipeline::evaluate::<name>` refer to. Stages
/// live in any module or crate and are named by path (`dsp::spectrum`).
///
/// # Example
///
/// ```
/// use sqrtspace::{pipeline, stage, ByteSize, Config};
///
/// /// The running maximum, kept across windows.
/// #[derive(Clone, Default, ByteSize)]
/// pub struct Peak {
///     max: f32,
/// }
///
/// #[stage(inputs = [input])]
/// fn mean(frame: &[f32]) -> f32 {
///     frame.iter().sum::<f32>() / frame.len() as f32
/// }
///
/// // `mean[-1]` is the previous window's mean, `None` at window 0.
/// #[stage(inputs = [mean, mean[-1]], cost = 1)]
/// fn delta(now: &f32, before: Option<&f32>) -> f32 {
///     before.map_or(0.0, |b| now - b)
/// }
///
/// #[stage(inputs = [delta])]
/// fn peak(d: &f32, #[state] p: &mut Peak) -> f32 {
///     p.max = p.max.max(d.abs());
///     p.max
/// }
///
/// pipeline! {
///     struct Levels {
///         stages: [mean, delta, peak],
///     }
/// }
///
/// let signal: Vec<f32> = (0..64).map(|i| (i / 16) as f32).collect();
/// let mut p = Levels::new(Config::default().with_window(16).with_hop(16), ())?;
/// assert_eq!(p.evaluate::<mean>(&signal, 0..4)?, [0.0, 1.0, 2.0, 3.0]);
/// assert_eq!(p.evaluate::<peak>(&signal, 0..4)?, [0.0, 1.0, 1.0, 1.0]);
/// # Ok::<(), sqrtspace::Error>(())
/// ```
///
/// # Compile errors
///
/// Each mistake is one error on your token, in these terms (every class has a reviewed case
/// under `tests/ui/`):
///
/// - `inputs` missing, malformed, or with an unknown key (with "did you mean");
/// - a parameter count that differs from `inputs`, or parameters named like the inputs but in
///   another order (the help shows the reordered `inputs`);
/// - a lookback that is not negative (`a[0]`, `a[+1]`), longer than 1024, or a range
///   (`a[-60..]`: the help shows how to keep the last 60 values in state);
/// - a lookback taken as `&T` (it is `Option<&T>`), or an `Option<&T>` for an input without
///   lookback;
/// - a `&mut` parameter without `#[state]`, `init` without state;
/// - `async`, generic or `self` functions; a stage reading its own output;
/// - a return type that is `()`, a reference, or not `ByteSize` (the message names
///   `#[derive(ByteSize)]`); a state that is not `Clone`;
/// - an input that is not a stage (a plain function), an upstream output that does not fit the
///   parameter's type.
///
/// [`pipeline!`]: macro@pipeline
#[proc_macro_attribute]
pub fn stage(args: TokenStream, item: TokenStream) -> TokenStream {
    let block = stage::context::enclosing_block(&item);
    stage::stage(args.into(), item.into(), block).into()
}

/// Declares a pipeline type from [`#[stage]`](macro@stage) functions.
///
/// # Syntax
///
/// ```text
/// pipeline! {
///     /// docs and attributes
///     pub struct Name {
///         sample: T,          // optional: the raw sample type, `Copy` (default `f32`)
///         params: P,          // optional: runtime parameters for `#[params]` (default `()`)
///         stages: [a, b, m::c],
///         output: c,          // optional: the stage emitted per window (default: the sink)
///                             // `output: [b, c]` emits the tuple of both outputs
///     }
/// }
/// ```
///
/// `stages` lists every stage of the pipeline once, by path, in any order (they are sorted
/// topologically). Without `output:` the pipeline emits its sink, the one stage that no other
/// stage reads; when there are several sinks, name the output.
///
/// It generates the unit struct `Name` with:
/// - `Name::new(config, params) -> Result<sqrtspace::Pipeline<Name>, sqrtspace::Error>`;
/// - constants `STAGES` (metadata), `STAGE_NAMES`, `TOPO` (topological order), `COSTS`, and
///   the graph as `DOT` (Graphviz) and `MERMAID`, all usable in `const` context;
/// - hidden items (the typed storage, the `Graph` and `Has` impls) that only the engine uses.
///
/// # Example
///
/// ```
/// use sqrtspace::{pipeline, stage, Config, Mode};
///
/// pub struct Gain {
///     pub factor: f32,
/// }
///
/// #[stage(inputs = [input])]
/// fn peak(frame: &[f32]) -> f32 {
///     frame.iter().fold(0.0, |m, x| m.max(x.abs()))
/// }
///
/// #[stage(inputs = [input])]
/// fn rms(frame: &[f32]) -> f32 {
///     (frame.iter().map(|x| x * x).sum::<f32>() / frame.len() as f32).sqrt()
/// }
///
/// #[stage(inputs = [peak, rms])]
/// fn crest(peak: &f32, rms: &f32, #[params] g: &Gain) -> f32 {
///     g.factor * peak / rms.max(f32::MIN_POSITIVE)
/// }
///
/// pipeline! {
///     /// Crest factor per window.
///     pub struct Crest {
///         params: Gain,
///         stages: [peak, rms, crest],
///         output: [crest, peak],
///     }
/// }
///
/// let signal = vec![0.5f32; 64];
/// let config = Config::default().with_window(16).with_hop(16).with_mode(Mode::Sqrt);
/// let mut p = Crest::new(config, Gain { factor: 2.0 })?;
/// assert_eq!(p.evaluate::<crest>(&signal, 0..4)?, [2.0; 4]);
/// p.push_samples(&signal)?;
/// assert_eq!(p.pull_until(4)?, [(2.0, 0.5); 4]);
/// assert!(Crest::DOT.contains("peak -> crest"));
/// assert_eq!(Crest::STAGE_NAMES, ["peak", "rms", "crest"]);
/// # Ok::<(), sqrtspace::Error>(())
/// ```
///
/// # Compile errors
///
/// Each mistake is one error on your token, and uses of the pipeline type report nothing
/// more (every class has a reviewed case under `tests/ui/`):
///
/// - a malformed body, an unknown or repeated key (with "did you mean"), no or empty `stages`;
/// - a stage listed twice, or two stages of the same name (`a::level`, `b::level`: the error
///   names both paths);
/// - an output that is not a listed stage, listed twice, or `output: []`; no `output:` and
///   several sinks (the error names them);
/// - a cycle (`a -> b -> a`, lookback edges included: feedback belongs in state);
/// - a stage whose input is not in `stages`, whose `#[params]` type differs from `params:`, or
///   whose frames are not of the `sample:` type (the message names both types);
/// - a `sample:` type that is not `Copy`.
#[proc_macro]
pub fn pipeline(input: TokenStream) -> TokenStream {
    pipeline::pipeline(input.into()).into()
}

/// Derives `sqrtspace::ByteSize` for a struct or an enum: its heap bytes are the sum of its
/// fields' heap bytes. See `sqrtspace::ByteSize`.
#[proc_macro_derive(ByteSize)]
pub fn derive_byte_size(input: TokenStream) -> TokenStream {
    bytesize::derive(input.into()).into()
}
