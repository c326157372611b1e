// Expected error: a stage reads frames of `f64` samples but the pipeline's `sample:` type is
// `f32`; the message names both types.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn level(frame: &[f64]) -> f64 {
    frame.iter().sum()
}

pipeline! {
    pub struct Levels {
        sample: f32,
        stages: [level],
    }
}

fn main() {}
