// Expected error: an input that names no stage in scope. rustc reports "cannot find type
// `spectrm` in this scope" with a "a struct with a similar name exists: `spectrum`" help.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrm])]
fn energy(s: &Vec<f32>) -> f32 {
    s.iter().map(|x| x * x).sum()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, energy],
    }
}

fn main() {}
