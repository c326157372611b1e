// Expected error: an `#[out]` output type without `Default` (the buffer handed over while the
// pool is empty): the library's `StageBuffer` message, at the type.
use sqrtspace::{pipeline, stage, ByteSize};

#[derive(Clone)]
struct Peaks {
    values: Vec<f32>,
}

impl ByteSize for Peaks {}

#[stage(inputs = [input])]
fn peaks(frame: &[f32], #[out] out: &mut Peaks) {
    out.values.clear();
    out.values.extend(frame.iter().copied().filter(|x| *x > 0.5));
}

pipeline! {
    pub struct Audio {
        stages: [peaks],
    }
}

fn main() {}
