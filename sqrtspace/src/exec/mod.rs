//! The executors: how a [`Graph`] is evaluated.
//!
//! - `input`: the push-mode input buffer (with the samples' keys for key windows);
//! - `keyed`: [`Pipeline::stream_keyed`], streaming with key windows ([`crate::framing`]);
//! - `pipeline`: the [`Pipeline`] type (construction, configuration, inspection);
//! - `sqrt`: depth-first evaluation per window with the LRU, checkpoints and recomputation
//!   (sqrt mode and push mode);
//! - `classic`: stage by stage over the whole range into columns;
//! - `pull`: the pull API ([`Pipeline::plan`], [`Pipeline::evaluate`]);
//! - `sink`: what a sink callback returns ([`SinkFlow`]: go on, stop, or fail);
//! - `push`: the push and stream API ([`Pipeline::push_samples`], [`Pipeline::pull_until`],
//!   [`Pipeline::stream`]) with its bounded input buffer and history trimming.
//!
//! All of it is generic code that rustc monomorphises per stage: the pipeline's generated
//! [`Graph`] impl routes each fetch to the typed
//! [`Slot`] of the stage through [`Has`], and the few
//! operations that need a stage index at run time (evicting a key, running a classic column)
//! go through a generated `match`. No `dyn`, no `Any`.
//!
//! Module dependencies run one way: `exec` -> `plan` -> `graph` -> `cache`, `metrics`,
//! `config`, `stage`; nothing below `exec` imports it.

mod candidates;
pub(crate) mod classic;
mod input;
mod keyed;
pub mod parallel;
mod pipeline;
mod pool;
mod pull;
mod push;
mod schedule;
mod sink;
pub(crate) mod sqrt;

pub use pipeline::Pipeline;
pub use pull::Session;
pub use push::StreamEnd;
pub use sink::{Sink, SinkFlow};

/// The run-time traits and analysis, also reachable here (their home is [`crate::graph`]).
pub use crate::graph::{needs, span, Compute, Frames, Graph, Has, OutputOf, Slot};
