//! Sink callbacks ([`Sink`]) and what they return ([`SinkFlow`]): go on, stop, or stop with
//! an error.

use crate::error::Error;
use std::ops::ControlFlow;

/// The return type of a sink callback (`sink(t, output)` of [`Pipeline::stream`],
/// [`Pipeline::stream_reader`], [`Pipeline::pull_with`], [`Pipeline::evaluate_with`] and
/// [`Session::evaluate_with`]): whether the run goes on after the output of window `t`.
///
/// - `()`: always go on (`|_, v| out.push(v)`);
/// - [`ControlFlow<()>`]: `Continue(())` goes on, `Break(())` stops the run cleanly after
///   window `t` (the call returns `Ok`; the stream calls report it in
///   [`StreamEnd::stopped_at`]);
/// - `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`: `Err(e)` stops the
///   run with [`Error::Sink`]` { window: t, source: e }` — a failing writer:
///
/// ```
/// use std::io::Write;
/// # use sqrtspace::{pipeline, stage, Config};
/// # #[stage(inputs = [input])]
/// # fn mean(frame: &[f32]) -> f32 { frame.iter().sum::<f32>() / frame.len() as f32 }
/// # pipeline! { pub struct Means { stages: [mean], output: mean } }
/// # let signal = vec![0.5f32; 64];
/// # let mut p = Means::new(Config::default().with_window(8).with_hop(8), ())?;
/// let mut out = std::io::BufWriter::new(Vec::new());
/// p.evaluate_with::<mean>(&signal, 0..8, |t, m| writeln!(out, "{t},{m}"))?;
/// # Ok::<(), sqrtspace::Error>(())
/// ```
///
/// In every case the outputs of the windows before `t` and the output of `t` itself have been
/// handed to the sink, and nothing after `t` is evaluated. A pipeline stopped this way stays
/// usable (push mode: the position is after `t`).
///
/// [`Pipeline::stream`]: crate::Pipeline::stream
/// [`Pipeline::stream_reader`]: crate::Pipeline::stream_reader
/// [`Pipeline::pull_with`]: crate::Pipeline::pull_with
/// [`Pipeline::evaluate_with`]: crate::Pipeline::evaluate_with
/// [`Session::evaluate_with`]: crate::Session::evaluate_with
/// [`StreamEnd::stopped_at`]: crate::StreamEnd::stopped_at
#[diagnostic::on_unimplemented(
    message = "a sink returns `()`, `ControlFlow<()>` or `Result<(), E>`, not `{Self}`",
    label = "this sink's return type",
    note = "return `ControlFlow::Break(())` to stop, or `Err(e)` (e: std::error::Error + Send + Sync) to stop with `Error::Sink`"
)]
pub trait SinkFlow {
    /// `Continue` to go on, `Break` to stop, `Err` ([`Error::Sink`] at `window`) to fail.
    ///
    /// # Errors
    /// [`Error::Sink`] for an `Err` result.
    fn flow(self, window: u64) -> Result<ControlFlow<()>, Error>;
}

impl SinkFlow for () {
    #[inline]
    fn flow(self, _: u64) -> Result<ControlFlow<()>, Error> {
        Ok(ControlFlow::Continue(()))
    }
}

impl SinkFlow for ControlFlow<()> {
    #[inline]
    fn flow(self, _: u64) -> Result<ControlFlow<()>, Error> {
        Ok(self)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> SinkFlow for Result<(), E> {
    #[inline]
    fn flow(self, window: u64) -> Result<ControlFlow<()>, Error> {
        match self {
            Ok(()) => Ok(ControlFlow::Continue(())),
            Err(e) => Err(Error::Sink {
                window,
                source: Box::new(e),
            }),
        }
    }
}

/// A sink callback: `FnMut(t, output) -> F` with `F: `[`SinkFlow`] (`()`, `ControlFlow<()>` or
/// `Result<(), E>`). Every such closure is one; the trait only lets the pipeline's methods
/// take `impl Sink<O>` and still be called as `evaluate_with::<stage>(..)`.
pub trait Sink<O>: FnMut(u64, O) -> <Self as Sink<O>>::Flow {
    /// What the callback returns.
    type Flow: SinkFlow;
}

impl<O, R: SinkFlow, F: FnMut(u64, O) -> R> Sink<O> for F {
    type Flow = R;
}
