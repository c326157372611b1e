// Expected error: "`init` sets the initial state, but the function has no `#[state]`
// parameter", pointing at the `init` path.
use sqrtspace::{pipeline, stage};

fn zero() -> f32 {
    0.0
}

#[stage(inputs = [input], init = zero)]
fn level(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

pipeline! {
    pub struct Audio {
        stages: [level],
    }
}

fn main() {}
