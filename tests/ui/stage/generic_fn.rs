// Expected error: "generic stages are not supported", pointing at the generic parameters.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn spectrum<T: Copy + Into<f64>>(frame: &[T]) -> Vec<f64> {
    frame.iter().map(|&x| x.into()).collect()
}

// Reads the broken stage: no secondary error, the fallback keeps its (concrete) output type.
#[stage(inputs = [spectrum])]
fn energy(s: &Vec<f64>) -> f64 {
    s.iter().map(|x| x * x).sum()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, energy],
    }
}

fn main() {}
