//! A pipeline in this crate made of stages defined in another crate of the workspace.

use sqrtspace::{pipeline, stage, Config, Mode};
use sqrtspace_test_stages::{frame_sum, nested::running_total, scaled_sum, Scale};

/// A local stage reading a stage from the other crate, with lookback.
#[stage(inputs = [running_total, running_total[-1]])]
fn increment(now: &f64, before: Option<&f64>) -> f64 {
    now - before.copied().unwrap_or(0.0)
}

pipeline! {
    /// Stages from `sqrtspace-test-stages` plus a local one.
    struct Mixed {
        sample: f32,
        params: Scale,
        stages: [frame_sum, scaled_sum, running_total, increment],
        output: increment,
    }
}

#[test]
fn stages_from_another_crate_run_in_every_mode() {
    let signal: Vec<f32> = (0..200).map(|i| (i % 7) as f32).collect();
    let config = Config::default().with_window(8).with_hop(4);
    let windows = config.windows_in(signal.len() as u64);
    let mut outs = Vec::new();
    for mode in [Mode::Classic, Mode::Sqrt, Mode::Auto] {
        let mut p = Mixed::new(config.clone().with_mode(mode), Scale { gain: 0.5 }).unwrap();
        outs.push(p.evaluate::<increment>(&signal, 0..windows).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
    // increment = scaled frame sum, by construction.
    let expected: Vec<f64> = (0..windows as usize)
        .map(|t| f64::from(signal[t * 4..t * 4 + 8].iter().sum::<f32>() * 0.5))
        .collect();
    assert_eq!(outs[0], expected);
    assert_eq!(
        Mixed::STAGE_NAMES,
        ["frame_sum", "scaled_sum", "running_total", "increment"]
    );
}
