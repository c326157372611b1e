// Expected errors: `#[out]` and `#[scratch]` parameters that are not `&mut` (a shared reference,
// a value), each on its type, with the form to write.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn squares(frame: &[f32], #[out] out: &Vec<f32>) {
    let _ = (frame, out);
}

#[stage(inputs = [input])]
fn level(frame: &[f32], #[scratch] tmp: Vec<f32>) -> f32 {
    let _ = tmp;
    frame.iter().sum()
}

pipeline! {
    pub struct Audio {
        stages: [squares, level],
        output: [squares, level],
    }
}

fn main() {}
