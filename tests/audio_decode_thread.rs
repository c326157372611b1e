//! The audio job's decoder thread: a streamed job decodes on a thread of its own
//! (`sqrtspace-decode`) while the calling thread evaluates, with the outputs of decoding
//! first; a failing sink stops it and the thread is gone when the job returns. One test in
//! this binary, so that no other test's decoder thread is seen.

use std::path::Path;

use sqrtspace::{Config, Machine, Mode, Planner};
use sqrtspace_audio::{fused_loop, read_all, AudioJob, AudioParams, OutputDigest};
use sqrtspace_test_support::{wav, TempFile as Temp};

fn planner() -> Planner {
    Planner {
        machine: Machine {
            ram_available: 16 << 30,
            llc_bytes: 32 << 20,
            llc_source: "test",
        },
    }
}

fn tone(n: usize, rate: u32) -> Vec<i16> {
    (0..n)
        .map(|i| {
            (16384.0 * (std::f64::consts::TAU * 440.0 * i as f64 / f64::from(rate)).sin()) as i16
        })
        .collect()
}

/// Names of this process's threads (Linux: `/proc/self/task/*/comm`, at most 15 bytes each).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                .map(|s| s.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A streamed job decodes on a thread of its own (`sqrtspace-decode`) while the calling
/// thread evaluates (the sink sees it running), with the outputs of a decode on the calling
/// thread; a sink that fails stops it, and the thread is gone when `run` returns.
#[test]
fn streaming_decodes_on_its_own_thread_and_stops_with_the_sink() {
    if !Path::new("/proc/self/task").exists() {
        return; // thread names are read from Linux's /proc
    }
    let f = Temp::new("long.wav", &wav(8000, &tone(400_000, 8000), None));
    let config = Config::default()
        .with_window(1024)
        .with_hop(512)
        .with_mode(Mode::Sqrt);
    let mut decoder_seen = false;
    let mut digest = OutputDigest::default();
    AudioJob::new(f.path())
        .with_config(config.clone())
        .run(&planner(), &mut |_| {}, &mut |t, o| {
            digest.push(t, o);
            decoder_seen |= thread_names().iter().any(|n| n == "sqrtspace-decod");
            Ok(())
        })
        .unwrap();
    assert!(decoder_seen, "a decoder thread ran during the evaluation");
    let (signal, _) = read_all(f.path()).unwrap();
    let mut direct = OutputDigest::default();
    let params = AudioParams::new(8000);
    fused_loop(&signal, &config, &params, |t, o| direct.push(t, &o));
    assert_eq!(digest, direct, "the same outputs as decoding first");
    let mut n = 0;
    let r =
        AudioJob::new(f.path())
            .with_config(config)
            .run(&planner(), &mut |_| {}, &mut |_, _| {
                n += 1;
                if n == 10 {
                    Err(std::io::Error::other("disk full"))
                } else {
                    Ok(())
                }
            });
    assert!(r.is_err());
    assert_eq!(n, 10);
    assert!(
        !thread_names().iter().any(|n| n == "sqrtspace-decod"),
        "{:?}",
        thread_names()
    );
}
