// Expected error: `inputs` lists more entries than the function takes input parameters
// ("stage `flux` lists 2 inputs but takes 1 input parameter").
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum, spectrum[-1]])]
fn flux(cur: &Vec<f32>) -> f32 {
    cur.iter().sum()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, flux],
    }
}

fn main() {}
