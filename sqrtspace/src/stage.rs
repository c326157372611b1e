//! What a stage is to the runtime: the [`Stage`] trait that `#[stage]` implements on a hidden
//! marker type, its compile-time [`StageMeta`], and the bounds on outputs and state.

use crate::bytes::ByteSize;

/// One input edge of a stage, as written in `#[stage(inputs = [...])]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputMeta {
    /// The name written in `inputs` (`input` for raw frames).
    pub name: &'static str,
    /// The upstream stage's [`StageMeta::id`], or `None` for the raw frames (`input`).
    pub stage: Option<&'static str>,
    /// How many windows back: 0 for the current window, `n` for `name[-n]`.
    pub offset: u64,
}

/// Compile-time description of a stage, emitted by `#[stage]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageMeta {
    /// The function's name.
    pub name: &'static str,
    /// A crate-wide unique id: `module_path!()::name`.
    pub id: &'static str,
    /// Relative recompute-cost hint (see [`Stage`] for the scale).
    pub cost: u32,
    /// Whether the stage carries state across windows.
    pub stateful: bool,
    /// Inputs in parameter order.
    pub inputs: &'static [InputMeta],
}

impl StageMeta {
    /// The largest lookback offset among the inputs, in windows (0 without lookback).
    #[must_use]
    pub const fn max_offset(&self) -> u64 {
        let mut i = 0;
        let mut m = 0;
        while i < self.inputs.len() {
            if self.inputs[i].offset > m {
                m = self.inputs[i].offset;
            }
            i += 1;
        }
        m
    }
}

/// The default recompute-cost hint when `#[stage]` has no `cost = N`.
///
/// Scale: 1 is a cheap element-wise pass over a window (a gain, a threshold), 10 an
/// `O(W log W)` transform of a window (an FFT), 100 a model inference per window. The planner
/// estimates from them what sqrt mode would recompute, sizes the LRU, falls back to classic
/// when that is too much, and snapshots expensive re-read outputs in the checkpoint ring: see
/// [`crate::cost`].
pub const DEFAULT_COST: u32 = 1;

/// A value a stage may output: cloneable (returned to callers, checkpointed), byte-counted, and
/// `Send` (with several workers, outputs computed ahead on a worker thread are handed to the
/// thread that consumes them: see [`crate::exec::parallel`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a stage output: it must implement Clone, Send and sqrtspace::ByteSize",
    label = "this output type",
    note = "implement `sqrtspace::ByteSize` for it (`impl ByteSize for {Self} {{}}` when it owns no heap memory)"
)]
pub trait StageOutput: Clone + ByteSize + Send + 'static {}
#[diagnostic::do_not_recommend]
impl<T: Clone + ByteSize + Send + 'static> StageOutput for T {}

/// A type a stateful stage may keep: cloneable (checkpoints snapshot it) and byte-counted (the
/// checkpoint ring charges it).
///
/// No serialisation bound, with or without the `serde` feature (features stay additive: a crate
/// enabling `serde` breaks no other crate's stages). Serialisation is bound where checkpoints
/// are written out: `serde_json::to_string(p.slot::<s>().checkpoint(t)?)` needs
/// `S::State: Serialize` there, and only there.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a stage's state: checkpoints clone it, so it must implement Clone (and sqrtspace::ByteSize)",
    label = "this state type",
    note = "add `#[derive(Clone)]` and `impl sqrtspace::ByteSize for {Self} {{}}`"
)]
pub trait StageState: Clone + ByteSize + 'static {}
#[diagnostic::do_not_recommend]
impl<T: Clone + ByteSize + 'static> StageState for T {}

/// A type a stage may take as `#[scratch] s: &mut S`: per-thread working memory (FFT buffers,
/// temporaries) that is never checkpointed, never part of an output, and starts as
/// `S::default()` on each thread. Its contents when a call starts are whatever an earlier call
/// on the same thread left (of this stage, in any pipeline): a stage must not let them change
/// its output. See "Buffer reuse" in the crate docs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a stage's #[scratch]: each thread starts from `Default::default()`, so it must implement Default",
    label = "this scratch type",
    note = "add `#[derive(Default)]` to `{Self}` (or implement `Default` by hand)"
)]
pub trait StageScratch: Default + 'static {}
#[diagnostic::do_not_recommend]
impl<T: Default + 'static> StageScratch for T {}

/// An output type a stage may fill through an `#[out] out: &mut O` parameter: a stage output
/// that has a `Default` (the buffer handed over when the stage's pool of spent outputs is
/// empty). See [`crate::graph::pool`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an #[out] buffer: when the pool of spent outputs is empty the engine hands over `Default::default()`, so it must implement Default (and Clone, Send, sqrtspace::ByteSize)",
    label = "this output type",
    note = "add `#[derive(Default)]` to `{Self}`, or return the output by value (`-> {Self}`) instead of taking `#[out]`"
)]
pub trait StageBuffer: StageOutput + Default {}
#[diagnostic::do_not_recommend]
impl<T: StageOutput + Default> StageBuffer for T {}

/// A pipeline stage. `#[stage]` implements it on a hidden marker type that shares the
/// function's name; users never implement it by hand.
///
/// Stages must be deterministic: the same inputs (and the same state) give the same output
/// (and the same next state). The engine relies on it to recompute evicted outputs and to
/// replay state from checkpoints.
pub trait Stage: 'static {
    /// The function's return type.
    type Output: StageOutput;
    /// The explicit state (`()` for a pure stage).
    type State: StageState;
    /// Compile-time description.
    const META: StageMeta;
    /// Whether the stage writes its output into a recycled buffer (an `#[out]` parameter):
    /// then its spent outputs go back to its pool ([`crate::graph::pool`]).
    const REUSES_OUTPUT: bool = false;
}
