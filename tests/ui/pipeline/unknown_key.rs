// Expected error: "unknown key `stagse` in pipeline!" with "help: did you mean `stages`?".
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

pipeline! {
    pub struct Audio {
        stagse: [spectrum],
    }
}

fn main() {}
