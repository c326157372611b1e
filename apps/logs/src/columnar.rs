//! Parquet and Arrow IPC input (feature `parquet`), read one record batch at a time.
//!
//! - **Parquet**: the `parquet` crate's arrow reader
//!   ([`ParquetRecordBatchReaderBuilder`]) with a projection to the named columns and batches
//!   of [`BATCH_ROWS`] rows; it decodes one data page of each chosen column at a time, so the
//!   memory held is a few pages plus one batch, whatever the file's length or row-group size.
//!   Codecs: uncompressed, Snappy, LZ4 (raw and Hadoop framing) and zstd (what pyarrow,
//!   Polars, DuckDB and Spark write by default); a GZIP, Brotli or LZO column chunk is an error
//!   [`LogsError::ColumnarRead`] naming the codec.
//! - **Arrow IPC**, file format (`.arrow`, `.ipc`, Feather v2): `arrow-ipc`'s `FileReader`,
//!   one record batch as written at a time, projected to the named columns (so memory is one
//!   of the writer's batches: write large files in batches of bounded size). Buffers may be
//!   uncompressed, LZ4 or zstd. The IPC *stream* format is not read: a file truncated between
//!   two messages of a stream cannot be told from a complete one, so rows could be lost
//!   silently; the file format has a footer listing every batch.
//!
//! # Column types
//!
//! | option | Arrow types read | as |
//! |---|---|---|
//! | `value` | `Int8..Int64`, `UInt8..UInt64`, `Float16/32/64`, `Decimal32/64/128/256` | the nearest `f64` (integers beyond 2^53 and decimals rounded to nearest; decimals through their exact decimal text) |
//! | `ts` | `Timestamp` (any unit, any time zone: the stored UTC instant), `Date32`, `Date64`, integers, strings | whole seconds since 1970-01-01 UTC, rounded down (`div_euclid`); integers taken as seconds; strings as for CSV ([`crate::input::parse_timestamp`]) |
//! | `key` | `Utf8`, `LargeUtf8`, `Utf8View`, dictionaries of those | the key's text; a null key is the empty key, as an empty CSV cell |
//!
//! A null value or timestamp cell is treated as a CSV cell that does not parse: the row is
//! skipped and counted (`--strict`: [`LogsError::BadValue`] / [`LogsError::BadTimestamp`]
//! naming the 1-based row and the column, with the text `null`). NaN floats are kept, as a
//! CSV `NaN` cell is. A column of another type is [`LogsError::UnsupportedColumn`] at open; a
//! missing one [`LogsError::MissingColumn`] listing the columns present.

use crate::error::LogsError;
use crate::input::{parse_timestamp, Ctx, Format, InputSpec};
use crate::pipeline::Record;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Schema, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::fs::File;
use std::path::Path;

/// Rows per record batch read from a Parquet file. Small enough that a batch of three
/// columns stays well under a megabyte, large enough that the per-batch cost vanishes.
pub const BATCH_ROWS: usize = 8192;

type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// The rows of a Parquet file from its footer; `None` when the footer cannot be read.
pub(crate) fn parquet_rows(path: &Path) -> Option<u64> {
    let file = File::open(path).ok()?;
    let b = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    u64::try_from(b.metadata().file_metadata().num_rows()).ok()
}

/// A Parquet or Arrow IPC file being read batch by batch.
pub(crate) struct Batches {
    format: &'static str,
    iter: BatchIter,
    value: String,
    ts: Option<String>,
    key: Option<String>,
    /// The current batch's columns, decoded.
    cur: Option<Decoded>,
    /// Next row of the current batch.
    pos: usize,
    vals: Vec<f64>,
    stamps: Vec<Option<i64>>,
}

/// The current batch's chosen columns.
struct Decoded {
    rows: usize,
    value: ArrayRef,
    ts: Option<ArrayRef>,
    key: Option<KeyCol>,
}

/// A key column of the current batch.
enum KeyCol {
    Text(ArrayRef),
    /// Dictionary: per row the index into `values` (`None`: null), and per dictionary entry
    /// the interned key, filled on first use.
    Dict {
        index: Vec<Option<usize>>,
        values: ArrayRef,
        ids: Vec<Option<(u32, bool)>>,
    },
}

fn is_value_type(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || t.is_decimal()
}

fn is_text_type(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_ts_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    ) || t.is_integer()
        || is_text_type(t)
}

fn is_key_type(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, v) => is_text_type(v),
        t => is_text_type(t),
    }
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batches")
            .field("format", &self.format)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Batches {
    /// Opens `file` (at `path`) as `spec.format` and checks the chosen columns.
    pub(crate) fn open(file: File, path: &Path, spec: &InputSpec) -> Result<Self, LogsError> {
        let format = spec.format.name();
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| LogsError::ColumnarOpen {
            path: path.to_path_buf(),
            format,
            source,
        };
        let iter: BatchIter = if spec.format == Format::Parquet {
            let b = ParquetRecordBatchReaderBuilder::try_new(file)
                .map_err(|e| open_err(Box::new(e)))?;
            let roots = Self::check(path, spec, b.schema())?;
            let mask = ProjectionMask::roots(b.parquet_schema(), roots);
            Box::new(
                b.with_projection(mask)
                    .with_batch_size(BATCH_ROWS)
                    .build()
                    .map_err(|e| open_err(Box::new(e)))?,
            )
        } else {
            let r = arrow_ipc::reader::FileReader::try_new_buffered(file, None)
                .map_err(|e| open_err(Box::new(e)))?;
            let roots = Self::check(path, spec, &r.schema())?;
            drop(r);
            let file = File::open(path).map_err(crate::input::io(path))?;
            Box::new(
                arrow_ipc::reader::FileReader::try_new_buffered(file, Some(roots))
                    .map_err(|e| open_err(Box::new(e)))?,
            )
        };
        Ok(Batches {
            format,
            iter,
            value: spec.value.clone(),
            ts: spec.ts.clone(),
            key: spec.key.clone(),
            cur: None,
            pos: 0,
            vals: Vec::new(),
            stamps: Vec::new(),
        })
    }

    /// Finds the chosen columns in `schema` and checks their types; returns their indices,
    /// sorted and without repeats.
    fn check(path: &Path, spec: &InputSpec, schema: &Schema) -> Result<Vec<usize>, LogsError> {
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let find =
            |name: &str,
             flag: &'static str,
             ok: fn(&DataType) -> bool,
             expected: &'static str|
             -> Result<usize, LogsError> {
                let i = names.iter().position(|n| *n == name).ok_or_else(|| {
                    LogsError::MissingColumn {
                        path: path.to_path_buf(),
                        column: name.to_string(),
                        available: names.join(", "),
                        flag,
                    }
                })?;
                let t = schema.field(i).data_type();
                if ok(t) {
                    Ok(i)
                } else {
                    Err(LogsError::UnsupportedColumn {
                        path: path.to_path_buf(),
                        column: name.to_string(),
                        data_type: t.to_string(),
                        flag,
                        expected,
                    })
                }
            };
        let mut roots = vec![find(
            &spec.value,
            "value",
            is_value_type,
            "integers, floats and decimals",
        )?];
        if let Some(ts) = &spec.ts {
            roots.push(find(
                ts,
                "ts",
                is_ts_type,
                "timestamps, dates, integer seconds and strings",
            )?);
        }
        if let Some(key) = &spec.key {
            roots.push(find(
                key,
                "key",
                is_key_type,
                "strings and dictionaries of strings",
            )?);
        }
        roots.sort_unstable();
        roots.dedup();
        Ok(roots)
    }

    /// Decodes the chosen columns of `batch`.
    fn load(&mut self, batch: &RecordBatch) -> Option<Decoded> {
        let col = |name: &str| batch.column_by_name(name).cloned();
        let value = col(&self.value)?;
        decode_values(&value, &mut self.vals)?;
        let ts = match &self.ts {
            Some(n) => {
                let c = col(n)?;
                decode_stamps(&c, &mut self.stamps)?;
                Some(c)
            }
            None => None,
        };
        let key = match &self.key {
            Some(n) => Some(key_col(col(n)?)?),
            None => None,
        };
        Some(Decoded {
            rows: batch.num_rows(),
            value,
            ts,
            key,
        })
    }

    /// Reads into `buf` up to `max`; `Ok(false)` when the file is exhausted.
    pub(crate) fn fill(
        &mut self,
        ctx: &mut Ctx,
        buf: &mut Vec<Record>,
        max: usize,
    ) -> Result<bool, LogsError> {
        while buf.len() < max {
            let Some(cur) = self.cur.as_mut().filter(|c| self.pos < c.rows) else {
                let batch = match self.iter.next() {
                    None => return Ok(false),
                    Some(Ok(b)) => b,
                    Some(Err(e)) => {
                        return Err(LogsError::ColumnarRead {
                            path: ctx.path.clone(),
                            format: self.format,
                            row: ctx.row + 1,
                            source: Box::new(e),
                        })
                    }
                };
                self.cur = Some(self.load(&batch).ok_or_else(|| LogsError::ColumnarRead {
                    path: ctx.path.clone(),
                    format: self.format,
                    row: ctx.row + 1,
                    source: "a record batch lacks a chosen column or changes its type".into(),
                })?);
                self.pos = 0;
                continue;
            };
            let i = self.pos;
            self.pos += 1;
            ctx.row += 1;
            if cur.value.is_null(i) {
                ctx.reject_value("null")?;
                continue;
            }
            let v = self.vals[i];
            let raw_ts = match &cur.ts {
                None => (ctx.row - 1) as i64,
                Some(c) => match self.stamps[i] {
                    Some(t) => t,
                    None => {
                        ctx.reject_timestamp(&cell_text(c.as_ref(), i))?;
                        continue;
                    }
                },
            };
            let t = ctx.stamp(raw_ts)?;
            let (k, pass) = match &mut cur.key {
                None => (0, true),
                Some(KeyCol::Text(a)) => ctx.key(text_at(a.as_ref(), i).unwrap_or(b"")),
                Some(KeyCol::Dict { index, values, ids }) => match index[i] {
                    None => ctx.key(b""),
                    Some(j) => *ids[j]
                        .get_or_insert_with(|| ctx.key(text_at(values.as_ref(), j).unwrap_or(b""))),
                },
            };
            buf.push(Record {
                ts: t,
                value: v,
                key: k,
                pass,
            });
        }
        Ok(true)
    }
}

/// The bytes of string cell `i` (`None`: null or not a string column).
fn text_at(a: &dyn Array, i: usize) -> Option<&[u8]> {
    if a.is_null(i) {
        return None;
    }
    Some(match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).as_bytes(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).as_bytes(),
        DataType::Utf8View => a.as_string_view().value(i).as_bytes(),
        _ => return None,
    })
}

/// A cell's text for an error message: `null`, a string's text, or the stored number.
fn cell_text(a: &dyn Array, i: usize) -> String {
    if a.is_null(i) {
        return "null".into();
    }
    match text_at(a, i) {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => "a number out of the range of 64-bit seconds".into(),
    }
}

fn key_col(a: ArrayRef) -> Option<KeyCol> {
    if let Some(d) = a.as_any_dictionary_opt() {
        let values = d.values().clone();
        let n = values.len();
        let index = if n == 0 {
            vec![None; d.len()]
        } else {
            let keys = d.normalized_keys();
            (0..d.len())
                .map(|i| (!d.is_null(i)).then(|| keys[i]))
                .collect()
        };
        return Some(KeyCol::Dict {
            index,
            values,
            ids: vec![None; n],
        });
    }
    is_text_type(a.data_type()).then_some(KeyCol::Text(a))
}

/// Decodes a value column into `out` (one `f64` per row; null rows hold an unspecified
/// value). `None` for an unsupported type.
fn decode_values(a: &ArrayRef, out: &mut Vec<f64>) -> Option<()> {
    out.clear();
    macro_rules! prim {
        ($t:ty) => {
            out.extend(a.as_primitive::<$t>().values().iter().map(|&v| v as f64))
        };
    }
    macro_rules! exact {
        ($t:ty) => {
            out.extend(
                a.as_primitive::<$t>()
                    .values()
                    .iter()
                    .map(|&v| f64::from(v)),
            )
        };
    }
    macro_rules! decimal {
        ($t:ty) => {{
            let d = a.as_primitive::<$t>();
            out.extend((0..d.len()).map(|i| {
                if d.is_null(i) {
                    f64::NAN
                } else {
                    d.value_as_string(i).parse().unwrap_or(f64::NAN)
                }
            }))
        }};
    }
    match a.data_type() {
        DataType::Int8 => exact!(Int8Type),
        DataType::Int16 => exact!(Int16Type),
        DataType::Int32 => exact!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => exact!(UInt8Type),
        DataType::UInt16 => exact!(UInt16Type),
        DataType::UInt32 => exact!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float16 => exact!(Float16Type),
        DataType::Float32 => exact!(Float32Type),
        DataType::Float64 => exact!(Float64Type),
        DataType::Decimal32(..) => decimal!(Decimal32Type),
        DataType::Decimal64(..) => decimal!(Decimal64Type),
        DataType::Decimal128(..) => decimal!(Decimal128Type),
        DataType::Decimal256(..) => decimal!(Decimal256Type),
        _ => return None,
    }
    Some(())
}

/// Decodes a timestamp column into whole seconds since 1970 (`None`: null, unparsable or
/// out of range). `None` for an unsupported type.
fn decode_stamps(a: &ArrayRef, out: &mut Vec<Option<i64>>) -> Option<()> {
    out.clear();
    macro_rules! scaled {
        ($t:ty, $per:expr) => {
            out.extend(
                a.as_primitive::<$t>()
                    .values()
                    .iter()
                    .map(|&v| Some(v.div_euclid($per))),
            )
        };
    }
    macro_rules! int {
        ($t:ty) => {
            out.extend(
                a.as_primitive::<$t>()
                    .values()
                    .iter()
                    .map(|&v| i64::try_from(v).ok()),
            )
        };
    }
    match a.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => scaled!(TimestampSecondType, 1),
        DataType::Timestamp(TimeUnit::Millisecond, _) => scaled!(TimestampMillisecondType, 1000),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            scaled!(TimestampMicrosecondType, 1_000_000)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            scaled!(TimestampNanosecondType, 1_000_000_000)
        }
        DataType::Date32 => out.extend(
            a.as_primitive::<Date32Type>()
                .values()
                .iter()
                .map(|&d| Some(i64::from(d) * 86_400)),
        ),
        DataType::Date64 => scaled!(Date64Type, 1000),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        t if is_text_type(t) => out.extend((0..a.len()).map(|i| {
            text_at(a.as_ref(), i)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| parse_timestamp(s.trim()))
        })),
        _ => return None,
    }
    if a.null_count() > 0 {
        for (i, s) in out.iter_mut().enumerate() {
            if a.is_null(i) {
                *s = None;
            }
        }
    }
    Some(())
}
