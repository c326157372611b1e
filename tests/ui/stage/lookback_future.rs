// Expected error: "lookback offsets must be negative: `spectrum[1]` would read a future window".
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum, spectrum[1]])]
fn flux(cur: &Vec<f32>, next: Option<&Vec<f32>>) -> f32 {
    next.map_or(0.0, |n| n.len() as f32 - cur.len() as f32)
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, flux],
    }
}

fn main() {}
