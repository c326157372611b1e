// Expected error: a malformed `#[stage]` attribute (`inputs` is not a bracketed list).
use sqrtspace::stage;

#[stage(inputs = input)]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

fn main() {}
