//! The typed errors of the logs job. Each message names the file, row and column where it
//! applies, and what to change.

use std::path::PathBuf;

/// An error of the logs job: bad input (in `--strict` mode, or when it cannot be skipped), a
/// bad argument, or the engine's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogsError {
    /// The input file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A column named on the command line is not in the CSV header (or the Parquet/Arrow schema).
    #[error(
        "{path}: no column `{column}`; the columns are: {available}; choose one with --{flag}"
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The header's columns, comma-separated.
        available: String,
        /// The option that named it (`value`, `ts`, `key`).
        flag: &'static str,
    },
    /// A cell that should hold a number does not (strict mode; otherwise skipped and counted).
    #[error("{path}: row {row}, column `{column}`: `{text}` is not a number; fix the cell, or drop --strict to skip such rows (they are counted in the report)")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based data row (header excluded) or line number.
        row: u64,
        /// Column name or regex capture name.
        column: String,
        /// The cell's text.
        text: String,
    },
    /// A timestamp cell could not be parsed (strict mode; otherwise skipped and counted).
    #[error("{path}: row {row}, column `{column}`: `{text}` is not a timestamp (use integer seconds since 1970 or `YYYY-MM-DD[ T]HH:MM[:SS]`); drop --strict to skip such rows")]
    BadTimestamp {
        /// The file.
        path: PathBuf,
        /// 1-based data row or line number.
        row: u64,
        /// Column or capture name.
        column: String,
        /// The cell's text.
        text: String,
    },
    /// A timestamp earlier than the previous row's (strict mode; otherwise kept and counted).
    #[error("{path}: row {row}: timestamp {ts} is earlier than the previous row's ({previous}); sort the input by time, or drop --strict to keep such rows (they are counted)")]
    TimestampBackwards {
        /// The file.
        path: PathBuf,
        /// 1-based data row or line number.
        row: u64,
        /// This row's timestamp (seconds).
        ts: i64,
        /// The previous row's timestamp (seconds).
        previous: i64,
    },
    /// A text line the regex does not match (strict mode; otherwise skipped and counted).
    #[error("{path}: line {line} does not match the regex: `{text}`; fix --line-regex, or drop --strict to skip such lines")]
    NoMatch {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The line (truncated to 120 characters).
        text: String,
    },
    /// A CSV record could not be read (bad quoting, invalid UTF-8 where text is needed...).
    #[error("{path}: CSV error near row {row}: {source}; check the file's quoting and delimiter")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based data row.
        row: u64,
        /// The csv crate's error.
        #[source]
        source: csv::Error,
    },
    /// A raw file's length is not a whole number of samples.
    #[error("{path}: {bytes} bytes is not a whole number of {sample_bytes}-byte samples ({trailing} trailing bytes); the file is truncated or holds another sample type (check --format)")]
    TruncatedRaw {
        /// The file.
        path: PathBuf,
        /// File length.
        bytes: u64,
        /// Bytes per sample.
        sample_bytes: usize,
        /// Bytes after the last whole sample.
        trailing: u64,
    },
    /// A Parquet or Arrow IPC file whose footer or schema cannot be read: truncated, corrupt,
    /// or another format.
    #[error("{path}: cannot read it as {format}: {source}; the file is truncated or corrupt, or not {format} (check --format)")]
    ColumnarOpen {
        /// The file.
        path: PathBuf,
        /// `Parquet` or `Arrow IPC`.
        format: &'static str,
        /// The parquet or arrow crate's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A record batch of a Parquet or Arrow IPC file cannot be decoded (truncated or corrupt
    /// data pages or buffers).
    #[error("{path}: cannot read the {format} rows from row {row} on: {source}; the file is truncated or corrupt")]
    ColumnarRead {
        /// The file.
        path: PathBuf,
        /// `Parquet` or `Arrow IPC`.
        format: &'static str,
        /// 1-based row of the batch's first row.
        row: u64,
        /// The parquet or arrow crate's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Parquet or Arrow column whose type the option naming it cannot use.
    #[error("{path}: column `{column}` has type {data_type}, which --{flag} cannot use (it takes {expected}); choose another column with --{flag}")]
    UnsupportedColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its Arrow data type.
        data_type: String,
        /// The option that named it (`value`, `ts`, `key`).
        flag: &'static str,
        /// The types that option takes.
        expected: &'static str,
    },
    /// A Parquet or Arrow IPC input in a build without the `parquet` feature.
    #[error("{path}: reading {format} needs the `parquet` feature; rebuild with `--features parquet` (of sqrtspace-logs, sqrtspace-cli or the root package), or convert the file to CSV")]
    FeatureDisabled {
        /// The file.
        path: PathBuf,
        /// `Parquet` or `Arrow IPC`.
        format: &'static str,
    },
    /// The line regex does not compile or lacks the `value` capture group.
    #[error("bad --line-regex `{pattern}`: {reason}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// An argument out of range.
    #[error("{0}")]
    Argument(String),
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The engine's error (configuration, stage).
    #[error(transparent)]
    Engine(#[from] sqrtspace::Error),
    /// Classic mode would not fit: the materialised input and the stages' columns need more
    /// than the RAM budget, or the allocation failed. Raised before the input is read when
    /// its size is known.
    #[error(
        "classic mode needs about {} to materialise {rows} rows and the stages' columns, more than {}; \
         use --mode sqrt (memory independent of the input's length) or --mode auto, or raise --ram-budget",
        sqrtspace::plan::human(*bytes),
        match budget { Some(b) => format!("the RAM budget ({})", sqrtspace::plan::human(*b)), None => "this process could allocate".to_string() }
    )]
    OutOfMemory {
        /// Bytes classic mode would need (estimate).
        bytes: u64,
        /// Input rows.
        rows: u64,
        /// The RAM budget it exceeds (`None`: the allocation itself failed).
        budget: Option<u64>,
    },
    /// The outputs of two modes differ (a bug: please report it).
    #[error("{0}")]
    Mismatch(String),
}
