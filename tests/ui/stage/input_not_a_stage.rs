// Expected error: a plain function (`hann`, no `#[stage]`) used as an input: one error on the
// entry in `inputs` (rustc's "expected type, found function `hann`": stages are named by the
// hidden type `#[stage]` generates, so this resolution error is the one rustc gives), and no
// follow-on errors from the generated code.
use sqrtspace::{pipeline, stage};

fn hann(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [hann])]
fn energy(s: &Vec<f32>) -> f32 {
    s.iter().map(|x| x * x).sum()
}

pipeline! {
    pub struct Audio {
        stages: [energy],
    }
}

fn main() {}
