// Expected error: a stage's `#[params]` type (`Gain`) differs from the pipeline's `params:`
// type (`Threshold`); the message names both types.
use sqrtspace::{pipeline, stage};

pub struct Gain {
    pub db: f32,
}

pub struct Threshold {
    pub level: f32,
}

#[stage(inputs = [input])]
fn level(frame: &[f32], #[params] g: &Gain) -> f32 {
    frame.iter().sum::<f32>() * g.db
}

pipeline! {
    pub struct Levels {
        params: Threshold,
        stages: [level],
    }
}

fn main() {}
