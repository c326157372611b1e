//! Regressions of the engine's promises (issues 9 and 10), written against the API that both
//! the old and the new engine have, so each can be run against the old code to show it
//! failing: a signal's identity is not its address; bad ranges and sizes are typed errors
//! checked before anything is allocated; the LRU's accounting survives re-admission.

use sqrtspace::cache::Lru;
use sqrtspace::{pipeline, stage, Checkpoints, Config, Mode};

/// The frame's first sample plus its last.
#[stage(inputs = [input])]
fn ends(frame: &[f32]) -> f32 {
    frame[0] + frame[frame.len() - 1]
}

/// The change since the previous window (reads `ends` twice: cached in the LRU).
#[stage(inputs = [ends, ends[-1]])]
fn step(now: &f32, before: Option<&f32>) -> f32 {
    before.map_or(*now, |b| now - b)
}

pipeline! {
    /// A lookback over a pure stage.
    struct Steps {
        stages: [ends, step],
        output: step,
    }
}

fn config() -> Config {
    Config::default()
        .with_window(8)
        .with_hop(4)
        .with_checkpoints(Checkpoints::Every(4))
}

/// Evaluate, drop the signal, allocate a different one of the same length (the allocator
/// hands out the freed block again), evaluate again: equal to a fresh classic run.
#[test]
fn a_new_signal_at_a_dropped_signals_address_gets_its_own_outputs() {
    let c = config().with_mode(Mode::Sqrt);
    let mut p = Steps::new(c.clone(), ()).unwrap();
    let n = 4096usize;
    let windows = c.windows_in(n as u64);
    let (mut reused, mut wrong) = (0, 0);
    let mut last = None;
    for i in 0..40u32 {
        let signal: Vec<f32> = (0..n as u32)
            .map(|j| ((j * 7 + i * 13) % 101) as f32)
            .collect();
        let at = signal.as_ptr() as usize;
        reused += usize::from(last == Some(at));
        last = Some(at);
        let got = p.evaluate::<step>(&signal, 0..windows).unwrap();
        let fresh = Steps::new(c.clone().with_mode(Mode::Classic), ())
            .unwrap()
            .evaluate::<step>(&signal, 0..windows)
            .unwrap();
        wrong += usize::from(
            got.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                != fresh.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        );
    }
    assert!(
        reused > 0,
        "the allocator never reused an address: the test proves nothing"
    );
    assert_eq!(
        wrong, 0,
        "{wrong} of 40 evaluations returned another signal's outputs ({reused} address reuses)"
    );
}

/// `evaluate(0..1 << 40)` and `0..u64::MAX` are range errors, checked before the result vector
/// is allocated (the old engine aborted allocating 2^40 outputs, or panicked on capacity
/// overflow).
#[test]
fn huge_ranges_are_range_errors_before_allocating() {
    let signal = vec![1.0f32; 64];
    for mode in [Mode::Sqrt, Mode::Classic, Mode::Auto] {
        let mut p = Steps::new(config().with_mode(mode), ()).unwrap();
        for end in [1u64 << 40, u64::MAX] {
            let e = p.evaluate::<step>(&signal, 0..end).unwrap_err();
            assert!(
                e.to_string().contains("past the end"),
                "{mode:?} 0..{end}: {e}"
            );
        }
    }
}

/// `input_buffer_blocks x window` overflowing `usize` is a configuration error (the old
/// validation accepted it, and the product wrapped so that every push was refused).
#[test]
fn an_input_buffer_that_overflows_is_a_config_error() {
    let c = Config::default()
        .with_window(usize::MAX / 2)
        .with_hop(1)
        .with_input_buffer_blocks(64);
    assert!(c.validate().is_err(), "accepted {c:?}");
    assert!(Steps::new(c, ()).is_err());
}

/// `stream_reader` with a window of 2^32 samples reads a short stream without allocating
/// its read buffer for half the input buffer (512 GiB in the old engine).
#[test]
fn stream_reader_with_a_huge_window_allocates_only_what_arrives() {
    let c = Config::default().with_window(1 << 32).with_hop(1 << 32);
    let mut p = Steps::new(c, ()).unwrap();
    let bytes = [0u8; 64];
    let end = p.stream_reader(&bytes[..], |_, _| ()).unwrap();
    assert_eq!((end.samples, end.windows), (16, 0));
}

/// Re-admitting a key the LRU holds replaces it, in release builds too (the old check was a
/// `debug_assert!`, and release builds double-counted the bytes).
#[test]
fn lru_re_admission_keeps_the_accounting() {
    let mut lru = Lru::new(100);
    assert!(lru.admit((0, 0), 40, 0, |_| {}));
    assert!(
        lru.admit((0, 0), 30, 0, |_| {}),
        "re-admission replaces the entry"
    );
    assert_eq!((lru.len(), lru.bytes()), (1, 30));
}

/// Push mode keeps no output that nobody can read again: after pulling every window, the
/// LRU holds only what the next window's lookback reads (the old engine kept every emitted
/// window's outputs until the LRU budget evicted them).
#[test]
fn push_mode_keeps_no_output_nobody_can_read_again() {
    let c = config().with_mode(Mode::Sqrt).with_lru_bytes(1 << 24);
    let mut p = Steps::new(c, ()).unwrap();
    let signal: Vec<f32> = (0..4000).map(|i| (i % 13) as f32).collect();
    for chunk in signal.chunks(100) {
        p.push_samples(chunk).unwrap();
        p.pull_until(u64::MAX).unwrap();
    }
    let next = p.windows_available();
    let stale: Vec<_> = p.lru().keys().filter(|&(_, t)| t + 1 < next).collect();
    assert!(
        stale.is_empty(),
        "{} outputs before window {} are still cached, e.g. {:?}",
        stale.len(),
        next - 1,
        &stale[..stale.len().min(3)]
    );
}
