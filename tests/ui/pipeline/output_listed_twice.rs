// Expected errors: "output `energy` is listed twice" on the second `energy`, and
// "`output: []` names no stage" on the empty list of the second pipeline.
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
        stages: [spectrum, energy],
        output: [spectrum, energy, energy],
    }
}

pipeline! {
    pub struct Nothing {
        stages: [spectrum, energy],
        output: [],
    }
}

fn main() {}
