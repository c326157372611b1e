//! `sqrtspace demo audio`: the audio pipeline on a recording, with a summary and the report.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{
    planner, progress_bar, refuse_input_as_output, AtomicOutput, CliError, JobArgs, DEFAULT_INPUT,
};
use sqrtspace::{Mode, Verification};
use sqrtspace_audio::{describe_summary, AudioError, WindowClass};

/// Arguments of `demo audio`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Input recording, engine configuration, band and classifier thresholds.
    #[command(flatten)]
    pub job: JobArgs,
    /// Write one row per window (time in s, classes, features in Hz / dBFS, flux) to FILE,
    /// streamed as the windows complete; `-` writes to standard output (the report then goes
    /// to standard error).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Also run classic mode (or sqrt, when classic was run) on the same input and check that
    /// every output is bit-identical; the report then compares against classic's measured
    /// peak RSS and time instead of its estimate.
    #[arg(long)]
    pub verify: bool,
    /// Segments to list in the summary.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub segments: usize,
}

/// One CSV row: a window's times, classes and features.
#[derive(Debug, serde::Serialize)]
struct Row {
    /// Window index.
    window: u64,
    /// Start of the window's hop interval, s.
    start_s: f64,
    /// End of the window's hop interval, s.
    end_s: f64,
    /// Smoothed class.
    class: &'static str,
    /// Raw class.
    raw_class: &'static str,
    /// Spectral centroid, Hz.
    centroid_hz: f32,
    /// Peak frequency, Hz.
    peak_hz: f32,
    /// Spectral flatness (0..1).
    flatness: f32,
    /// Spectral kurtosis.
    kurtosis: f32,
    /// RMS level, dBFS.
    rms_dbfs: f32,
    /// Spectral flux.
    flux: f32,
}

/// Runs `demo audio`.
pub fn run(a: &DemoArgs) -> Result<(), CliError> {
    let job = a.job.job(DEFAULT_INPUT)?;
    let to_stdout = a.csv.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if let Some(p) = a.csv.as_deref().filter(|_| !to_stdout) {
        refuse_input_as_output("--csv", p, &[job.input.as_path()])?;
    }
    let planner = planner();
    let estimate = job.estimate(&planner)?;
    // The CSV goes to a temporary file renamed over the target only when the run succeeds.
    let mut target: Option<AtomicOutput> = None;
    let mut csv = match &a.csv {
        None => None,
        Some(p) if to_stdout => Some((
            p.clone(),
            csv::Writer::from_writer(Box::new(std::io::stdout()) as Box<dyn Write>),
        )),
        Some(p) => {
            let (out, file) = AtomicOutput::create(p)?;
            target = Some(out);
            Some((
                p.clone(),
                csv::Writer::from_writer(Box::new(std::io::BufWriter::new(file)) as Box<dyn Write>),
            ))
        }
    };
    let bar = progress_bar(estimate.seconds(), a.csv.is_some());
    let rate = f64::from(estimate.sample_rate);
    let hop = job.config.hop as f64;
    let mut sink = |t: u64, o: &WindowClass| -> std::io::Result<()> {
        let Some((_, w)) = csv.as_mut() else {
            return Ok(());
        };
        let f = &o.features;
        let row = Row {
            window: t,
            start_s: t as f64 * hop / rate,
            end_s: (t + 1) as f64 * hop / rate,
            class: o.class.as_str(),
            raw_class: o.raw.as_str(),
            centroid_hz: f.centroid_hz,
            peak_hz: f.peak_hz,
            flatness: f.flatness,
            kurtosis: f.kurtosis,
            rms_dbfs: f.rms_dbfs,
            flux: o.flux,
        };
        // The writer's own io::Error (its kind says "broken pipe"), else the CSV error as one.
        w.serialize(row).map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(io) => io,
            kind => std::io::Error::other(format!("{kind:?}")),
        })
    };
    let result = job.run(
        &planner,
        &mut |p| bar.set_position((p.samples as f64 / rate) as u64),
        &mut sink,
    );
    bar.finish_and_clear();
    // A failed CSV write stopped the run at its window (the sink returned the error).
    let result = match (result, csv.as_ref()) {
        (Err(AudioError::Engine(sqrtspace::Error::Sink { window, source })), Some((path, _))) => {
            match source.downcast::<std::io::Error>() {
                Ok(io) => {
                    return Err(CliError::Csv {
                        path: path.clone(),
                        source: csv::Error::from(*io),
                    })
                }
                Err(source) => Err(AudioError::Engine(sqrtspace::Error::Sink {
                    window,
                    source,
                })),
            }
        }
        (other, _) => other,
    };
    if let Some((path, mut w)) = csv.take() {
        w.flush().map_err(|e| CliError::Csv {
            path,
            source: csv::Error::from(e),
        })?;
        drop(w);
    }
    let main = result?;
    if let Some(out) = target.take() {
        out.commit()?;
    }

    let (baseline, outputs) = if a.verify {
        let other = if main.mode == Mode::Classic {
            Mode::Sqrt
        } else {
            Mode::Classic
        };
        let (run, verdict) = job.verify(&planner, &main, other)?;
        ((other == Mode::Classic).then_some(run), verdict)
    } else {
        (None, Verification::NotChecked)
    };

    let mut out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let text = render(&job, &main, baseline.as_ref(), outputs, a);
    out.write_all(text.as_bytes())
        .map_err(|source| CliError::Io {
            action: "write the report to",
            path: "standard output".into(),
            source,
        })?;
    if let Verification::Differ(n) = outputs {
        return Err(CliError::Usage(format!(
            "{n} windows differ between modes: the stages are not deterministic"
        )));
    }
    Ok(())
}

fn render(
    job: &sqrtspace_audio::AudioJob,
    main: &sqrtspace_audio::AudioRun,
    baseline: Option<&sqrtspace_audio::AudioRun>,
    outputs: Verification,
    a: &DemoArgs,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Input: {}{} — {:.1} s at {} Hz, {} samples, {} windows (window {}, hop {} samples), {} trailing samples in no window",
        job.input.display(),
        if job.repeat > 1 { format!(" ×{}", job.repeat) } else { String::new() },
        main.seconds(),
        main.sample_rate,
        main.end.samples,
        main.end.windows,
        main.config.window,
        main.config.hop,
        main.end.tail_samples
    );
    let _ = writeln!(
        s,
        "Band: {}..{} Hz   silence below {} dBFS   noise above flatness {}",
        a.job.band.f_lo, a.job.band.f_hi, a.job.band.silence_dbfs, a.job.band.flatness_split
    );
    let _ = writeln!(s, "Why {}: {}", main.mode, main.plan.reason);
    let _ = writeln!(s, "k: {}", main.plan.k_reason);
    if let Some(p) = &a.csv {
        let _ = writeln!(
            s,
            "CSV: {} windows written to {}",
            main.end.windows,
            p.display()
        );
    }
    let _ = writeln!(s, "{}", describe_summary(&main.summary, a.segments));
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", main.report(baseline, outputs));
    let _ = writeln!(
        s,
        "Outputs digest: {} (FNV-1a of every window's bits; equal digests = identical outputs)",
        main.digest
    );
    let _ = writeln!(
        s,
        "Decode: {:.2} s of the {:.2} s   Throughput: {:.0} windows/s, {:.0}x real time",
        main.decode.as_secs_f64(),
        main.measured.wall.as_secs_f64(),
        main.windows_per_second(),
        main.seconds() / main.measured.wall.as_secs_f64().max(1e-9)
    );
    s
}
