// Expected error: a `#[scratch]` type without `Default` (each thread starts from
// `Default::default()`): the library's `StageScratch` message, at the type. Also two
// `#[scratch]` parameters in one stage ("at most one #[scratch] parameter").
use sqrtspace::{pipeline, stage};

struct Fft {
    buffer: Vec<f32>,
}

#[stage(inputs = [input])]
fn level(frame: &[f32], #[scratch] fft: &mut Fft) -> f32 {
    fft.buffer.clear();
    fft.buffer.extend_from_slice(frame);
    fft.buffer.iter().sum()
}

#[stage(inputs = [input])]
fn peak(frame: &[f32], #[scratch] a: &mut Vec<f32>, #[scratch] b: &mut Vec<f32>) -> f32 {
    let _ = (a, b);
    frame.iter().copied().fold(0.0, f32::max)
}

pipeline! {
    pub struct Audio {
        stages: [level, peak],
        output: [level, peak],
    }
}

fn main() {}
