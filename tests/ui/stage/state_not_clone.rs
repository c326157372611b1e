// Expected error: a state type that is not `Clone`: rustc's "the trait bound `Smoother: Clone`
// is not satisfied" (the failing bound is std's `Clone`, so the library's `StageState`
// message does not apply), pointing at the state type, with rustc's help to add
// `#[derive(Clone)]`; reported once.
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
