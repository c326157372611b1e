// Expected errors: an `#[out]` stage that also returns a value (`-> f32`), and one that returns
// `Result<f32, E>` instead of `Result<(), E>`: the output is the buffer, so the function returns
// `()` (or `Result<(), E>`); each on the return type, naming the output type.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn squares(frame: &[f32], #[out] out: &mut Vec<f32>) -> f32 {
    out.clear();
    out.extend(frame.iter().map(|x| x * x));
    out.iter().sum()
}

#[stage(inputs = [input])]
fn cubes(frame: &[f32], #[out] out: &mut Vec<f32>) -> Result<f32, std::fmt::Error> {
    out.clear();
    out.extend(frame.iter().map(|x| x * x * x));
    Ok(out.iter().sum())
}

pipeline! {
    pub struct Audio {
        stages: [squares, cubes],
        output: [squares, cubes],
    }
}

fn main() {}
