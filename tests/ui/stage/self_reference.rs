// Expected error: "stage `smooth` cannot read its own output", with a help pointing to
// `#[state]`.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input, smooth[-1]])]
fn smooth(frame: &[f32], prev: Option<&f32>) -> f32 {
    0.9 * prev.copied().unwrap_or(0.0) + 0.1 * frame.iter().sum::<f32>()
}

pipeline! {
    pub struct Audio {
        stages: [smooth],
    }
}

fn main() {}
