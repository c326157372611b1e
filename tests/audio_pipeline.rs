//! Integration tests of `sqrtspace_audio::pipeline` on the shipped recording
//! (`apps/audio/assets/ve9qrp.wav`, 112 s of speech at 8 kHz) and on small crafted WAV files: modes agree
//! bit for bit, class fractions and segments add up, the planner's header-only estimate
//! matches the engine's probe, and bad input is a typed error, never a panic.

use std::path::Path;

use sqrtspace::{Checkpoints, Config, Machine, Mode, Planner, Verification, MIB};
use sqrtspace_audio::pipeline::{estimate_for, smooth};
use sqrtspace_audio::{
    fused_loop, read_all, AudioError, AudioJob, AudioParams, AudioPipeline, Class, DecodeError,
    OutputDigest, WindowClass,
};
use sqrtspace_test_support::{wav, TempFile as Temp};

const SPEECH: &str = sqrtspace_audio::assets::SPEECH;
const LOOP: &str = sqrtspace_audio::assets::DRUM_LOOP;

fn planner(ram: u64) -> Planner {
    Planner {
        machine: Machine {
            ram_available: ram,
            llc_bytes: 32 << 20,
            llc_source: "test",
        },
    }
}

/// The first `seconds` of the speech recording.
fn speech(seconds: f64) -> (Vec<f32>, u32) {
    let (mut s, sr) = read_all(SPEECH).expect("the shipped recording decodes");
    s.truncate((seconds * f64::from(sr)) as usize);
    (s, sr)
}

fn same(a: &[WindowClass], b: &[WindowClass]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.bits_eq(y))
}

#[test]
fn sqrt_stream_equals_classic_and_the_fused_loop_on_20_s_of_speech() {
    let (signal, sr) = speech(20.0);
    let params = AudioParams::new(sr);
    let config = Config::default()
        .with_window(1024)
        .with_hop(256)
        .with_lru_bytes(MIB / 4);
    let windows = config.windows_in(signal.len() as u64);
    assert!(windows > 600, "{windows}");

    let mut classic = AudioPipeline::new(config.clone().with_mode(Mode::Classic), params).unwrap();
    let a = classic.evaluate::<smooth>(&signal, 0..windows).unwrap();

    let mut sqrt = AudioPipeline::new(config.clone().with_mode(Mode::Sqrt), params).unwrap();
    let mut b = Vec::new();
    // Odd chunk sizes, as a decoder would deliver them.
    let end = sqrt
        .stream(
            signal.chunks(1153).map(Ok::<_, sqrtspace::Error>),
            |_, o| b.push(o),
        )
        .unwrap();
    assert_eq!(end.windows, windows);

    let mut c = Vec::new();
    fused_loop(&signal, &config, &params, |_, o| c.push(o));
    assert!(same(&a, &b), "sqrt streaming differs from classic");
    assert!(same(&a, &c), "the fused loop differs from classic");
    // Lookback and state were exercised: flux is non-zero somewhere, classes change.
    assert!(a.iter().any(|o| o.flux > 0.0));
    assert!(a.windows(2).any(|w| w[0].class != w[1].class));
}

#[test]
fn random_access_in_sqrt_mode_resumes_from_checkpoints() {
    let (signal, sr) = speech(15.0);
    let params = AudioParams::new(sr);
    let config = Config::default()
        .with_window(512)
        .with_hop(256)
        .with_checkpoints(Checkpoints::Every(8))
        .with_lru_bytes(64 << 10);
    let windows = config.windows_in(signal.len() as u64);
    let all = AudioPipeline::new(config.clone().with_mode(Mode::Classic), params)
        .unwrap()
        .evaluate::<smooth>(&signal, 0..windows)
        .unwrap();
    let mut p = AudioPipeline::new(config.with_mode(Mode::Sqrt), params).unwrap();
    for range in [300..340, 17..25, 400..401, 0..3] {
        let got = p.evaluate::<smooth>(&signal, range.clone()).unwrap();
        assert!(
            same(&got, &all[range.start as usize..range.end as usize]),
            "{range:?}"
        );
    }
}

#[test]
fn the_job_runs_every_mode_identically_and_fractions_sum_to_one() {
    let job = AudioJob::new(SPEECH);
    let p = planner(16 << 30);
    let mut outputs = Vec::new();
    let sqrt = job
        .clone()
        .with_mode(Mode::Sqrt)
        .run(&p, &mut |_| {}, &mut |t, o| {
            outputs.push((t, *o));
            Ok(())
        })
        .unwrap();
    assert_eq!(sqrt.mode, Mode::Sqrt);
    assert_eq!(sqrt.sample_rate, 8000);
    assert_eq!(sqrt.end.samples, 899_584);
    assert_eq!(sqrt.end.windows, outputs.len() as u64);
    assert!(outputs.iter().enumerate().all(|(i, (t, _))| *t == i as u64));

    let (classic, verdict) = job.verify(&p, &sqrt, Mode::Classic).unwrap();
    assert_eq!(verdict, Verification::Identical);
    assert_eq!(classic.mode, Mode::Classic);
    assert_eq!(classic.digest, sqrt.digest);
    let auto = job
        .with_mode(Mode::Auto)
        .run(&p, &mut |_| {}, &mut |_, _| Ok(()))
        .unwrap();
    // 112 s of speech needs ~33 MiB of columns: it fits the RAM budget but not 0.6 x LLC.
    assert_eq!(auto.mode, Mode::Sqrt, "{}", auto.plan.reason);
    assert!(
        auto.plan.reason.contains("0.6 x LLC"),
        "{}",
        auto.plan.reason
    );
    assert_eq!(auto.digest, sqrt.digest);

    let s = &sqrt.summary;
    let total: f64 = Class::ALL.iter().map(|&c| s.fraction(c)).sum();
    assert!((total - 1.0).abs() < 1e-12, "{total}");
    assert!(
        [Class::Silence, Class::Tonal, Class::Noise]
            .iter()
            .all(|&c| s.count(c) > 0),
        "speech over radio has all three classes: {s}"
    );
    assert_eq!(
        s.count(Class::NonFinite),
        0,
        "a real recording has no non-finite frames: {s}"
    );
    let segs = s.segments();
    assert_eq!(segs[0].start_s, 0.0);
    assert!(segs
        .windows(2)
        .all(|w| w[0].end_s == w[1].start_s && w[0].class != w[1].class));
    assert!((segs.last().unwrap().end_s - s.total_seconds()).abs() < 1e-9);
    let text = sqrtspace_audio::describe_summary(s, 3);
    assert!(text.contains("Segments (first 3 of"), "{text}");
    let report = sqrt.report(Some(&classic), verdict).to_string();
    assert!(
        report.contains("Outputs: bit-identical to classic"),
        "{report}"
    );
}

#[test]
fn repeat_loops_the_recording_and_digests_see_every_pass() {
    let once = AudioJob::new(LOOP)
        .with_mode(Mode::Sqrt)
        .run(&planner(16 << 30), &mut |_| {}, &mut |_, _| Ok(()))
        .unwrap();
    let mut seen = 0u64;
    let twice = AudioJob::new(LOOP)
        .with_repeat(2)
        .with_mode(Mode::Sqrt)
        .run(
            &planner(16 << 30),
            &mut |p| seen = p.samples,
            &mut |_, _| Ok(()),
        )
        .unwrap();
    assert_eq!(twice.end.samples, 2 * once.end.samples);
    assert_eq!(seen, twice.end.samples, "progress reaches the end");
    assert_eq!(twice.sample_rate, 44_100);
    assert_ne!(once.digest, twice.digest);
}

#[test]
fn the_header_estimate_matches_the_engines_probe_and_auto_follows_the_budget() {
    let (signal, sr) = speech(30.0);
    let params = AudioParams::new(sr);
    let config = Config::default();
    let p = planner(16 << 30);
    let windows = config.windows_in(signal.len() as u64);
    let mut pipe = AudioPipeline::new(config.clone(), params).unwrap();
    pipe.set_planner(p.clone());
    let probed = pipe.plan::<smooth>(&signal, 0..windows).unwrap();
    let est = estimate_for(&config, &params, Some(signal.len() as u64), &p).unwrap();
    assert_eq!(est.plan.classic_bytes, probed.classic_bytes);
    assert_eq!(est.plan.mode, Mode::Classic);

    // Four hours of 44.1 kHz audio against a 2 GiB budget: sqrt, with the reason.
    let big = estimate_for(
        &config.clone().with_ram_budget(2 << 30),
        &AudioParams::new(44_100),
        Some(44_100 * 4 * 3600),
        &p,
    )
    .unwrap();
    assert_eq!(big.plan.mode, Mode::Sqrt);
    assert!(
        big.plan.reason.contains("exceeds half the RAM budget"),
        "{}",
        big.plan.reason
    );
    assert!(big.plan.classic_bytes > 20 << 30);
    // No declared length: sqrt.
    let unknown = estimate_for(&config, &params, None, &p).unwrap();
    assert_eq!(unknown.plan.mode, Mode::Sqrt);
}

#[test]
fn out_of_band_settings_are_typed_errors() {
    let p = AudioParams::new(8000);
    let e = AudioParams { f_hi: 4000.0, ..p }.check(4096).unwrap_err();
    assert!(
        matches!(
            e,
            AudioError::SampleRateTooLow {
                sample_rate: 8000,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(matches!(
        AudioParams {
            f_lo: 900.0,
            f_hi: 100.0,
            ..p
        }
        .check(4096),
        Err(AudioError::InvalidBand { .. })
    ));
    assert!(matches!(
        AudioParams {
            f_lo: 1.0,
            f_hi: 2.0,
            ..p
        }
        .check(1024),
        Err(AudioError::EmptyBand { .. })
    ));
    assert!(p.check(4096).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Crafted files.

/// A 440 Hz tone at half scale, `n` samples at `rate` Hz.
fn tone(n: usize, rate: u32) -> Vec<i16> {
    (0..n)
        .map(|i| {
            (16384.0 * (std::f64::consts::TAU * 440.0 * i as f64 / f64::from(rate)).sin()) as i16
        })
        .collect()
}

fn run(path: &Path, config: Config) -> (Result<sqrtspace_audio::AudioRun, AudioError>, u64) {
    let mut windows = 0;
    let r = AudioJob::new(path).with_config(config).run(
        &planner(16 << 30),
        &mut |_| {},
        &mut |_, _| {
            windows += 1;
            Ok(())
        },
    );
    (r, windows)
}

#[test]
fn a_sample_rate_too_low_for_the_band_names_the_numbers() {
    let f = Temp::new("low.wav", &wav(2000, &tone(8000, 2000), None));
    let (r, windows) = run(f.path(), Config::default().with_mode(Mode::Sqrt));
    let e = r.unwrap_err();
    assert!(
        matches!(e, AudioError::SampleRateTooLow { sample_rate: 2000, nyquist, .. } if nyquist == 1000.0),
        "{e:?}"
    );
    let msg = e.to_string();
    for needle in [
        "2000 Hz",
        "f_hi = 2000 Hz",
        "Nyquist frequency 1000 Hz",
        "--f-hi",
        "above 4000 Hz",
    ] {
        assert!(msg.contains(needle), "`{needle}` missing from: {msg}");
    }
    assert_eq!(windows, 0);
}

#[test]
fn fewer_samples_than_a_window_is_too_short_in_every_mode() {
    let f = Temp::new("short.wav", &wav(8000, &tone(1000, 8000), None));
    for mode in [Mode::Sqrt, Mode::Classic, Mode::Auto] {
        let (r, _) = run(f.path(), Config::default().with_mode(mode));
        let e = r.unwrap_err();
        assert!(
            matches!(
                e,
                AudioError::TooShort {
                    samples: 1000,
                    window: 4096,
                    ..
                }
            ),
            "{mode}: {e:?}"
        );
        assert!(
            e.to_string().contains("fewer than one analysis window"),
            "{e}"
        );
    }
}

#[test]
fn a_truncated_file_reports_samples_read_after_emitting_complete_windows() {
    let f = Temp::new("cut.wav", &wav(8000, &tone(20_000, 8000), Some(40_000)));
    let config = Config::default().with_window(1024).with_hop(512);
    for mode in [Mode::Sqrt, Mode::Classic] {
        let (r, windows) = run(f.path(), config.clone().with_mode(mode));
        match r.unwrap_err() {
            AudioError::Decode(DecodeError::Truncated {
                samples_read,
                expected,
                ..
            }) => {
                assert_eq!(samples_read, 20_000);
                assert_eq!(expected, Some(40_000));
            }
            e => panic!("{mode}: {e:?}"),
        }
        if mode == Mode::Sqrt {
            assert!(
                windows > 0,
                "streaming emits the windows decoded before the damage"
            );
        }
    }
}

#[test]
fn missing_empty_and_garbage_files_are_decode_errors() {
    let empty = Temp::new("empty.wav", b"");
    let garbage = Temp::new("garbage.flac", &[0x5a; 4000]);
    let zero = Temp::new("zero.wav", &wav(8000, &[], None));
    let (r, _) = run(Path::new("/definitely/not/here.wav"), Config::default());
    assert!(matches!(
        r,
        Err(AudioError::Decode(DecodeError::NotFound { .. }))
    ));
    let (r, _) = run(empty.path(), Config::default());
    assert!(
        matches!(r, Err(AudioError::Decode(DecodeError::Empty { .. }))),
        "{r:?}"
    );
    let (r, _) = run(zero.path(), Config::default());
    assert!(
        matches!(r, Err(AudioError::Decode(DecodeError::Empty { .. }))),
        "{r:?}"
    );
    let (r, _) = run(garbage.path(), Config::default());
    assert!(
        matches!(
            r,
            Err(AudioError::Decode(
                DecodeError::Unsupported { .. } | DecodeError::Corrupt { .. }
            ))
        ),
        "{r:?}"
    );
}

#[test]
fn digests_are_order_and_bit_sensitive() {
    let o = WindowClass {
        class: Class::Tonal,
        raw: Class::Noise,
        features: Default::default(),
        flux: 1.0,
    };
    let mut a = OutputDigest::default();
    a.push(0, &o);
    let mut b = OutputDigest::default();
    b.push(1, &o);
    assert_ne!(a, b);
    let mut c = OutputDigest::default();
    c.push(
        0,
        &WindowClass {
            flux: f32::from_bits(1.0f32.to_bits() + 1),
            ..o
        },
    );
    assert_ne!(a, c);
    assert!(o.bits_eq(&o));
}

// ---------------------------------------------------------------------------------------------
// Bit identity on random signals, non-finite input, settings, effective values, the verifier.

mod random_signals {
    use super::*;
    use proptest::prelude::*;

    /// A random signal of `n` samples in [-1, 1) (not quarter-integers: full f32 mantissas),
    /// with NaN and ±inf sprinkled in when `specials`.
    fn signal(n: usize, seed: u64, specials: bool) -> Vec<f32> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                match (specials, x % 997) {
                    (true, 0) => f32::NAN,
                    (true, 1) => f32::INFINITY,
                    (true, 2) => f32::NEG_INFINITY,
                    _ => v * (1.0 + (x % 7) as f32) / 8.0,
                }
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Classic, sqrt (streamed in random chunks, with random LRU and k) and the fused loop
        /// give the same bits for every field of every window, NaN payloads included.
        #[test]
        fn classic_sqrt_and_fused_agree_bit_for_bit_on_random_signals(
            seed in any::<u64>(),
            specials in any::<bool>(),
            window_log in 8u32..11,
            hop_div in prop::sample::select(vec![1usize, 2, 4]),
            windows in 1u64..40,
            chunk in 1usize..3000,
            lru in prop::sample::select(vec![0usize, 16 << 10, 1 << 20]),
            k in 1u64..12,
        ) {
            let window = 1usize << window_log;
            let hop = window / hop_div;
            let n = (windows as usize - 1) * hop + window + (seed % 97) as usize;
            let x = signal(n, seed, specials);
            let params = AudioParams::new(8000);
            let config = Config::default()
                .with_window(window)
                .with_hop(hop)
                .with_lru_bytes(lru)
                .with_checkpoints(Checkpoints::Every(k));
            let total = config.windows_in(n as u64);
            let a = AudioPipeline::new(config.clone().with_mode(Mode::Classic), params)
                .unwrap()
                .evaluate::<smooth>(&x, 0..total)
                .unwrap();
            let mut b = Vec::new();
            AudioPipeline::new(config.clone().with_mode(Mode::Sqrt), params)
                .unwrap()
                .stream(x.chunks(chunk).map(Ok::<_, sqrtspace::Error>), |_, o| b.push(o))
                .unwrap();
            let mut c = Vec::new();
            fused_loop(&x, &config, &params, |_, o| c.push(o));
            let bits = |v: &[WindowClass]| v.iter().map(WindowClass::to_bits).collect::<Vec<_>>();
            prop_assert_eq!(bits(&a), bits(&b));
            prop_assert_eq!(bits(&a), bits(&c));
            prop_assert_eq!(a.len() as u64, total);
        }
    }
}

#[test]
fn non_finite_frames_are_counted_separately_and_never_called_tonal() {
    use sqrtspace_audio::{describe_summary, ClassSummary};
    let params = AudioParams::new(8000);
    let config = Config::default().with_window(256).with_hop(128);
    for fill in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let x = vec![fill; 128 * 40];
        let windows = config.windows_in(x.len() as u64);
        let out = AudioPipeline::new(config.clone().with_mode(Mode::Classic), params)
            .unwrap()
            .evaluate::<smooth>(&x, 0..windows)
            .unwrap();
        let mut s = ClassSummary::new(128, 8000).unwrap();
        for (t, o) in out.iter().enumerate() {
            assert_eq!(o.raw, Class::NonFinite, "{fill}: window {t}");
            assert_eq!(o.class, Class::NonFinite, "{fill}: window {t}");
            s.push(t as u64, o.class);
        }
        assert_eq!(s.count(Class::Tonal), 0, "{fill}: {s}");
        assert_eq!(s.count(Class::NonFinite), windows);
        let text = describe_summary(&s, 3);
        assert!(text.contains("non-finite 100.0%"), "{text}");
        assert!(text.contains("tonal 0.0%"), "{text}");
    }
    // One NaN sample in a tone: only the windows that hold it are non-finite, and the smoother
    // neither spreads nor hides them.
    let mut x: Vec<f32> = (0..128 * 40)
        .map(|i| 0.5 * (i as f32 * 0.3).sin())
        .collect();
    x[128 * 20 + 5] = f32::NAN;
    let windows = config.windows_in(x.len() as u64);
    let out = AudioPipeline::new(config.with_mode(Mode::Classic), params)
        .unwrap()
        .evaluate::<smooth>(&x, 0..windows)
        .unwrap();
    let bad: Vec<u64> = (0..windows)
        .filter(|&t| out[t as usize].class == Class::NonFinite)
        .collect();
    assert_eq!(bad, vec![19, 20], "windows covering sample 2565");
    assert!(out
        .iter()
        .filter(|o| o.class != Class::NonFinite)
        .all(|o| o.class == Class::Tonal));
}

#[test]
fn nan_and_infinite_thresholds_are_typed_errors() {
    let p = AudioParams::new(8000);
    for bad in [
        AudioParams {
            silence_dbfs: f32::NAN,
            ..p
        },
        AudioParams {
            silence_dbfs: f32::INFINITY,
            ..p
        },
        AudioParams {
            flatness_split: f32::NAN,
            ..p
        },
        AudioParams {
            flatness_split: -0.5,
            ..p
        },
        AudioParams {
            flatness_split: f32::NEG_INFINITY,
            ..p
        },
    ] {
        let e = bad.check(4096).unwrap_err();
        assert!(matches!(e, AudioError::InvalidThreshold { .. }), "{e:?}");
        assert!(e.to_string().contains("--"), "names the option: {e}");
    }
    // A job refuses them before decoding anything.
    let job = AudioJob::new(SPEECH).with_params(AudioParams {
        silence_dbfs: f32::NAN,
        ..p
    });
    assert!(matches!(
        job.estimate(&planner(1 << 30)),
        Err(AudioError::InvalidThreshold { .. })
    ));
}

#[test]
fn an_enormous_window_is_a_typed_error_before_anything_is_allocated() {
    use sqrtspace_audio::pipeline::MAX_WINDOW;
    for window in [1usize << 40, usize::MAX, MAX_WINDOW + 1] {
        let job = AudioJob::new(SPEECH).with_config(
            sqrtspace_audio::demo_config()
                .with_window(window)
                .with_hop(1024),
        );
        let e = job.estimate(&planner(1 << 30)).unwrap_err();
        assert!(
            matches!(e, AudioError::WindowTooLarge { max, .. } if max == MAX_WINDOW),
            "{window}: {e:?}"
        );
        assert!(e.to_string().contains("--window"), "{e}");
        let e = job
            .run(&planner(1 << 30), &mut |_| {}, &mut |_, _| Ok(()))
            .unwrap_err();
        assert!(matches!(e, AudioError::WindowTooLarge { .. }), "{e:?}");
    }
}

#[test]
fn reports_print_the_lru_and_workers_the_engine_used() {
    // Asked: 1 GiB of LRU and 8 workers. The planner caps sqrt's LRU at 0.6 x LLC (32 MiB
    // here) and the workers at the cores.
    let mut config = sqrtspace_audio::demo_config()
        .with_window(1024)
        .with_hop(512)
        .with_lru_bytes(1 << 30)
        .with_mode(Mode::Sqrt);
    config.max_workers = 8;
    let p = planner(8 << 30);
    let run = AudioJob::new(SPEECH)
        .with_config(config.clone())
        .run(&p, &mut |_| {}, &mut |_, _| Ok(()))
        .unwrap();
    let used = p.lru_for(&config, Mode::Sqrt, 0);
    assert!(used < 1 << 30, "{used}");
    assert_eq!(run.lru_bytes, used);
    // 8 asked: at most the cores ran (the planner caps, and may choose 1 on a busy machine).
    assert!(
        (1..=sqrtspace::parallel::cores()).contains(&run.workers),
        "{}",
        run.workers
    );
    let report = run.report(None, Verification::NotChecked);
    assert_eq!(report.lru_bytes, used);
    assert_eq!(report.workers, run.workers);
    let text = report.to_string();
    assert!(
        text.contains(&format!("Workers: {}", run.workers)),
        "{text}"
    );
    assert!(
        !text.contains("1.0 GiB"),
        "prints the requested LRU: {text}"
    );
    assert!(
        text.contains(&format!("LRU: {}", sqrtspace::plan::human(used as u64))),
        "{text}"
    );
}

mod verifier {
    use super::*;
    use sqrtspace::{pipeline, stage};
    use sqrtspace_audio::pipeline::count_differing;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Calls so far: makes [`jitter`] return something else every time it runs.
    static CALLS: AtomicU64 = AtomicU64::new(0);

    /// A deliberately non-deterministic stage: the frame's sum plus a call counter.
    #[stage(inputs = [input])]
    fn jitter(frame: &[f32]) -> f32 {
        frame.iter().sum::<f32>() + CALLS.fetch_add(1, Ordering::Relaxed) as f32
    }

    /// A pure stage.
    #[stage(inputs = [input])]
    fn steady(frame: &[f32]) -> f32 {
        frame.iter().sum::<f32>()
    }

    pipeline! {
        /// One non-deterministic stage.
        struct Jittery {
            stages: [jitter],
            output: jitter,
        }
    }

    pipeline! {
        /// One pure stage.
        struct Steady {
            stages: [steady],
            output: steady,
        }
    }

    fn config(mode: Mode) -> Config {
        Config::default()
            .with_window(64)
            .with_hop(32)
            .with_mode(mode)
    }

    #[test]
    fn the_verifier_counts_every_window_of_a_non_deterministic_stage() {
        let x: Vec<f32> = (0..64 * 20).map(|i| (i % 13) as f32 * 0.1).collect();
        let windows = config(Mode::Classic).windows_in(x.len() as u64);
        let kept = Jittery::new(config(Mode::Classic), ())
            .unwrap()
            .evaluate::<jitter>(&x, 0..windows)
            .unwrap();
        let same = |a: &f32, b: &f32| a.to_bits() == b.to_bits();
        let differ = count_differing(&kept, same, |sink| {
            Jittery::new(config(Mode::Sqrt), ())
                .unwrap()
                .stream(x.chunks(100).map(Ok::<_, sqrtspace::Error>), |t, o| {
                    sink(t, &o)
                })
                .map(|_| ())
        })
        .unwrap();
        assert_eq!(differ, windows, "every window differs between the runs");
        assert_eq!(Verification::Differ(differ), Verification::Differ(windows));

        // The same comparison of a pure stage finds nothing.
        let kept = Steady::new(config(Mode::Classic), ())
            .unwrap()
            .evaluate::<steady>(&x, 0..windows)
            .unwrap();
        let differ = count_differing(&kept, same, |sink| {
            Steady::new(config(Mode::Sqrt), ())
                .unwrap()
                .stream(x.chunks(100).map(Ok::<_, sqrtspace::Error>), |t, o| {
                    sink(t, &o)
                })
                .map(|_| ())
        })
        .unwrap();
        assert_eq!(differ, 0);

        // A rerun that stops early or runs long differs by the missing or extra windows.
        let short = count_differing(&kept[..5], same, |sink| {
            for (t, o) in kept.iter().enumerate() {
                sink(t as u64, o);
            }
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(short, windows - 5 + (windows - 5));
    }
}
