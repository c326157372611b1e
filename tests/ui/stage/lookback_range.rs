// Expected error: a lookback over a range (`level[-60..]`) is not supported; the message says
// why and shows how to keep the last 60 values in the stage's state instead.
use sqrtspace::stage;

#[stage(inputs = [input])]
fn level(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

#[stage(inputs = [level[-60..]])]
fn rolling_mean(last: &[f32]) -> f32 {
    last.iter().sum::<f32>() / last.len() as f32
}

fn main() {}
