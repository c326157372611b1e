// Expected error: no `output:` and two sinks (`energy` and `peak`, stages no other stage
// reads): "pipeline `Audio` has no `output:` and several sinks ...: `energy`, `peak`", with a
// help line to name the output. Without the check the last listed stage would be emitted.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum])]
fn energy(s: &Vec<f32>) -> f32 {
    s.iter().map(|x| x * x).sum()
}

#[stage(inputs = [spectrum])]
fn peak(s: &Vec<f32>) -> f32 {
    s.iter().copied().fold(0.0, f32::max)
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, energy, peak],
    }
}

fn main() {}
