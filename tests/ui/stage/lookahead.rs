// Expected error: a lookahead `level[+1]` ("a lookback reads an earlier window: `level[+1]`
// would read a future one"), with a help line naming the fix: read `level` or `level[-1]`, and
// let the later window's stage look back.
use sqrtspace::stage;

#[stage(inputs = [input])]
fn level(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

#[stage(inputs = [level, level[+1]])]
fn rise(now: &f32, next: Option<&f32>) -> f32 {
    next.map_or(0.0, |n| n - now)
}

fn main() {}
