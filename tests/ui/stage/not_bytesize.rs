// Expected error: a stage output type (`Peak`) and a state type (`Accumulator`) that do not
// implement `sqrtspace::ByteSize`: the library's message ("`Peak` does not implement
// `sqrtspace::ByteSize`, which the engine needs to count the bytes ...") with a note naming
// `#[derive(sqrtspace::ByteSize)]`, each reported once at the type, and nothing at the pipeline.
use sqrtspace::{pipeline, stage};

#[derive(Clone)]
pub struct Peak {
    pub value: f32,
}

#[stage(inputs = [input])]
fn peak(frame: &[f32]) -> Peak {
    Peak { value: frame.iter().copied().fold(f32::MIN, f32::max) }
}

#[stage(inputs = [input])]
fn level(frame: &[f32], #[state] acc: &mut Accumulator) -> f32 {
    acc.sum += frame.iter().sum::<f32>();
    acc.sum
}

// Clone but not ByteSize: the same error for a state type.
#[derive(Clone, Default)]
pub struct Accumulator {
    sum: f32,
}

pipeline! {
    pub struct Audio {
        stages: [peak, level],
        output: [peak, level],
    }
}

fn main() {}
