// Expected error: an `init` function whose type differs from the state: rustc's "mismatched
// types", naming both (`expected `Smoother`, found `f32``), pointing at the `init` path.
use sqrtspace::{stage, ByteSize};

#[derive(Clone, Default, ByteSize)]
pub struct Smoother {
    level: f32,
}

fn start() -> f32 {
    0.0
}

#[stage(inputs = [input], init = start)]
fn smooth(frame: &[f32], #[state] s: &mut Smoother) -> f32 {
    s.level = 0.9 * s.level + 0.1 * frame[0];
    s.level
}

fn main() {}
