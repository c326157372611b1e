// Expected error: a `&mut` parameter without `#[state]` ("state parameter without a state
// declaration"), with a help suggesting `#[state]`.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn level(frame: &[f32], acc: &mut f32) -> f32 {
    *acc += frame.iter().sum::<f32>();
    *acc
}

// Reads the broken stage: no secondary error, the fallback keeps `level`'s output type.
#[stage(inputs = [level])]
fn doubled(l: &f32) -> f32 {
    l * 2.0
}

pipeline! {
    pub struct Audio {
        stages: [level, doubled],
    }
}

fn main() {}
