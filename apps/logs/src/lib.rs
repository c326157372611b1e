//! # sqrtspace-logs
//!
//! Logs and telemetry rollups on the [`sqrtspace`] engine: sliding windows of rows, each
//! giving count, mean, standard deviation, min, max and exact p50/p95/p99 of the kept
//! values, and a stateful alert flag with hysteresis on p99. The input is streamed (CSV,
//! Parquet and Arrow IPC with the `parquet` feature, raw `f32`/`f64`, text log lines,
//! synthetic latencies), so `sqrt` mode runs in bounded
//! memory whatever the number of rows; `classic` materialises the input (the baseline) and
//! gives bit-identical rows.
//!
//! - [`pipeline`]: the stages and the two pipelines ([`LogsPipeline`], incremental across
//!   hops; [`NaivePipeline`], each window from its frame, the baseline);
//! - [`batch`]: small hops (hop 1) as frames of windows ([`batch::BatchPipeline`]);
//! - [`quantile`]: the quantile definition (NumPy's `method="nearest"`) and the incremental
//!   structure;
//! - [`stats`]: drift-free rolling count/mean/std/min/max;
//! - [`input`]: the readers and what they do with bad input;
//! - `columnar` (feature `parquet`): Parquet and Arrow IPC files, record batch by record batch;
//! - [`job`]: running a job in a mode, with its report;
//! - [`time`]: windows by time (`--every/--period`) on the engine's key windows;
//! - `cli` (feature `cli`): the `demo logs` and `bench logs` subcommands.
//!
//! ```
//! use sqrtspace::Mode;
//! use sqrtspace_logs::{InputSpec, LogsJob, LogsParams};
//!
//! // 100 000 synthetic latencies, windows of 4096 rows every 1024, alert on p99 > 80 ms.
//! let job = LogsJob::new(InputSpec::synthetic(100_000, 1), LogsParams::new(4096, 1024, 80.0), Mode::Sqrt);
//! let mut p99 = Vec::new();
//! let run = job.run(&mut |_, row| {
//!     p99.push(row.quantiles[2]);
//!     Ok(())
//! })?;
//! assert_eq!(run.windows, 94);
//! assert!(p99.iter().all(|q| q.is_some_and(|v| v > 20.0)));
//! # Ok::<(), sqrtspace_logs::LogsError>(())
//! ```

pub mod batch;
#[cfg(feature = "parquet")]
pub mod columnar;
pub mod error;
pub mod input;
pub mod job;
pub mod pipeline;
pub mod quantile;
pub mod stats;
pub mod time;

#[cfg(feature = "cli")]
pub mod cli;

pub use error::LogsError;
pub use input::{Format, InputCounts, InputSpec, Reader, Synthetic};
pub use job::{Engine, LogsJob, LogsRun};
pub use pipeline::{
    AlertRule, LogsParams, LogsPipeline, NaivePipeline, Record, Row, RowCounts, ValueFilter,
};
pub use time::{TimeCounts, TimePipeline, TimeWindows};

/// The shipped extract of real flight delays (see `assets/README.md`), relative to this
/// crate's manifest directory.
pub const DEFAULT_INPUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/flights-100k.csv");
