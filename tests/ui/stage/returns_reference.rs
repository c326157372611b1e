// Expected error: "stage `first_half` returns a reference (`&[f32]`)", with a help line that
// names the owned type to return instead (`Vec<f32>`).
use sqrtspace::stage;

#[stage(inputs = [input])]
fn first_half(frame: &[f32]) -> &[f32] {
    &frame[..frame.len() / 2]
}

fn main() {}
