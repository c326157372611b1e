//! End-to-end tests of the `sqrtspace` binary: bad input exits non-zero with a clear message
//! and never panics; good input prints the report, writes the CSV and verifies.
//! Run with `cargo test -p sqrtspace-cli --test cli`.

use std::fs;
use std::path::{Path, PathBuf};
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
        "--workers",
        "1,1024",
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
    let text = fs::read_to_string(&csv).unwrap();
    let rows = text.lines().count();
    assert_eq!(
        rows,
        1 + 2 * 4,
        "header + fused, sqrt with 1 and 1024 workers, classic per window"
    );
    // The workers axis: 1024 workers requested, at most the cores used, and the row says why.
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (requested, used, note) = (col("workers"), col("workers_used"), col("workers_note"));
    let many: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[requested] == "1024")
        .collect();
    assert_eq!(many.len(), 2, "{text}");
    for r in &many {
        let n: usize = r[used].parse().unwrap();
        assert!(n < 1024, "{text}");
        assert!(
            r[note].contains("capped at") || r[note].contains("busy"),
            "{text}"
        );
    }
    let plots = d.path().join("plots");
    let out = sqrtspace(&["plot", path(&csv), "--out", path(&plots)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for png in ["time.png", "peak_rss.png", "workers.png"] {
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

/// The shipped speech recording (112 s at 8 kHz).
fn speech() -> PathBuf {
    PathBuf::from(sqrtspace_audio::assets::SPEECH)
}

#[test]
fn extreme_and_nan_settings_exit_1_with_what_to_change() {
    let input = speech();
    let input = path(&input);
    for (args, needles) in [
        (
            vec!["--window", "1099511627776"],
            vec!["--window 1099511627776", "between 2 and 16777216"],
        ),
        (
            vec!["--window", "18446744073709551615"],
            vec!["--window 18446744073709551615"],
        ),
        (vec!["--silence-dbfs", "nan"], vec!["--silence-dbfs NaN"]),
        (vec!["--silence-dbfs", "inf"], vec!["--silence-dbfs inf"]),
        (
            vec!["--flatness-split", "nan"],
            vec!["--flatness-split NaN"],
        ),
        (vec!["--flatness-split", "2"], vec!["between 0 and 1"]),
        (vec!["--f-lo", "nan"], vec!["--f-lo NaN"]),
        (vec!["--lru-mb", "1e300"], vec!["--lru-mb"]),
        (vec!["--lru-mb", "nan"], vec!["--lru-mb NaN"]),
    ] {
        for cmd in [&["plan", "--print"][..], &["demo", "audio"][..]] {
            let mut all: Vec<&str> = cmd.to_vec();
            all.extend(["--input", input]);
            all.extend(args.iter().copied());
            let out = sqrtspace(&all);
            fails_with(&out, &needles);
        }
    }
    // The bench's lists too.
    fails_with(
        &sqrtspace(&["bench", "audio", "--windows", "4096,1099511627776"]),
        &["--window 1099511627776"],
    );
    fails_with(
        &sqrtspace(&["bench", "audio", "--lru-mb", "2,nan"]),
        &["--lru-mb NaN"],
    );
}

#[test]
fn a_wav_declaring_sample_rate_zero_exits_1_not_a_panic() {
    let d = TempDir::new();
    let mut bytes = wav(8000, &signal(20_000, 8000), None);
    bytes[24..28].copy_from_slice(&0u32.to_le_bytes());
    let f = d.file("rate0.wav", &bytes);
    fails_with(
        &sqrtspace(&["demo", "audio", "--input", path(&f)]),
        &["invalid header", "sample rate of 0 Hz"],
    );
}

#[test]
fn a_csv_path_naming_the_input_is_refused_and_the_recording_survives() {
    let d = TempDir::new();
    let bytes = wav(8000, &signal(40_000, 8000), None);
    let rec = d.file("rec.wav", &bytes);
    let link = d.path().join("link.wav");
    fs::hard_link(&rec, &link).unwrap();
    let dotted = d.path().join(".").join("rec.wav");
    for csv in [rec.clone(), dotted, link] {
        let out = sqrtspace(&["demo", "audio", "--input", path(&rec), "--csv", path(&csv)]);
        fails_with(
            &out,
            &["--csv", "is the input file", "choose another output path"],
        );
        assert_eq!(fs::read(&rec).unwrap(), bytes, "the recording was modified");
    }
    fails_with(
        &sqrtspace(&["bench", "audio", "--input", path(&rec), "--csv", path(&rec)]),
        &["is the input file"],
    );
    assert_eq!(fs::read(&rec).unwrap(), bytes);
}

/// `.NAME.partial-*` files left in `dir`.
fn partials(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".partial-"))
        })
        .collect()
}

#[test]
fn a_run_killed_mid_csv_leaves_the_previous_file_whole() {
    let d = TempDir::new();
    let csv = d.file("out.csv", b"previous,complete,file\n");
    let input = speech();
    // ~1 hour of audio: long enough to be killed mid-run.
    let mut child = Command::new(env!("CARGO_BIN_EXE_sqrtspace"))
        .args([
            "demo",
            "audio",
            "--mode",
            "sqrt",
            "--input",
            path(&input),
            "--repeat",
            "32",
            "--csv",
            path(&csv),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until rows are being written (the temporary file has grown), then SIGKILL.
    let started = std::time::Instant::now();
    loop {
        let grown = partials(d.path())
            .iter()
            .any(|p| fs::metadata(p).is_ok_and(|m| m.len() > 4096));
        if grown {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "no rows written within 120 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended too soon"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        fs::read_to_string(&csv).unwrap(),
        "previous,complete,file\n",
        "a killed run must not touch the target"
    );

    // A run that completes replaces the file whole and leaves no temporary file behind.
    let short = d.file("short.wav", &wav(8000, &signal(40_000, 8000), None));
    let out = sqrtspace(&[
        "demo",
        "audio",
        "--input",
        path(&short),
        "--csv",
        path(&csv),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("window,"), "{text}");
    assert!(text.ends_with('\n'));
    let lines = text.lines().count();
    assert!(lines > 10, "{lines}");
    // Only the killed run's temporary file remains (the finished one was renamed).
    assert_eq!(partials(d.path()).len(), 1, "{:?}", partials(d.path()));
}

#[test]
fn plan_into_a_closed_pipe_exits_zero_without_a_panic() {
    use std::process::Stdio;
    // `sqrtspace plan --print | head -0`: the reader is gone before anything is written.
    for args in [&["plan", "--print"][..], &["plan"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sqrtspace"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn classic_mode_out_of_memory_is_a_typed_error_and_the_bench_child_says_so() {
    // 112 s x 4,000,000,000 passes: classic would need ~14 PB for the decoded signal.
    let out = sqrtspace(&[
        "demo",
        "audio",
        "--mode",
        "classic",
        "--repeat",
        "4000000000",
    ]);
    fails_with(&out, &["could not allocate", "--mode sqrt"]);
    // The benchmark child exits 1 with its out-of-memory tag, so the parent can report a
    // clean out-of-memory failure rather than guess from a signal.
    let input = speech();
    let out = sqrtspace(&[
        "__bench-child",
        "--input",
        path(&input),
        "--mode",
        "classic",
        "--repeat",
        "4000000000",
    ]);
    fails_with(&out, &["could not allocate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("@@sqrtspace-bench-out-of-memory"),
        "{stdout}"
    );
}
