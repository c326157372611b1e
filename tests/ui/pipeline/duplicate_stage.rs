// Expected error: "stage `spectrum` is listed twice in pipeline `Audio`", pointing at the
// second entry.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum])]
fn energy(s: &Vec<f32>) -> f32 {
    s.iter().map(|x| x * x).sum()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, energy, spectrum],
        output: energy,
    }
}

fn main() {}
