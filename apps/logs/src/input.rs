//! Streamed input: CSV with columns chosen by name, Parquet and Arrow IPC files record batch
//! by record batch (feature `parquet`, see the `columnar` module), raw little-endian `f32`/`f64`
//! files read through `memmap2` in bounded segments, text log lines with a regex capture, and
//! seeded synthetic lognormal latencies. Every reader hands out [`Record`]s in chunks into one
//! reused buffer; none holds the whole input.
//!
//! # Bad input
//!
//! | problem | default | `strict` |
//! |---|---|---|
//! | a named column missing from the CSV header or Parquet/Arrow schema | error [`LogsError::MissingColumn`] | same |
//! | a Parquet/Arrow column of a type the option cannot use | error [`LogsError::UnsupportedColumn`] | same |
//! | a value cell that is empty, null or not a number | row skipped, counted in [`InputCounts::bad_value`] | [`LogsError::BadValue`] (row, column) |
//! | a timestamp cell that is null or does not parse | row skipped, counted in [`InputCounts::bad_timestamp`] | [`LogsError::BadTimestamp`] |
//! | a text line the regex does not match | line skipped, counted in [`InputCounts::no_match`] | [`LogsError::NoMatch`] (line) |
//! | a timestamp earlier than the previous row's | row kept (windows count rows), counted in [`InputCounts::backwards`] | [`LogsError::TimestampBackwards`] |
//! | a NaN value (`NaN`, `nan` cells, NaN floats in raw files) | row kept and skipped by the stages, counted per window ([`crate::pipeline::RowCounts::nan`]) | same |
//! | a raw file that is not a whole number of samples | error [`LogsError::TruncatedRaw`] before any row | same |
//! | a CSV record that cannot be parsed (quoting) | error [`LogsError::Csv`] | same |
//! | a truncated or corrupt Parquet/Arrow file | error [`LogsError::ColumnarOpen`] (footer, schema) or [`LogsError::ColumnarRead`] (a batch) | same |
//! | a Parquet/Arrow file in a build without the `parquet` feature | error [`LogsError::FeatureDisabled`] | same |

use crate::error::LogsError;
use crate::pipeline::Record;
use regex::Regex;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// CSV with a header; `value` (and optionally `ts`, `key`) name columns.
    #[default]
    Csv,
    /// Raw little-endian IEEE 754 binary32 values, one per row (timestamp = row index).
    RawF32,
    /// Raw little-endian IEEE 754 binary64 values, one per row (timestamp = row index).
    RawF64,
    /// Text lines; a regex with a named capture `value` (and optionally `ts`, `key`).
    Lines,
    /// Apache Parquet; `value` (and optionally `ts`, `key`) name top-level columns (feature
    /// `parquet`; see the `columnar` module for the column types read).
    Parquet,
    /// Apache Arrow IPC, file format (`.arrow`, Feather v2) or stream format; columns as for
    /// Parquet (feature `parquet`).
    Arrow,
}

impl Format {
    /// The format a file's extension implies, `None` when it implies none: `.parquet`/`.pq`
    /// Parquet; `.arrow`, `.ipc`, `.feather`, `.arrows` Arrow IPC; `.f32`/`.f64` raw; `.csv`,
    /// `.tsv`, `.txt` CSV (case-insensitive).
    #[must_use]
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "parquet" | "pq" => Format::Parquet,
            "arrow" | "ipc" | "feather" | "arrows" => Format::Arrow,
            "f32" => Format::RawF32,
            "f64" => Format::RawF64,
            "csv" | "tsv" | "txt" => Format::Csv,
            _ => return None,
        })
    }

    /// The format's name in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::RawF32 => "raw f32",
            Format::RawF64 => "raw f64",
            Format::Lines => "text lines",
            Format::Parquet => "Parquet",
            Format::Arrow => "Arrow IPC",
        }
    }
}

/// Where rows come from and how to read them.
#[derive(Debug, Clone)]
pub struct InputSpec {
    /// The file; `None` with `synthetic`.
    pub path: Option<PathBuf>,
    /// Its format.
    pub format: Format,
    /// CSV: the value column's name.
    pub value: String,
    /// CSV: the timestamp column's name (none: timestamps are row indices).
    pub ts: Option<String>,
    /// CSV: the key column's name.
    pub key: Option<String>,
    /// Keep only rows whose key matches this regex (evaluated once per distinct key).
    pub key_regex: Option<Regex>,
    /// Lines: the regex, with a named capture `value` and optional `ts` and `key`.
    pub line_regex: Option<String>,
    /// Turn skippable problems into errors (see the [module docs](self)).
    pub strict: bool,
    /// Read the file this many times in a row (timestamps shifted to stay increasing).
    pub repeat: u32,
    /// Synthetic input instead of a file: this many rows.
    pub synthetic: Option<Synthetic>,
}

impl InputSpec {
    /// A CSV file with value column `value`.
    #[must_use]
    pub fn csv(path: impl Into<PathBuf>, value: &str) -> Self {
        InputSpec {
            path: Some(path.into()),
            format: Format::Csv,
            value: value.to_string(),
            ts: None,
            key: None,
            key_regex: None,
            line_regex: None,
            strict: false,
            repeat: 1,
            synthetic: None,
        }
    }

    /// `n` synthetic rows (see [`Synthetic`]).
    #[must_use]
    pub fn synthetic(n: u64, seed: u64) -> Self {
        InputSpec {
            path: None,
            format: Format::RawF64,
            synthetic: Some(Synthetic::new(n, seed)),
            ..InputSpec::csv("", "value")
        }
    }

    /// Rows the input will give, when known without reading it (raw files, synthetic input,
    /// Parquet files from their footer).
    #[must_use]
    pub fn known_rows(&self) -> Option<u64> {
        if let Some(s) = &self.synthetic {
            return Some(s.n);
        }
        #[cfg(feature = "parquet")]
        if self.format == Format::Parquet {
            let rows = crate::columnar::parquet_rows(self.path.as_ref()?)?;
            return Some(rows * u64::from(self.repeat.max(1)));
        }
        let bytes = std::fs::metadata(self.path.as_ref()?).ok()?.len();
        let per = match self.format {
            Format::RawF32 => 4,
            Format::RawF64 => 8,
            _ => return None,
        };
        Some(bytes / per * u64::from(self.repeat.max(1)))
    }

    /// The input's size in bytes (file length times repeats; 8 bytes a synthetic row).
    #[must_use]
    pub fn bytes(&self) -> Option<u64> {
        if let Some(s) = &self.synthetic {
            return Some(s.n * 8);
        }
        let bytes = std::fs::metadata(self.path.as_ref()?).ok()?.len();
        Some(bytes * u64::from(self.repeat.max(1)))
    }
}

/// Seeded synthetic latencies in milliseconds: lognormal, `exp(N(mu, sigma))` with
/// `mu = 3.0` (median `e^3 ≈ 20.1` ms) and `sigma = 0.5`, except in "incidents": in every
/// block of `2^21` rows, rows `2^20 .. 2^20 + 2^18` use `sigma = 0.9` (p99 ≈ 163 ms instead
/// of ≈ 64 ms), so the alert rule has something to find.
///
/// Normals by Marsaglia's polar method from xoshiro256++ (Blackman and Vigna) seeded through
/// SplitMix64; the same seed gives the same rows on every platform (IEEE 754 arithmetic,
/// `f64::ln`/`exp`/`sqrt` from the platform's libm; `sqrt` is correctly rounded, `ln`/`exp`
/// are within an ulp on glibc).
#[derive(Debug, Clone)]
pub struct Synthetic {
    /// Rows to generate.
    pub n: u64,
    /// The seed.
    pub seed: u64,
}

impl Synthetic {
    /// `n` rows from `seed`.
    #[must_use]
    pub fn new(n: u64, seed: u64) -> Self {
        Synthetic { n, seed }
    }
}

/// The state of the synthetic generator.
#[derive(Debug, Clone)]
struct Gen {
    s: [u64; 4],
    spare: Option<f64>,
    row: u64,
    n: u64,
}

impl Gen {
    fn new(n: u64, seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Gen {
            s: [next(), next(), next(), next()],
            spare: None,
            row: 0,
            n,
        }
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in (-1, 1).
    #[inline]
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (2.0 / (1u64 << 53) as f64) - 1.0
    }

    #[inline]
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = self.uniform();
            let v = self.uniform();
            let s = u * u + v * v;
            if s < 1.0 && s > 0.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }

    fn fill(&mut self, buf: &mut Vec<Record>, max: usize) {
        let end = (self.row + max as u64).min(self.n);
        while self.row < end {
            let in_block = self.row % (1 << 21);
            let sigma = if ((1 << 20)..(1 << 20) + (1 << 18)).contains(&in_block) {
                0.9
            } else {
                0.5
            };
            let v = (3.0 + sigma * self.normal()).exp();
            buf.push(Record {
                ts: self.row as i64,
                value: v,
                key: 0,
                pass: true,
            });
            self.row += 1;
        }
    }
}

/// What the reader skipped or noticed, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputCounts {
    /// Rows handed to the pipeline.
    pub rows: u64,
    /// Rows skipped: the value cell was empty or not a number.
    pub bad_value: u64,
    /// Rows skipped: the timestamp did not parse.
    pub bad_timestamp: u64,
    /// Lines skipped: the regex did not match.
    pub no_match: u64,
    /// Rows kept whose timestamp went backwards.
    pub backwards: u64,
    /// Distinct keys seen.
    pub keys: u64,
    /// Distinct keys that passed the key filter.
    pub keys_passing: u64,
}

/// Interned keys with the key filter's decision per key.
#[derive(Debug, Default)]
struct Keys {
    ids: HashMap<Vec<u8>, u32>,
    pass: Vec<bool>,
    names: Vec<String>,
}

impl Keys {
    fn intern(
        &mut self,
        name: &[u8],
        filter: Option<&Regex>,
        counts: &mut InputCounts,
    ) -> (u32, bool) {
        if let Some(&id) = self.ids.get(name) {
            return (id, self.pass[id as usize]);
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let text = String::from_utf8_lossy(name).into_owned();
        let pass = filter.is_none_or(|r| r.is_match(&text));
        counts.keys += 1;
        counts.keys_passing += u64::from(pass);
        self.ids.insert(name.to_vec(), id);
        self.pass.push(pass);
        self.names.push(text);
        (id, pass)
    }
}

/// Bytes of a raw file mapped at a time (the mapping is dropped before the next, so the
/// file's pages do not accumulate in the resident set).
const SEGMENT: usize = 4 << 20;

enum Inner {
    Csv {
        rdr: csv::Reader<File>,
        value: usize,
        ts: Option<usize>,
        key: Option<usize>,
    },
    Raw {
        file: File,
        len: u64,
        offset: u64,
        wide: bool,
    },
    Lines {
        rdr: BufReader<File>,
        re: Regex,
        value: usize,
        ts: Option<usize>,
        key: Option<usize>,
    },
    Synth(Gen),
    #[cfg(feature = "parquet")]
    Columnar(crate::columnar::Batches),
}

/// Per-row bookkeeping shared by the readers: counts, keys, row numbers, timestamps.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) path: PathBuf,
    strict: bool,
    pub(crate) value_name: String,
    pub(crate) ts_name: String,
    key_regex: Option<Regex>,
    counts: InputCounts,
    keys: Keys,
    /// 1-based row (CSV data row, text line, Parquet/Arrow row) of the current pass.
    pub(crate) row: u64,
    pass_no: u32,
    /// Timestamp shift of the current pass (repeats) and the first pass's range.
    shift: i64,
    first_ts: Option<i64>,
    last_raw_ts: i64,
    last_ts: Option<i64>,
}

impl Ctx {
    /// Checks and shifts a parsed timestamp; `Err` in strict mode when it goes backwards.
    pub(crate) fn stamp(&mut self, raw: i64) -> Result<i64, LogsError> {
        if self.pass_no == 1 {
            if self.first_ts.is_none() {
                self.first_ts = Some(raw);
            }
            self.last_raw_ts = raw;
        }
        let ts = raw.saturating_add(self.shift);
        if let Some(prev) = self.last_ts {
            if ts < prev {
                if self.strict {
                    return Err(LogsError::TimestampBackwards {
                        path: self.path.clone(),
                        row: self.row,
                        ts,
                        previous: prev,
                    });
                }
                self.counts.backwards += 1;
            }
        }
        self.last_ts = Some(ts);
        Ok(ts)
    }

    /// Parses a value cell: `Ok(None)` when skipped (counted).
    fn number(&mut self, cell: &[u8], column: &str) -> Result<Option<f64>, LogsError> {
        let text = std::str::from_utf8(cell).unwrap_or("").trim();
        match text.parse::<f64>() {
            Ok(v) => Ok(Some(v)),
            Err(_) if self.strict => Err(LogsError::BadValue {
                path: self.path.clone(),
                row: self.row,
                column: column.to_string(),
                text: String::from_utf8_lossy(cell).into_owned(),
            }),
            Err(_) => {
                self.counts.bad_value += 1;
                Ok(None)
            }
        }
    }

    /// Parses a timestamp cell: `Ok(None)` when skipped (counted).
    fn timestamp(&mut self, cell: &[u8], column: &str) -> Result<Option<i64>, LogsError> {
        let text = std::str::from_utf8(cell).unwrap_or("").trim();
        match parse_timestamp(text) {
            Some(t) => Ok(Some(t)),
            None if self.strict => Err(LogsError::BadTimestamp {
                path: self.path.clone(),
                row: self.row,
                column: column.to_string(),
                text: text.to_string(),
            }),
            None => {
                self.counts.bad_timestamp += 1;
                Ok(None)
            }
        }
    }

    /// Interns a key, returning its id and the key filter's decision.
    pub(crate) fn key(&mut self, name: &[u8]) -> (u32, bool) {
        self.keys
            .intern(name, self.key_regex.as_ref(), &mut self.counts)
    }

    /// A value cell of the current row that is null or not a number: `Err` naming the row
    /// and the value column in strict mode, else counted (the row is skipped).
    #[cfg(feature = "parquet")]
    pub(crate) fn reject_value(&mut self, text: &str) -> Result<(), LogsError> {
        if self.strict {
            return Err(LogsError::BadValue {
                path: self.path.clone(),
                row: self.row,
                column: self.value_name.clone(),
                text: text.to_string(),
            });
        }
        self.counts.bad_value += 1;
        Ok(())
    }

    /// A timestamp cell of the current row that is null or does not parse: `Err` naming the
    /// row and the timestamp column in strict mode, else counted (the row is skipped).
    #[cfg(feature = "parquet")]
    pub(crate) fn reject_timestamp(&mut self, text: &str) -> Result<(), LogsError> {
        if self.strict {
            return Err(LogsError::BadTimestamp {
                path: self.path.clone(),
                row: self.row,
                column: self.ts_name.clone(),
                text: text.to_string(),
            });
        }
        self.counts.bad_timestamp += 1;
        Ok(())
    }
}

/// A streaming reader of [`Record`]s (see the [module docs](self) for bad input).
pub struct Reader {
    spec: InputSpec,
    inner: Inner,
    rec: csv::ByteRecord,
    line: String,
    ctx: Ctx,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("spec", &self.spec)
            .field("counts", &self.ctx.counts)
            .finish_non_exhaustive()
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogsError + '_ {
    move |source| LogsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Reader {
    /// Opens the input.
    ///
    /// # Errors
    /// [`LogsError::Io`], [`LogsError::MissingColumn`], [`LogsError::Regex`],
    /// [`LogsError::TruncatedRaw`], [`LogsError::Csv`] (header).
    pub fn open(spec: &InputSpec) -> Result<Self, LogsError> {
        let inner = Self::open_inner(spec)?;
        Ok(Reader {
            spec: spec.clone(),
            inner,
            rec: csv::ByteRecord::new(),
            line: String::new(),
            ctx: Ctx {
                path: spec.path.clone().unwrap_or_default(),
                strict: spec.strict,
                value_name: spec.value.clone(),
                ts_name: spec.ts.clone().unwrap_or_else(|| "ts".into()),
                key_regex: spec.key_regex.clone(),
                counts: InputCounts::default(),
                keys: Keys::default(),
                row: 0,
                pass_no: 1,
                shift: 0,
                first_ts: None,
                last_raw_ts: 0,
                last_ts: None,
            },
        })
    }

    fn open_inner(spec: &InputSpec) -> Result<Inner, LogsError> {
        if let Some(s) = &spec.synthetic {
            return Ok(Inner::Synth(Gen::new(s.n, s.seed)));
        }
        let path = spec
            .path
            .as_deref()
            .ok_or_else(|| LogsError::Argument("no input file given".into()))?;
        let file = File::open(path).map_err(io(path))?;
        match spec.format {
            #[cfg(feature = "parquet")]
            Format::Parquet | Format::Arrow => {
                crate::columnar::Batches::open(file, path, spec).map(Inner::Columnar)
            }
            #[cfg(not(feature = "parquet"))]
            Format::Parquet | Format::Arrow => Err(LogsError::FeatureDisabled {
                path: path.to_path_buf(),
                format: spec.format.name(),
            }),
            Format::Csv => {
                let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(file);
                let header = rdr
                    .byte_headers()
                    .map_err(|source| LogsError::Csv {
                        path: path.to_path_buf(),
                        row: 0,
                        source,
                    })?
                    .clone();
                let names: Vec<String> = header
                    .iter()
                    .map(|h| String::from_utf8_lossy(h).trim().to_string())
                    .collect();
                let find = |name: &str, flag: &'static str| {
                    names
                        .iter()
                        .position(|n| n == name)
                        .ok_or_else(|| LogsError::MissingColumn {
                            path: path.to_path_buf(),
                            column: name.to_string(),
                            available: names.join(", "),
                            flag,
                        })
                };
                let value = find(&spec.value, "value")?;
                let ts = spec.ts.as_deref().map(|c| find(c, "ts")).transpose()?;
                let key = spec.key.as_deref().map(|c| find(c, "key")).transpose()?;
                Ok(Inner::Csv {
                    rdr,
                    value,
                    ts,
                    key,
                })
            }
            Format::RawF32 | Format::RawF64 => {
                let wide = spec.format == Format::RawF64;
                let len = file.metadata().map_err(io(path))?.len();
                let sample = if wide { 8 } else { 4 };
                if len % sample != 0 {
                    return Err(LogsError::TruncatedRaw {
                        path: path.to_path_buf(),
                        bytes: len,
                        sample_bytes: sample as usize,
                        trailing: len % sample,
                    });
                }
                Ok(Inner::Raw {
                    file,
                    len,
                    offset: 0,
                    wide,
                })
            }
            Format::Lines => {
                let pattern = spec.line_regex.clone().unwrap_or_default();
                let bad = |reason: String| LogsError::Regex {
                    pattern: pattern.clone(),
                    reason,
                };
                let re = Regex::new(&pattern).map_err(|e| bad(e.to_string()))?;
                let idx = |n: &str| re.capture_names().position(|c| c == Some(n));
                let value = idx("value").ok_or_else(|| {
                    bad(
                        "it has no named capture `value`; write e.g. `latency=(?P<value>[0-9.]+)`"
                            .into(),
                    )
                })?;
                let (ts, key) = (idx("ts"), idx("key"));
                Ok(Inner::Lines {
                    rdr: BufReader::new(file),
                    re,
                    value,
                    ts,
                    key,
                })
            }
        }
    }

    /// What was read and skipped so far.
    #[must_use]
    pub fn counts(&self) -> InputCounts {
        self.ctx.counts
    }

    /// The name of interned key `id`.
    #[must_use]
    pub fn key_name(&self, id: u32) -> Option<&str> {
        self.ctx.keys.names.get(id as usize).map(String::as_str)
    }

    /// Appends up to `max` records to `buf` (after clearing it); `Ok(false)` at the end of
    /// the input.
    ///
    /// # Errors
    /// See the [module docs](self): strict-mode problems, CSV and I/O errors.
    pub fn next_chunk(&mut self, buf: &mut Vec<Record>, max: usize) -> Result<bool, LogsError> {
        buf.clear();
        let max = max.max(1);
        while buf.len() < max {
            let before = buf.len();
            let more = self.fill(buf, max)?;
            self.ctx.counts.rows += (buf.len() - before) as u64;
            if !more {
                if self.ctx.pass_no >= self.spec.repeat.max(1) {
                    break;
                }
                // Next pass: timestamps continue after the first pass's span.
                let c = &mut self.ctx;
                c.pass_no += 1;
                let span = c
                    .first_ts
                    .map_or(0, |f| c.last_raw_ts.saturating_sub(f).saturating_add(1));
                c.shift = c.shift.saturating_add(span);
                c.row = 0;
                self.inner = Self::open_inner(&self.spec)?;
            }
        }
        Ok(!buf.is_empty())
    }

    /// Reads into `buf` up to `max`; `Ok(false)` when this pass is exhausted.
    fn fill(&mut self, buf: &mut Vec<Record>, max: usize) -> Result<bool, LogsError> {
        let ctx = &mut self.ctx;
        match &mut self.inner {
            #[cfg(feature = "parquet")]
            Inner::Columnar(b) => b.fill(ctx, buf, max),
            Inner::Synth(g) => {
                let base = ctx.shift;
                let before = buf.len();
                g.fill(buf, max - buf.len());
                for r in &mut buf[before..] {
                    r.ts += base;
                }
                Ok(g.row < g.n)
            }
            Inner::Raw {
                file,
                len,
                offset,
                wide,
            } => {
                if *offset >= *len {
                    return Ok(false);
                }
                let sample = if *wide { 8 } else { 4 };
                let room = ((max - buf.len()) * sample).min(SEGMENT) as u64;
                let take = room.min(*len - *offset);
                // SAFETY: the file is opened read-only and mapped for the duration of this
                // block only; if another process truncates it meanwhile, reading the mapping
                // may fault (SIGBUS), the documented hazard of memory-mapped input.
                #[allow(unsafe_code)]
                let map = unsafe {
                    memmap2::MmapOptions::new()
                        .offset(*offset)
                        .len(usize::try_from(take).unwrap_or(usize::MAX))
                        .map(&*file)
                }
                .map_err(io(&ctx.path))?;
                let first_row = *offset / sample as u64;
                let base = ctx.shift + first_row as i64;
                if *wide {
                    buf.extend(map.chunks_exact(8).enumerate().map(|(i, b)| Record {
                        ts: base + i as i64,
                        value: f64::from_le_bytes(b.try_into().expect("8 bytes")),
                        key: 0,
                        pass: true,
                    }));
                } else {
                    buf.extend(map.chunks_exact(4).enumerate().map(|(i, b)| Record {
                        ts: base + i as i64,
                        value: f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
                        key: 0,
                        pass: true,
                    }));
                }
                *offset += take;
                Ok(*offset < *len)
            }
            Inner::Csv {
                rdr,
                value,
                ts,
                key,
            } => {
                let rec = &mut self.rec;
                while buf.len() < max {
                    let more = rdr.read_byte_record(rec).map_err(|source| LogsError::Csv {
                        path: ctx.path.clone(),
                        row: ctx.row + 1,
                        source,
                    })?;
                    if !more {
                        return Ok(false);
                    }
                    ctx.row += 1;
                    let cell = |i: usize| rec.get(i).unwrap_or(b"");
                    let name = ctx.value_name.clone();
                    let Some(v) = ctx.number(cell(*value), &name)? else {
                        continue;
                    };
                    let raw_ts = match *ts {
                        None => (ctx.row - 1) as i64,
                        Some(i) => {
                            let name = ctx.ts_name.clone();
                            match ctx.timestamp(cell(i), &name)? {
                                Some(t) => t,
                                None => continue,
                            }
                        }
                    };
                    let t = ctx.stamp(raw_ts)?;
                    let (k, pass) = match *key {
                        None => (0, true),
                        Some(i) => ctx.key(cell(i)),
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
            Inner::Lines {
                rdr,
                re,
                value,
                ts,
                key,
            } => {
                let line = &mut self.line;
                while buf.len() < max {
                    line.clear();
                    if rdr.read_line(line).map_err(io(&ctx.path))? == 0 {
                        return Ok(false);
                    }
                    ctx.row += 1;
                    let text = line.trim_end_matches(['\n', '\r']);
                    let Some(caps) = re.captures(text) else {
                        if ctx.strict {
                            return Err(LogsError::NoMatch {
                                path: ctx.path.clone(),
                                line: ctx.row,
                                text: text.chars().take(120).collect(),
                            });
                        }
                        ctx.counts.no_match += 1;
                        continue;
                    };
                    let cap = |i: Option<usize>| i.and_then(|i| caps.get(i)).map(|m| m.as_str());
                    let Some(v) =
                        ctx.number(cap(Some(*value)).unwrap_or("").as_bytes(), "value")?
                    else {
                        continue;
                    };
                    let raw_ts = match ts {
                        Some(_) => match ctx.timestamp(cap(*ts).unwrap_or("").as_bytes(), "ts")? {
                            Some(t) => t,
                            None => continue,
                        },
                        None => (ctx.row - 1) as i64,
                    };
                    let t = ctx.stamp(raw_ts)?;
                    let (k, pass) = match cap(*key) {
                        None => (0, ctx.key_regex.is_none()),
                        Some(name) => ctx.key(name.as_bytes()),
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
    }
}

/// Parses integer seconds since 1970-01-01 UTC, or `YYYY-MM-DD`, `YYYY-MM-DD HH:MM`,
/// `YYYY-MM-DD HH:MM:SS` (a `T` instead of the space, and `/` instead of `-`, are accepted;
/// the time is taken as UTC) into seconds since 1970-01-01 UTC. `None` otherwise.
#[must_use]
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if let Ok(t) = text.parse::<i64>() {
        return Some(t);
    }
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = b.get(r)?;
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    let sep = |i: usize, ok: &[u8]| b.get(i).is_some_and(|c| ok.contains(c));
    if b.len() < 10 || !sep(4, b"-/") || !sep(7, b"-/") {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (mut hh, mut mm, mut ss) = (0, 0, 0);
    if b.len() > 10 {
        if !sep(10, b" T") || b.len() < 16 || !sep(13, b":") {
            return None;
        }
        hh = num(11..13)?;
        mm = num(14..16)?;
        if b.len() > 16 {
            if b.len() != 19 || !sep(16, b":") {
                return None;
            }
            ss = num(17..19)?;
        }
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Formats seconds since 1970-01-01 UTC as `YYYY-MM-DD HH:MM:SS` (the inverse of
/// [`parse_timestamp`]'s date forms; Howard Hinnant's `civil_from_days`).
#[must_use]
pub fn format_timestamp(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse() {
        assert_eq!(parse_timestamp("0"), Some(0));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400));
        assert_eq!(parse_timestamp("2001-01-01 00:01"), Some(978_307_260));
        assert_eq!(parse_timestamp("2001-01-01T00:01:05"), Some(978_307_265));
        assert_eq!(parse_timestamp("2001/01/01 00:01"), Some(978_307_260));
        assert_eq!(parse_timestamp("2001-13-01"), None);
        for t in [0, 978_307_265, 951_782_400, -86_400, 4_102_444_799] {
            assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t), "{t}");
        }
        assert_eq!(format_timestamp(978_307_260), "2001-01-01 00:01:00");
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2001-01-01 0:01"), None);
    }

    #[test]
    fn synthetic_rows_are_seeded_and_positive() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        Gen::new(1000, 7).fill(&mut a, 1000);
        Gen::new(1000, 7).fill(&mut b, 1000);
        assert_eq!(a, b);
        assert!(a.iter().all(|r| r.value > 0.0 && r.value.is_finite()));
        let mut v: Vec<f64> = a.iter().map(|r| r.value).collect();
        v.sort_by(f64::total_cmp);
        let median = v[500];
        assert!((15.0..27.0).contains(&median), "median {median}");
    }
}
