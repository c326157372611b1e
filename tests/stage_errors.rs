//! Fallible stages, panicking stages, signal sessions and an injected planner.
//!
//! A stage returning `Result<T, E>` fails the evaluation with `Error::Stage { stage, window,
//! source }`; every output before the failing window has reached the sink, and the pipeline
//! goes on (pull: a later range; push: the caller skips the window or stops). A stage that
//! panics leaves the pipeline poisoned until `reset`. The planner's decisions are forced by
//! injecting the machine, and each mode agrees bit for bit with classic.

use sqrtspace::plan::{Machine, Planner};
use sqrtspace::{pipeline, stage, Checkpoints, Config, Error, Mode, Pipeline};
use std::sync::atomic::{AtomicU64, Ordering};

/// A sample that cannot be parsed: negative.
#[derive(Debug, PartialEq)]
pub struct Negative(pub f32);

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "negative sample {}", self.0)
    }
}
impl std::error::Error for Negative {}

/// The frame's first sample, refused when negative.
#[stage(inputs = [input])]
fn parse(frame: &[f32]) -> Result<f32, Negative> {
    if frame[0] < 0.0 {
        Err(Negative(frame[0]))
    } else {
        Ok(frame[0])
    }
}

/// Twice the parsed value.
#[stage(inputs = [parse])]
fn double(x: &f32) -> f32 {
    x * 2.0
}

pipeline! {
    /// A fallible stage and a pure consumer.
    struct Parse {
        stages: [parse, double],
        output: double,
    }
}

fn config(mode: Mode) -> Config {
    Config::default()
        .with_window(2)
        .with_hop(2)
        .with_mode(mode)
        .with_checkpoints(Checkpoints::Every(4))
}

/// Windows 0..20 of value t, except window 5 (negative).
fn signal() -> Vec<f32> {
    (0..40)
        .map(|i| if i / 2 == 5 { -1.0 } else { (i / 2) as f32 })
        .collect()
}

fn is_stage_error_at_5(e: &Error) -> bool {
    match e {
        Error::Stage {
            stage,
            window,
            source,
        } => {
            *stage == "parse"
                && *window == 5
                && source.downcast_ref::<Negative>() == Some(&Negative(-1.0))
        }
        _ => false,
    }
}

#[test]
fn a_failing_stage_is_a_typed_error_after_every_earlier_output() {
    let s = signal();
    for mode in [Mode::Sqrt, Mode::Classic, Mode::Auto] {
        let mut p = Parse::new(config(mode), ()).unwrap();
        let mut session = p.over(&s);
        let mut got = Vec::new();
        let e = session
            .evaluate_with::<double>(0..20, |t, o| got.push((t, o)))
            .unwrap_err();
        assert!(is_stage_error_at_5(&e), "{mode:?}: {e:?}");
        assert_eq!(
            e.to_string(),
            "stage `parse` failed at window 5: negative sample -1"
        );
        // Every window before the failing one reached the sink (classic mode delivers them
        // depth-first after its columns failed).
        assert_eq!(
            got,
            (0..5).map(|t| (t, 2.0 * t as f32)).collect::<Vec<_>>(),
            "{mode:?}"
        );
        // The session goes on: windows after the failing one evaluate.
        let after = session.evaluate::<double>(6..20).unwrap();
        assert_eq!(after, (6..20).map(|t| 2.0 * t as f32).collect::<Vec<_>>());
    }
}

#[test]
fn push_mode_delivers_everything_before_the_failure_and_the_caller_may_skip() {
    let s = signal();
    let mut p = Parse::new(config(Mode::Sqrt), ()).unwrap();
    p.push_samples(&s).unwrap();
    let before = p.pull_until(u64::MAX).unwrap();
    assert_eq!(before, (0..5).map(|t| 2.0 * t as f32).collect::<Vec<_>>());
    assert_eq!(p.next_window(), 5);
    // The next pull fails at the same window: the error is never skipped silently.
    let e = p.pull_until(u64::MAX).unwrap_err();
    assert!(is_stage_error_at_5(&e), "{e:?}");
    // Skip it and go on.
    assert_eq!(p.skip_window(), 5);
    let rest = p.pull_until(u64::MAX).unwrap();
    assert_eq!(rest, (6..20).map(|t| 2.0 * t as f32).collect::<Vec<_>>());
    assert_eq!(p.close().windows, 20);
}

#[test]
fn streaming_stops_at_the_failure_with_every_earlier_output_delivered() {
    let s = signal();
    let mut p = Parse::new(config(Mode::Sqrt), ()).unwrap();
    let mut got = Vec::new();
    let chunks = s.chunks(3).map(Ok::<_, Error>);
    let e = p.stream(chunks, |t, o| got.push((t, o))).unwrap_err();
    assert!(is_stage_error_at_5(&e), "{e:?}");
    assert_eq!(got, (0..5).map(|t| (t, 2.0 * t as f32)).collect::<Vec<_>>());
}

/// Panics at the window stored here (u64::MAX: never).
static PANIC_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// A running sum that panics at window `PANIC_AT`.
#[stage(inputs = [input])]
fn fragile(frame: &[f32], #[state] sum: &mut f64) -> f64 {
    *sum += f64::from(frame[0]);
    assert!(*sum as u64 != PANIC_AT.load(Ordering::SeqCst), "boom");
    *sum
}

pipeline! {
    /// A stateful stage that may panic.
    struct Fragile {
        stages: [fragile],
        output: fragile,
    }
}

#[test]
fn a_panicking_stage_poisons_the_pipeline_until_reset() {
    let s: Vec<f32> = vec![1.0; 40];
    let mut p = Fragile::new(config(Mode::Sqrt), ()).unwrap();
    let mut session = p.over(&s);
    PANIC_AT.store(7, Ordering::SeqCst);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        session.evaluate::<fragile>(0..20)
    }));
    assert!(caught.is_err(), "the stage panicked");
    PANIC_AT.store(u64::MAX, Ordering::SeqCst);
    let e = session.evaluate::<fragile>(0..20).unwrap_err();
    assert!(matches!(e, Error::Poisoned), "{e:?}");
    assert!(e.to_string().contains("call reset()"), "{e}");
    session.reset();
    let sums = session.evaluate::<fragile>(0..20).unwrap();
    assert_eq!(sums, (1..=20).map(f64::from).collect::<Vec<_>>());
}

/// A planner for a machine with `ram` bytes free and an LLC of `llc` bytes.
fn machine(ram: u64, llc: u64) -> Planner {
    Planner {
        machine: Machine {
            ram_available: ram,
            llc_bytes: llc,
            llc_source: "test",
        },
    }
}

/// The frame's energy.
#[stage(inputs = [input], cost = 10)]
fn energy(frame: &[f32]) -> f32 {
    frame.iter().map(|x| x * x).sum()
}

/// Energy change over 3 windows, and a running total.
#[stage(inputs = [energy, energy[-3]])]
fn change(now: &f32, before: Option<&f32>, #[state] total: &mut f32) -> f32 {
    *total += now - before.copied().unwrap_or(0.0);
    *total
}

pipeline! {
    /// Lookback onto a re-read stage and a stateful consumer.
    struct Changes {
        stages: [energy, change],
        output: change,
    }
}

/// Each of the planner's decisions, forced by the machine it is given: the mode that ran is
/// the one asserted, and its outputs equal classic's bit for bit on a random signal.
#[test]
fn auto_agrees_with_classic_through_every_planner_decision() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let s: Vec<f32> = (0..4000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            f32::from_bits((x >> 41) as u32 | 0x3f00_0000) - 1.5
        })
        .collect();
    let base = Config::default().with_window(16).with_hop(4);
    let windows = base.windows_in(s.len() as u64);
    let classic = Changes::new(base.clone().with_mode(Mode::Classic), ())
        .unwrap()
        .evaluate::<change>(&s, 0..windows)
        .unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let cases: [(&str, Config, Planner, Mode, &str); 4] = [
        (
            "fits the LLC",
            base.clone(),
            machine(1 << 40, 1 << 30),
            Mode::Classic,
            "fits 0.6 x LLC",
        ),
        (
            "fits RAM, sqrt would recompute",
            base.clone().with_lru_bytes(0),
            machine(1 << 40, 64),
            Mode::Classic,
            "would recompute",
        ),
        (
            "fits RAM, not the LLC",
            base.clone(),
            machine(1 << 40, 64),
            Mode::Sqrt,
            "sqrt is faster",
        ),
        (
            "exceeds RAM",
            base.clone(),
            machine(1024, 64),
            Mode::Sqrt,
            "exceeds half the RAM",
        ),
    ];
    for (what, c, planner, mode, why) in cases {
        let mut p =
            Pipeline::<Changes>::with_planner(c.with_mode(Mode::Auto), (), planner).unwrap();
        let got = p.evaluate::<change>(&s, 0..windows).unwrap();
        let plan = p.last_plan().unwrap();
        assert_eq!(plan.mode, mode, "{what}: {plan}");
        assert!(plan.reason.contains(why), "{what}: {}", plan.reason);
        assert_eq!(bits(&got), bits(&classic), "{what}");
    }
}

/// Zero LRU, zero checkpoints and lookback onto a stateful stage: the plan warns, with the
/// estimated recomputation.
#[test]
fn the_planner_warns_about_quadratic_replay() {
    let c = Config::default()
        .with_window(16)
        .with_hop(4)
        .with_lru_bytes(0)
        .with_checkpoint_bytes(0)
        .with_mode(Mode::Sqrt);
    let s = vec![0.5f32; 4000];
    let mut p = Pipeline::<Changes>::with_planner(c, (), machine(1 << 40, 1 << 20)).unwrap();
    let plan = p.plan::<change>(&s, 0..997).unwrap();
    // The quadratic replay, and push mode keeping the whole stream (no checkpoints).
    assert_eq!(plan.warnings.len(), 2, "{plan}");
    assert!(
        plan.warnings[0].contains("497004 stage evaluations"),
        "{plan}"
    );
    assert!(plan.warnings[1].contains("keeps every sample"), "{plan}");
    assert!(plan.to_string().contains("warning:"), "{plan}");
}

/// A state type with no serde derives: a stage may keep it whatever features are enabled
/// (`cargo test --features sqrtspace/serde --test stage_errors` builds it with `serde` on).
#[derive(Clone, Default)]
pub struct NoSerde {
    seen: u32,
}
impl sqrtspace::ByteSize for NoSerde {}

/// Counts windows in a state that cannot be serialised.
#[stage(inputs = [input])]
fn counted(_frame: &[f32], #[state] s: &mut NoSerde) -> u32 {
    s.seen += 1;
    s.seen
}

pipeline! {
    /// A stateful stage whose state has no serde derives.
    struct Counted {
        stages: [counted],
        output: counted,
    }
}

#[test]
fn the_serde_feature_puts_no_bound_on_stage_state() {
    let s = vec![0.0f32; 40];
    let mut p = Counted::new(config(Mode::Sqrt), ()).unwrap();
    assert_eq!(
        p.evaluate::<counted>(&s, 0..20).unwrap(),
        (1..=20).collect::<Vec<_>>()
    );
}

/// `?` on an I/O error works in a function returning `sqrtspace::Error` (a user's `main`).
#[test]
fn io_errors_convert_with_question_mark() {
    fn open() -> Result<std::fs::File, Error> {
        Ok(std::fs::File::open("/nonexistent/sqrtspace-input.raw")?)
    }
    let e = open().unwrap_err();
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert!(e.to_string().starts_with("I/O error: "), "{e}");
}
