//! End-to-end tests of the `sqrtspace` binary: bad input exits non-zero with a clear message
//! and never panics; good input prints the report, writes the CSV and verifies.
//! Run with `cargo test -p sqrtspace-cli --test cli`.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use sqrtspace_test_support::{wav, TempDir};

/// Tone bursts with pauses and a noisy stretch, so every class occurs.
fn signal(n: usize, rate: u32) -> Vec<i16> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let noise = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let v = match (t as u64) % 3 {
                0 => 0.5 * (std::f64::consts::TAU * 440.0 * t).sin(),
                1 => 0.8 * noise,
                _ => 0.0,
            };
            (v * 32767.0) as i16
        })
        .collect()
}

fn sqrtspace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sqrtspace"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Asserts a clean failure: exit status 1, `needles` in stderr, no panic.
fn fails_with(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "`{n}` missing from: {stderr}");
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn bad_inputs_exit_non_zero_with_a_clear_message() {
    let d = TempDir::new();
    let missing = d.path().join("missing.wav");
    fails_with(
        &sqrtspace(&["demo", "audio", "--input", path(&missing)]),
        &["does not exist", "missing.wav"],
    );

    let garbage = d.file("garbage.wav", &[0x42; 3000]);
    fails_with(
        &sqrtspace(&["demo", "audio", "--input", path(&garbage)]),
        &["garbage.wav"],
    );

    let empty = d.file("empty.wav", b"");
    fails_with(
        &sqrtspace(&["demo", "audio", "--input", path(&empty)]),
        &["contains no audio samples"],
    );

    let cut = d.file("cut.wav", &wav(8000, &signal(30_000, 8000), Some(60_000)));
    for mode in ["sqrt", "classic"] {
        fails_with(
            &sqrtspace(&["demo", "audio", "--mode", mode, "--input", path(&cut)]),
            &["ends early: read 30000 samples but its header declares 60000"],
        );
    }

    let low = d.file("low.wav", &wav(2000, &signal(20_000, 2000), None));
    fails_with(
        &sqrtspace(&["demo", "audio", "--input", path(&low)]),
        &[
            "sample rate (2000 Hz) is too low",
            "Nyquist frequency 1000 Hz",
            "--f-hi",
        ],
    );
    fails_with(
        &sqrtspace(&["plan", "--print", "--input", path(&low)]),
        &["Nyquist"],
    );

    let short = d.file("short.wav", &wav(8000, &signal(100, 8000), None));
    fails_with(
        &sqrtspace(&["demo", "audio", "--input", path(&short)]),
        &["holds 100 samples", "fewer than one analysis window"],
    );

    // Usage errors are clap's: status 2.
    assert_eq!(
        sqrtspace(&["demo", "audio", "--mode", "fast"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sqrtspace(&["demo", "audio", "--repeat", "2", "--hours", "1"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn demo_writes_the_csv_verifies_and_reports() {
    let d = TempDir::new();
    let input = d.file("mix.wav", &wav(8000, &signal(8000 * 12, 8000), None));
    let csv = d.path().join("windows.csv");
    let out = sqrtspace(&[
        "demo",
        "audio",
        "--input",
        path(&input),
        "--mode",
        "sqrt",
        "--window",
        "1024",
        "--hop",
        "256",
        "--repeat",
        "2",
        "--csv",
        path(&csv),
        "--verify",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "Mode: sqrt (requested)",
        "Window: 1024   Hop: 256",
        "Peak RSS:",
        "Outputs: bit-identical to classic",
        "silence",
        "tonal",
        "noise",
        "Segments (first",
    ] {
        assert!(
            stdout.contains(needle),
            "`{needle}` missing from:\n{stdout}"
        );
    }
    let text = fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("window,start_s,end_s,class,raw_class,centroid_hz,peak_hz,flatness,kurtosis,rms_dbfs,flux"));
    let windows = (2 * 8000 * 12 - 1024) / 256 + 1;
    assert_eq!(lines.count(), windows);
    assert!(text.contains(",silence,") && text.contains(",tonal,") && text.contains(",noise,"));
}

#[test]
fn plan_prints_the_mode_and_why_without_decoding() {
    let out = sqrtspace(&["plan", "--print", "--hours", "4", "--ram-budget", "1G"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("mode:        sqrt (auto requested)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("exceeds half the RAM budget (1.0 GiB)"),
        "{stdout}"
    );
    assert!(stdout.contains("nothing was decoded"), "{stdout}");
    // The default recording needs ~31 MiB of columns: with a 32 MiB LLC that is over
    // 0.6 x LLC, so auto picks sqrt; with a 1 GiB LLC, classic.
    let plan = |llc: &str| {
        Command::new(env!("CARGO_BIN_EXE_sqrtspace"))
            .arg("plan")
            .env("LLC_BYTES", llc)
            .output()
            .expect("the binary runs")
    };
    let out = plan("33554432");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("sqrt ("),
        "{out:?}"
    );
    let out = plan("1073741824");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("classic ("),
        "{out:?}"
    );
}

#[test]
fn bench_matrix_writes_rows_that_plot_reads() {
    let d = TempDir::new();
    let csv = d.path().join("bench.csv");
    let out = sqrtspace(&[
        "bench",
        "audio",
        "--seconds",
        "8",
        "--windows",
        "1024,2048",
        "--k",
        "8",
        "--lru-mb",
        "1",
        "--csv",
        path(&csv),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("DIFFER"), "{stdout}");
    let rows = fs::read_to_string(&csv).unwrap().lines().count();
    assert_eq!(rows, 1 + 2 * 3, "header + fused, sqrt, classic per window");
    let plots = d.path().join("plots");
    let out = sqrtspace(&["plot", path(&csv), "--out", path(&plots)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for png in ["time.png", "peak_rss.png"] {
        let bytes = fs::read(plots.join(png)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{png}");
    }
    fails_with(
        &sqrtspace(&["plot", path(&d.path().join("nope.csv"))]),
        &["nope.csv"],
    );
}

#[test]
fn csv_to_a_closed_pipe_exits_zero_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    // `sqrtspace demo audio --csv - | head -2`: the reader closes the pipe early.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqrtspace"))
        .args(["demo", "audio", "--repeat", "4", "--csv", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("window,"));
    assert!(lines.next().is_some());
    drop(lines);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
