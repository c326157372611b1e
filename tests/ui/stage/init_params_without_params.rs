// Expected error: "`init = f(params)` passes the pipeline's params to `f`, but the stage takes
// no `#[params]` parameter that says their type", pointing at `params`.
use sqrtspace::stage;

pub struct Smoothing {
    pub start: f32,
}

fn start(p: &Smoothing) -> f32 {
    p.start
}

#[stage(inputs = [input], init = start(params))]
fn smooth(frame: &[f32], #[state] s: &mut f32) -> f32 {
    *s = 0.9 * *s + 0.1 * frame[0];
    *s
}

fn main() {}
