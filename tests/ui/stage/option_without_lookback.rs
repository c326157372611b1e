// Expected error: an `Option<&T>` parameter for an input read at the current window ("`level`
// is read at the current window, which always exists"), with a help line naming both fixes:
// take `&T`, or read `level[-1]`.
use sqrtspace::stage;

#[stage(inputs = [input])]
fn level(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

#[stage(inputs = [level])]
fn delta(prev: Option<&f32>) -> f32 {
    prev.copied().unwrap_or(0.0)
}

fn main() {}
