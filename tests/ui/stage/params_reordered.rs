// Expected error: parameters named like the inputs but in another order ("parameter `rms` is
// bound to input 1 (`peak`)"), with a help line that shows the reordered list:
// `inputs = [rms, peak]`. Without it the two values would be silently swapped.
use sqrtspace::stage;

#[stage(inputs = [input])]
fn peak(frame: &[f32]) -> f32 {
    frame.iter().copied().fold(0.0, f32::max)
}

#[stage(inputs = [input])]
fn rms(frame: &[f32]) -> f32 {
    (frame.iter().map(|x| x * x).sum::<f32>() / frame.len() as f32).sqrt()
}

#[stage(inputs = [peak, rms])]
fn crest(rms: &f32, peak: &f32) -> f32 {
    peak / rms
}

fn main() {}
