// `init = f(params)`: a stateful stage's initial state built from the pipeline's params
// (`fn(&P) -> S`), beside `init = f` (`fn() -> S`) and the default.
use sqrtspace::{pipeline, stage, ByteSize, Config};

pub struct Smoothing {
    pub alpha: f32,
    pub start: f32,
}

#[derive(Clone, ByteSize)]
pub struct Ema {
    alpha: f32,
    level: f32,
}

impl Ema {
    fn from_params(p: &Smoothing) -> Self {
        Ema { alpha: p.alpha, level: p.start }
    }
}

fn zero() -> f32 {
    0.0
}

#[stage(inputs = [input], init = Ema::from_params(params))]
fn ema(frame: &[f32], #[state] s: &mut Ema, #[params] _p: &Smoothing) -> f32 {
    s.level += s.alpha * (frame[0] - s.level);
    s.level
}

#[stage(inputs = [ema], init = zero)]
fn total(x: &f32, #[state] acc: &mut f32) -> f32 {
    *acc += x;
    *acc
}

pipeline! {
    pub struct Smooth {
        params: Smoothing,
        stages: [ema, total],
    }
}

fn main() {
    let mut p = Smooth::new(Config::default().with_window(1).with_hop(1), Smoothing { alpha: 0.5, start: 2.0 }).unwrap();
    assert_eq!(p.evaluate::<ema>(&[0.0, 0.0], 0..2).unwrap(), [1.0, 0.5]);
}
