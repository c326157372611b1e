// Expected error: `inputs` lists fewer entries than the function takes input parameters
// ("stage `flux` lists 1 input but takes 2 input parameters").
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum])]
fn flux(cur: &Vec<f32>, prev: &Vec<f32>) -> f32 {
    cur.iter().zip(prev).map(|(a, b)| a - b).sum()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, flux],
    }
}

fn main() {}
