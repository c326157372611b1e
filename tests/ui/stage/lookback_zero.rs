// Expected error: "lookback offsets must be negative: `spectrum[0]` would read the current
// window" (the current window is written `spectrum`).
use sqrtspace::stage;

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum, spectrum[0]])]
fn flux(cur: &Vec<f32>, same: Option<&Vec<f32>>) -> f32 {
    same.map_or(0.0, |s| s.len() as f32 - cur.len() as f32)
}

fn main() {}
