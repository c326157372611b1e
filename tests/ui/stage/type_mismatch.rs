// Expected error: mismatched types between an upstream stage's output (`Vec<f32>`) and the
// parameter it feeds (`&f32`); the message names both types.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum])]
fn energy(s: &f32) -> f32 {
    s * s
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, energy],
    }
}

fn main() {}
