//! Parquet and Arrow IPC input (feature `parquet`): files written here with the crates'
//! writers are read back row for row, bad input gives its defined behaviour (never a panic),
//! and a Parquet input gives the rows of the same data as CSV, in every mode.

use arrow_array::builder::Int64Builder;
use arrow_array::types::Int32Type;
use arrow_array::{
    ArrayRef, Decimal128Array, DictionaryArray, Float32Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray, UInt16Array,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sqrtspace::Mode;
use sqrtspace_logs::input::format_timestamp;
use sqrtspace_logs::{Format, InputSpec, LogsError, LogsJob, LogsParams, Reader, Record, Row};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const KEYS: [&str; 5] = ["ATL", "ORD", "DFW", "LAX", "DEN"];
/// 2001-01-01 00:00:00 UTC.
const T0: i64 = 978_307_200;

/// Row `i` of the test table: a timestamp in microseconds (non-decreasing, several rows per
/// second), a delay with many duplicates, and a key.
fn row(i: usize) -> (i64, i64, &'static str) {
    let ts = (T0 + (i as i64) / 3 * 7) * 1_000_000 + (i as i64 % 3) * 1000;
    let x = (i as i64).wrapping_mul(2_654_435_761) % 1009;
    (
        ts,
        x % 97 - 20 + (x % 7) * (x % 11),
        KEYS[(i * 7 + i / 13) % KEYS.len()],
    )
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Rows `range` as a record batch: `t` timestamp[us], `delay` (as `value_type`), `origin`
/// (utf8 or a dictionary), `distance` int64 (unused); every `null_every`-th delay null.
fn batch(
    range: std::ops::Range<usize>,
    value_type: &DataType,
    dict: bool,
    null_every: usize,
) -> RecordBatch {
    let rows: Vec<_> = range.clone().map(row).collect();
    let null = |i: usize| null_every > 0 && (range.start + i) % null_every == null_every - 1;
    let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
    ));
    let delays: Vec<Option<i64>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (!null(i)).then_some(r.1))
        .collect();
    let value: ArrayRef = match value_type {
        DataType::Int64 => Arc::new(Int64Array::from(delays)),
        DataType::Float64 => Arc::new(Float64Array::from(
            delays
                .iter()
                .map(|d| d.map(|v| v as f64 / 4.0))
                .collect::<Vec<_>>(),
        )),
        DataType::Float32 => Arc::new(Float32Array::from(
            delays
                .iter()
                .map(|d| d.map(|v| v as f32 / 8.0))
                .collect::<Vec<_>>(),
        )),
        DataType::UInt16 => Arc::new(UInt16Array::from(
            delays
                .iter()
                .map(|d| d.map(|v| (v + 100) as u16))
                .collect::<Vec<_>>(),
        )),
        DataType::Decimal128(p, s) => Arc::new(
            Decimal128Array::from(
                delays
                    .iter()
                    .map(|d| d.map(|v| i128::from(v) * 37))
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(*p, *s)
            .unwrap(),
        ),
        t => panic!("no test data of type {t}"),
    };
    let key: ArrayRef = if dict {
        // One dictionary for every batch (an IPC file allows no replacement).
        let index = rows
            .iter()
            .map(|r| KEYS.iter().position(|k| *k == r.2).unwrap() as i32);
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(
                Int32Array::from_iter_values(index),
                Arc::new(StringArray::from(KEYS.to_vec())),
            )
            .unwrap(),
        )
    } else {
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ))
    };
    let mut distance = Int64Builder::new();
    for i in range {
        distance.append_value(i as i64 * 3);
    }
    let schema = Schema::new(vec![
        Field::new("t", ts.data_type().clone(), false),
        Field::new("delay", value.data_type().clone(), true),
        Field::new("origin", key.data_type().clone(), false),
        Field::new("distance", DataType::Int64, false),
    ]);
    RecordBatch::try_new(
        Arc::new(schema),
        vec![ts, value, key, Arc::new(distance.finish())],
    )
    .unwrap()
}

/// The expected value of row `i` for `value_type`.
fn expected_value(i: usize, value_type: &DataType) -> f64 {
    let v = row(i).1;
    match value_type {
        DataType::Int64 => v as f64,
        DataType::Float64 => v as f64 / 4.0,
        DataType::Float32 => f64::from(v as f32 / 8.0),
        DataType::UInt16 => f64::from((v + 100) as u16),
        DataType::Decimal128(_, s) => format!("{}e-{s}", v * 37).parse().unwrap(),
        _ => unreachable!(),
    }
}

struct Table {
    rows: usize,
    value_type: DataType,
    dict: bool,
    null_every: usize,
    /// Rows per written batch (IPC: per record batch; Parquet: per `write` call).
    per_batch: usize,
}

impl Table {
    fn new(rows: usize) -> Self {
        Table {
            rows,
            value_type: DataType::Int64,
            dict: false,
            null_every: 0,
            per_batch: 700,
        }
    }

    fn batches(&self) -> impl Iterator<Item = RecordBatch> + '_ {
        (0..self.rows).step_by(self.per_batch).map(|s| {
            batch(
                s..(s + self.per_batch).min(self.rows),
                &self.value_type,
                self.dict,
                self.null_every,
            )
        })
    }

    /// Parquet with row groups of 1000 rows and data pages of at most 128 rows.
    fn parquet(&self, path: &Path, compression: Compression) {
        let props = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(1000))
            .set_data_page_row_count_limit(128)
            .set_write_batch_size(64)
            .build();
        let first = batch(0..1, &self.value_type, self.dict, 0);
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(path).unwrap(),
            first.schema(),
            Some(props),
        )
        .unwrap();
        for b in self.batches() {
            w.write(&b).unwrap();
        }
        w.close().unwrap();
    }

    /// Arrow IPC file format, one record batch per `per_batch` rows.
    fn arrow(&self, path: &Path, compression: Option<arrow_ipc::CompressionType>) {
        let first = batch(0..1, &self.value_type, self.dict, 0);
        let opts = arrow_ipc::writer::IpcWriteOptions::default()
            .try_with_compression(compression)
            .unwrap();
        let mut w = arrow_ipc::writer::FileWriter::try_new_with_options(
            std::fs::File::create(path).unwrap(),
            &first.schema(),
            opts,
        )
        .unwrap();
        for b in self.batches() {
            w.write(&b).unwrap();
        }
        w.finish().unwrap();
    }

    /// The same rows as CSV (timestamps as `YYYY-MM-DD HH:MM:SS`, null delays empty).
    fn csv(&self, path: &Path) {
        let mut s = String::from("t,delay,origin,distance\n");
        for i in 0..self.rows {
            let (ts, _, key) = row(i);
            let null = self.null_every > 0 && i % self.null_every == self.null_every - 1;
            let v = if null {
                String::new()
            } else {
                format!("{:?}", expected_value(i, &self.value_type))
            };
            s += &format!(
                "{},{v},{key},{}\n",
                format_timestamp(ts.div_euclid(1_000_000)),
                i * 3
            );
        }
        std::fs::write(path, s).unwrap();
    }
}

fn spec(path: &Path, format: Format) -> InputSpec {
    let mut s = InputSpec::csv(path, "delay");
    s.format = format;
    s.ts = Some("t".into());
    s.key = Some("origin".into());
    s
}

fn read_all(spec: &InputSpec) -> Result<(Vec<Record>, Reader), LogsError> {
    let mut r = Reader::open(spec)?;
    let mut all = Vec::new();
    let mut buf = Vec::new();
    while r.next_chunk(&mut buf, 333)? {
        all.extend_from_slice(&buf);
    }
    Ok((all, r))
}

/// Checks that `rows` are the table's rows (nulls skipped) with keys named right.
fn check_rows(t: &Table, rows: &[Record], r: &Reader) {
    let want: Vec<usize> = (0..t.rows)
        .filter(|i| !(t.null_every > 0 && i % t.null_every == t.null_every - 1))
        .collect();
    assert_eq!(rows.len(), want.len());
    for (rec, &i) in rows.iter().zip(&want) {
        let (ts, _, key) = row(i);
        assert_eq!(rec.ts, ts.div_euclid(1_000_000), "row {i}");
        assert_eq!(
            rec.value.to_bits(),
            expected_value(i, &t.value_type).to_bits(),
            "row {i}"
        );
        assert_eq!(r.key_name(rec.key), Some(key), "row {i}");
        assert!(rec.pass);
    }
    let c = r.counts();
    assert_eq!(c.rows, want.len() as u64);
    assert_eq!(c.bad_value, (t.rows - want.len()) as u64);
    assert_eq!((c.bad_timestamp, c.backwards, c.keys), (0, 0, 5));
}

#[test]
fn parquet_rows_read_equal_rows_written_for_each_codec_and_type() {
    let d = dir();
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::LZ4_RAW,
        Compression::ZSTD(ZstdLevel::default()),
    ];
    let types = [
        (DataType::Int64, false),
        (DataType::Float64, true),
        (DataType::Float32, false),
        (DataType::UInt16, true),
        (DataType::Decimal128(12, 2), false),
    ];
    for (n, codec) in codecs.into_iter().enumerate() {
        for (value_type, dict) in &types {
            let mut t = Table::new(4321);
            t.value_type = value_type.clone();
            t.dict = *dict;
            t.null_every = if n % 2 == 0 { 0 } else { 17 };
            let p = d.path().join(format!("t{n}-{value_type}.parquet"));
            t.parquet(&p, codec);
            let (rows, r) = read_all(&spec(&p, Format::Parquet)).unwrap();
            check_rows(&t, &rows, &r);
            // The footer gives the row count to the planner.
            assert_eq!(spec(&p, Format::Parquet).known_rows(), Some(4321));
        }
    }
}

#[test]
fn arrow_ipc_rows_read_equal_rows_written() {
    let d = dir();
    let codecs = [
        None,
        Some(arrow_ipc::CompressionType::LZ4_FRAME),
        Some(arrow_ipc::CompressionType::ZSTD),
    ];
    for (n, codec) in codecs.into_iter().enumerate() {
        let mut t = Table::new(2500);
        t.dict = n == 1;
        t.value_type = DataType::Float64;
        t.null_every = 10;
        let p = d.path().join(format!("t{n}.arrow"));
        t.arrow(&p, codec);
        let (rows, r) = read_all(&spec(&p, Format::Arrow)).unwrap();
        check_rows(&t, &rows, &r);
    }
}

#[test]
fn without_ts_and_key_rows_are_numbered() {
    let d = dir();
    let p = d.path().join("t.parquet");
    Table::new(1000).parquet(&p, Compression::SNAPPY);
    let (rows, r) = read_all(&InputSpec {
        format: Format::Parquet,
        ..InputSpec::csv(&p, "distance")
    })
    .unwrap();
    assert_eq!(rows.len(), 1000);
    for (i, rec) in rows.iter().enumerate() {
        assert_eq!((rec.ts, rec.value, rec.key), (i as i64, i as f64 * 3.0, 0));
    }
    assert_eq!(r.counts().keys, 0);
}

#[test]
fn null_cells_are_skipped_and_counted_or_name_the_row_in_strict_mode() {
    let d = dir();
    let mut t = Table::new(100);
    t.null_every = 40;
    let p = d.path().join("n.parquet");
    t.parquet(&p, Compression::SNAPPY);
    let (rows, r) = read_all(&spec(&p, Format::Parquet)).unwrap();
    assert_eq!(rows.len(), 98);
    assert_eq!(r.counts().bad_value, 2);

    let mut s = spec(&p, Format::Parquet);
    s.strict = true;
    let e = read_all(&s).unwrap_err();
    assert!(
        matches!(&e, LogsError::BadValue { row: 40, column, text, .. } if column == "delay" && text == "null"),
        "{e:?}"
    );
    assert!(e.to_string().contains("row 40, column `delay`"), "{e}");

    // A null timestamp, in an Arrow file.
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::Utf8, true),
        Field::new("delay", DataType::Int64, true),
    ]));
    let b = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![
                Some("2001-01-01 00:00:00"),
                None,
                Some("soon"),
                Some("2001-01-01 00:00:09"),
            ])),
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
        ],
    )
    .unwrap();
    let p = d.path().join("n.arrow");
    let mut w = arrow_ipc::writer::FileWriter::try_new(std::fs::File::create(&p).unwrap(), &schema)
        .unwrap();
    w.write(&b).unwrap();
    w.finish().unwrap();
    let mut s = InputSpec::csv(&p, "delay");
    s.format = Format::Arrow;
    s.ts = Some("t".into());
    let (rows, r) = read_all(&s).unwrap();
    assert_eq!(rows.iter().map(|r| r.value).collect::<Vec<_>>(), [1.0, 4.0]);
    assert_eq!(rows[1].ts, T0 + 9);
    assert_eq!(r.counts().bad_timestamp, 2);
    s.strict = true;
    let e = read_all(&s).unwrap_err();
    assert!(
        matches!(&e, LogsError::BadTimestamp { row: 2, column, text, .. } if column == "t" && text == "null"),
        "{e:?}"
    );
}

#[test]
fn a_missing_or_unusable_column_is_a_typed_error_listing_what_is_there() {
    let d = dir();
    let p = d.path().join("m.parquet");
    Table::new(10).parquet(&p, Compression::SNAPPY);
    let a = d.path().join("m.arrow");
    Table::new(10).arrow(&a, None);
    for (path, format) in [(&p, Format::Parquet), (&a, Format::Arrow)] {
        let mut s = spec(path, format);
        s.value = "latency".into();
        let e = read_all(&s).unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(&e, LogsError::MissingColumn { flag: "value", .. })
                && msg.contains("no column `latency`")
                && msg.contains("t, delay, origin, distance"),
            "{msg}"
        );
        let mut s = spec(path, format);
        s.key = Some("nope".into());
        assert!(matches!(
            read_all(&s).unwrap_err(),
            LogsError::MissingColumn { flag: "key", .. }
        ));

        let mut s = spec(path, format);
        s.value = "origin".into();
        let e = read_all(&s).unwrap_err();
        assert!(
            matches!(&e, LogsError::UnsupportedColumn { flag: "value", .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("column `origin` has type Utf8"),
            "{e}"
        );
        let mut s = spec(path, format);
        s.key = Some("distance".into());
        assert!(matches!(
            read_all(&s).unwrap_err(),
            LogsError::UnsupportedColumn { flag: "key", .. }
        ));
    }
}

/// Reads `path` as `format` and returns the outcome; a panic fails the test.
fn outcome(path: &Path, format: Format) -> Result<usize, LogsError> {
    read_all(&spec(path, format)).map(|(rows, _)| rows.len())
}

#[test]
fn truncated_files_are_typed_errors_naming_the_file_never_panics() {
    let d = dir();
    let t = Table::new(3000);
    for format in [Format::Parquet, Format::Arrow] {
        let full = d.path().join(format!(
            "full.{}",
            if format == Format::Parquet {
                "parquet"
            } else {
                "arrow"
            }
        ));
        if format == Format::Parquet {
            t.parquet(&full, Compression::ZSTD(ZstdLevel::default()));
        } else {
            t.arrow(&full, None);
        }
        let bytes = std::fs::read(&full).unwrap();
        let n = bytes.len();
        let mut cuts: Vec<usize> = vec![
            0,
            1,
            4,
            6,
            8,
            12,
            n / 2,
            n - 12,
            n - 10,
            n - 8,
            n - 4,
            n - 1,
        ];
        cuts.extend((1..40).map(|k| n * k / 40));
        for cut in cuts {
            let p = d.path().join(format!("cut-{cut}"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            let e = outcome(&p, format).expect_err("a truncated file must not read");
            assert!(
                matches!(
                    e,
                    LogsError::ColumnarOpen { .. } | LogsError::ColumnarRead { .. }
                ),
                "{format:?} cut at {cut}/{n}: {e:?}"
            );
            let msg = e.to_string();
            assert!(
                msg.contains(&p.display().to_string()) && msg.contains(format.name()),
                "{msg}"
            );
        }
    }
}

#[test]
fn corrupt_bytes_give_rows_or_an_error_never_a_panic() {
    let d = dir();
    let t = Table::new(3000);
    for format in [Format::Parquet, Format::Arrow] {
        let full = d.path().join("full");
        if format == Format::Parquet {
            t.parquet(&full, Compression::SNAPPY);
        } else {
            t.arrow(&full, None);
        }
        let bytes = std::fs::read(&full).unwrap();
        let n = bytes.len();
        for k in 1..60 {
            let mut b = bytes.clone();
            let at = n * k / 60;
            for x in &mut b[at..(at + 8).min(n)] {
                *x ^= 0xA5;
            }
            let p = d.path().join("bad");
            std::fs::write(&p, &b).unwrap();
            let _ = outcome(&p, format);
        }
    }
}

#[test]
fn a_stream_format_file_is_refused() {
    let d = dir();
    let p = d.path().join("s.arrows");
    let b = batch(0..10, &DataType::Int64, false, 0);
    let mut w =
        arrow_ipc::writer::StreamWriter::try_new(std::fs::File::create(&p).unwrap(), &b.schema())
            .unwrap();
    w.write(&b).unwrap();
    w.finish().unwrap();
    let e = outcome(&p, Format::Arrow).unwrap_err();
    assert!(matches!(e, LogsError::ColumnarOpen { .. }), "{e:?}");
}

fn run(spec: InputSpec, mode: Mode) -> (Vec<Row>, sqrtspace_logs::LogsRun) {
    let mut rows = Vec::new();
    let job = LogsJob::new(spec, LogsParams::new(256, 64, 150.0), mode);
    let r = job
        .run(&mut |_, row| {
            rows.push(*row);
            Ok(())
        })
        .unwrap();
    (rows, r)
}

fn same_rows(a: &[Row], b: &[Row]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(format!("{x:?}"), format!("{y:?}"));
    }
}

#[test]
fn a_parquet_input_gives_the_rows_of_the_same_data_as_csv_in_every_mode() {
    let d = dir();
    let mut t = Table::new(6000);
    t.null_every = 29;
    t.dict = true;
    let pq = d.path().join("f.parquet");
    let csv = d.path().join("f.csv");
    t.parquet(&pq, Compression::ZSTD(ZstdLevel::default()));
    t.csv(&csv);
    let (want, wr) = run(spec(&csv, Format::Csv), Mode::Sqrt);
    assert_eq!(want.len(), (6000 - 6000 / 29 - 256) / 64 + 1);
    for mode in [Mode::Sqrt, Mode::Classic, Mode::Auto] {
        let (rows, r) = run(spec(&pq, Format::Parquet), mode);
        same_rows(&rows, &want);
        assert_eq!((r.digest, r.input), (wr.digest, wr.input), "{mode:?}");
    }
    // A key filter and repeats: the same as CSV too, timestamps kept increasing.
    let filtered = |p: &PathBuf, f| {
        let mut s = spec(p, f);
        s.key_regex = Some(regex_lite("^(ATL|ORD)$"));
        s.repeat = 3;
        s
    };
    let (want, wr) = run(filtered(&csv, Format::Csv), Mode::Sqrt);
    assert_eq!(wr.input.rows, 3 * (6000 - 6000 / 29));
    assert_eq!((wr.input.backwards, wr.input.keys_passing), (0, 2));
    for mode in [Mode::Sqrt, Mode::Classic] {
        let (rows, r) = run(filtered(&pq, Format::Parquet), mode);
        same_rows(&rows, &want);
        assert_eq!((r.digest, r.input), (wr.digest, wr.input), "{mode:?}");
    }
}

fn regex_lite(p: &str) -> regex::Regex {
    regex::Regex::new(p).unwrap()
}

#[test]
fn repeat_keeps_parquet_timestamps_increasing() {
    let d = dir();
    let p = d.path().join("r.parquet");
    Table::new(1000).parquet(&p, Compression::SNAPPY);
    let mut s = spec(&p, Format::Parquet);
    s.repeat = 4;
    assert_eq!(s.known_rows(), Some(4000));
    let (rows, r) = read_all(&s).unwrap();
    assert_eq!(rows.len(), 4000);
    assert!(rows.windows(2).all(|w| w[0].ts <= w[1].ts));
    assert_eq!(r.counts().backwards, 0);
    let span = rows[999].ts - rows[0].ts + 1;
    assert_eq!(rows[1000].ts, rows[0].ts + span);
    assert_eq!(rows[3999].value, rows[999].value);
}

#[test]
fn the_format_is_inferred_from_the_extension() {
    for (name, f) in [
        ("a.parquet", Some(Format::Parquet)),
        ("a.PQ", Some(Format::Parquet)),
        ("a.arrow", Some(Format::Arrow)),
        ("a.ipc", Some(Format::Arrow)),
        ("a.feather", Some(Format::Arrow)),
        ("a.f64", Some(Format::RawF64)),
        ("a.csv", Some(Format::Csv)),
        ("a.log", None),
        ("a", None),
    ] {
        assert_eq!(Format::from_path(Path::new(name)), f, "{name}");
    }
}
