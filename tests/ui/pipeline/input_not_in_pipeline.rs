// Expected error: "stage `spectrum` is not part of pipeline `Audio`" (the `Has<S>`
// on_unimplemented bound), with a note to add it to `stages: [...]`.
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
        stages: [energy],
        output: energy,
    }
}

fn main() {}
