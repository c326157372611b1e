// Expected error: two `#[out]` parameters ("at most one #[out] parameter"), on the second,
// with a help to bundle the values into one output.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn split(frame: &[f32], #[out] lo: &mut Vec<f32>, #[out] hi: &mut Vec<f32>) {
    lo.clear();
    hi.clear();
    lo.extend(frame.iter().filter(|x| **x < 0.0));
    hi.extend(frame.iter().filter(|x| **x >= 0.0));
}

pipeline! {
    pub struct Audio {
        stages: [split],
    }
}

fn main() {}
