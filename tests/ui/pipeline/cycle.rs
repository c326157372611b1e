// Expected error: const evaluation fails with "pipeline `Loop` has a cycle: `a -> b -> a`",
// pointing at the pipeline's `stages` list.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input, b[-1]])]
fn a(frame: &[f32], prev: Option<&f32>) -> f32 {
    frame.iter().sum::<f32>() + prev.copied().unwrap_or(0.0)
}

#[stage(inputs = [a])]
fn b(x: &f32) -> f32 {
    x * 0.5
}

pipeline! {
    pub struct Loop {
        stages: [a, b],
    }
}

fn main() {}
