// Expected error: a malformed `pipeline!` body (`stages` is not a bracketed list).
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn level(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

pipeline! {
    pub struct Levels {
        stages: level,
    }
}

fn main() {}
