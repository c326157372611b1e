// Expected error: "a lookback input is `Option<&T>`", pointing at the parameter type that
// receives `spectrum[-1]`.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum, spectrum[-1]])]
fn flux(cur: &Vec<f32>, prev: &Vec<f32>) -> f32 {
    cur.iter().zip(prev).map(|(a, b)| a - b).sum()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, flux],
    }
}

fn main() {}
