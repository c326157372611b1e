// Expected error: a stage next to a `mod` of the same name: one "defined multiple times" error
// at the stage's name (a stage's marker type shares the function's name), no follow-ons.
use sqrtspace::stage;

mod energy {}

#[stage(inputs = [input])]
fn energy(frame: &[f32]) -> f32 {
    frame.iter().map(|x| x * x).sum()
}

fn main() {
    let _ = energy(&[1.0]);
}
