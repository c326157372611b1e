// Expected error: "unknown key `imputs` in #[stage]" with "help: did you mean `inputs`?".
use sqrtspace::stage;

#[stage(imputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

fn main() {}
