//! `sqrtspace plot FILE.csv`: PNG charts of time and peak RSS by mode and input size, from the
//! rows `bench audio --csv` writes, drawn with plotters (bitmap backend, text with the
//! embedded DejaVu Sans through ab_glyph).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use clap::Args;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::bench::{failure_kind, BenchRow};
use super::say;
use super::CliError;

/// DejaVu Sans (Bitstream Vera licence; see `apps/cli/assets/LICENSES.md`), registered as
/// `sans-serif` for plotters' ab_glyph text renderer.
static FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));

/// Arguments of `plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A CSV file written by `sqrtspace bench audio --csv` (matrix or `--extreme` rows).
    #[arg(value_name = "FILE.csv")]
    pub csv: PathBuf,
    /// Directory for the charts (`time.png`, `peak_rss.png`, and `workers.png` when the rows
    /// have a workers axis); created if missing.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
}

/// Runs `plot`.
pub fn run(a: &PlotArgs) -> Result<(), CliError> {
    let mut reader = csv::Reader::from_path(&a.csv).map_err(|source| CliError::Csv {
        path: a.csv.clone(),
        source,
    })?;
    let rows: Vec<BenchRow> = reader
        .deserialize()
        .collect::<Result<_, _>>()
        .map_err(|source| CliError::Csv {
            path: a.csv.clone(),
            source,
        })?;
    if rows.is_empty() {
        return Err(CliError::Usage(format!(
            "`{}` holds no benchmark rows: write one with `sqrtspace bench audio --csv FILE`",
            a.csv.display()
        )));
    }
    std::fs::create_dir_all(&a.out).map_err(|source| CliError::Io {
        action: "create the directory",
        path: a.out.clone(),
        source,
    })?;
    register_font();
    let by_hours = rows
        .iter()
        .map(|r| (r.hours * 1e6).round() as i64)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let (x_of, x_desc): (fn(&BenchRow) -> f64, &str) = if by_hours {
        (|r| r.hours, "input (hours of audio)")
    } else {
        (|r| r.window as f64, "window (samples)")
    };
    // With a workers axis, the time and RSS charts show the 1-worker rows; `workers.png`
    // shows time against the workers requested.
    let workers_axis = rows
        .iter()
        .map(|r| r.workers)
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        > 1;
    let single: Vec<BenchRow> = rows.iter().filter(|r| r.workers <= 1).cloned().collect();
    let time = a.out.join("time.png");
    chart(
        &time,
        &single,
        x_of,
        x_desc,
        "wall time (s, log scale)",
        "Time by mode and size",
        |r| r.wall_s,
        series_of,
    )?;
    let rss = a.out.join("peak_rss.png");
    chart(
        &rss,
        &single,
        x_of,
        x_desc,
        "peak RSS (MiB, log scale)",
        "Peak RSS by mode and size",
        |r| r.peak_rss_mb,
        series_of,
    )?;
    if workers_axis {
        let workers = a.out.join("workers.png");
        let threaded: Vec<BenchRow> = rows
            .iter()
            .filter(|r| r.requested == "sqrt" || r.requested == "auto")
            .cloned()
            .collect();
        chart(
            &workers,
            &threaded,
            |r| r.workers as f64,
            "workers requested (Config::max_workers; the engine caps them at the cores)",
            "wall time (s, log scale)",
            "Time by workers (line: geometric mean over k and LRU)",
            |r| r.wall_s,
            |r| format!("{} window {}", r.requested, r.window),
        )?;
        say!(
            "wrote {}, {} and {}",
            time.display(),
            rss.display(),
            workers.display()
        );
    } else {
        say!("wrote {} and {}", time.display(), rss.display());
    }
    Ok(())
}

/// A tick label: three significant digits, no float noise.
fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let digits = (2 - a.log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.digits$}")
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and valid; a failure would only lose the text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The series a row belongs to: the requested mode (`auto` rows keep their own series).
fn series_of(r: &BenchRow) -> String {
    r.requested.clone()
}

fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(23, 190, 207),
    ];
    PALETTE[i % PALETTE.len()]
}

#[allow(
    clippy::too_many_arguments,
    reason = "one chart's data, axes, texts and series"
)]
fn chart(
    path: &Path,
    rows: &[BenchRow],
    x_of: fn(&BenchRow) -> f64,
    x_desc: &str,
    y_desc: &str,
    caption: &str,
    y_of: fn(&BenchRow) -> f64,
    series_of: fn(&BenchRow) -> String,
) -> Result<(), CliError> {
    let err = |e: &dyn std::fmt::Display| CliError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let ok: Vec<&BenchRow> = rows
        .iter()
        .filter(|r| r.status == "ok" && y_of(r) > 0.0 && x_of(r) > 0.0)
        .collect();
    let failed: Vec<&BenchRow> = rows
        .iter()
        .filter(|r| r.status != "ok" && x_of(r) > 0.0)
        .collect();
    let xs = ok.iter().chain(&failed).map(|r| x_of(r));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (y0, y1) = ok
        .iter()
        .map(|r| y_of(r))
        .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
    if x0 > x1 || y0 > y1 {
        return Err(err(&"no successful rows to plot"));
    }
    let pad = (x1 - x0).max(x1 * 0.2) * 0.1;
    let (x0, x1) = ((x0 - pad).max(0.0), x1 + pad);
    // Whole decades, so the log axis labels land on 1-2-5 steps instead of crowding one end.
    let (y0, y1) = (
        10f64.powf((y0 / 2.0).log10().floor()),
        10f64.powf((y1 * 3.0).log10().ceil()),
    );

    let root = BitMapBackend::new(path, (1000, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut c = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 26))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| number(*x))
        .y_label_formatter(&|y| number(*y))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;

    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in &ok {
        series
            .entry(series_of(r))
            .or_default()
            .push((x_of(r), y_of(r)));
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let col = colour(i);
        // The line joins the mean at each x; every run is a dot.
        let mut means: BTreeMap<i64, (f64, f64, usize)> = BTreeMap::new();
        for &(x, y) in points {
            let e = means.entry((x * 1e6).round() as i64).or_insert((x, 0.0, 0));
            e.1 += y.ln();
            e.2 += 1;
        }
        let line: Vec<(f64, f64)> = means
            .values()
            .map(|&(x, s, n)| (x, (s / n as f64).exp()))
            .collect();
        c.draw_series(LineSeries::new(line, col.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        c.draw_series(points.iter().map(|&p| Circle::new(p, 4, col.filled())))
            .map_err(|e| err(&e))?;
    }
    // Failed runs: a cross at the top, one series per way of failing, labelled by how the
    // process ended (a typed out-of-memory error is not a SIGABRT, nor a SIGKILL).
    let mut kinds: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for r in &failed {
        kinds
            .entry(failure_kind(&r.status))
            .or_default()
            .push(x_of(r));
    }
    for (i, (kind, xs)) in kinds.iter().enumerate() {
        let col = [
            RGBColor(214, 39, 40),
            RGBColor(0, 0, 0),
            RGBColor(227, 119, 194),
            RGBColor(127, 127, 127),
        ][i % 4];
        let y = y1 / 1.5 / 1.4f64.powi(i as i32);
        c.draw_series(
            xs.iter()
                .map(|&x| Cross::new((x, y), 8, col.stroke_width(3))),
        )
        .map_err(|e| err(&e))?
        .label(format!("failed: {kind}"))
        .legend(move |(x, y)| Cross::new((x + 10, y), 6, col.stroke_width(2)));
    }
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
