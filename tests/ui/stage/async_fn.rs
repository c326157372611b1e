// Expected error: "a stage cannot be async", pointing at `async`.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
async fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum],
    }
}

fn main() {}
