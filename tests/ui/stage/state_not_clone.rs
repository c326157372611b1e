// Expected error: "`Smoother` cannot be a stage's state: checkpoints clone it, so it must
// implement Clone", pointing at the state type.
use sqrtspace::{pipeline, stage, ByteSize};

#[derive(Default)]
struct Smoother {
    value: f32,
}

impl ByteSize for Smoother {}

#[stage(inputs = [input])]
fn smooth(frame: &[f32], #[state] s: &mut Smoother) -> f32 {
    s.value = 0.9 * s.value + 0.1 * frame.iter().sum::<f32>();
    s.value
}

pipeline! {
    pub struct Audio {
        stages: [smooth],
    }
}

fn main() {}
