// A complete pipeline: params, state with `init = path`, default-initialised state, lookback,
// evaluated in both modes.
use sqrtspace::{pipeline, stage, ByteSize, Config, Mode};

pub struct Params {
    pub gain: f32,
}

#[derive(Clone)]
pub struct Smoother {
    alpha: f32,
    value: f32,
}

impl Smoother {
    fn new() -> Self {
        Smoother { alpha: 0.5, value: 0.0 }
    }
}

impl ByteSize for Smoother {}

#[stage(inputs = [input], cost = 10)]
fn spectrum(frame: &[f32], #[params] p: &Params) -> Vec<f32> {
    frame.iter().map(|x| x * p.gain).collect()
}

#[stage(inputs = [spectrum, spectrum[-1]])]
fn flux(cur: &Vec<f32>, prev: Option<&Vec<f32>>) -> f32 {
    match prev {
        Some(prev) => cur.iter().zip(prev).map(|(a, b)| (a - b).max(0.0)).sum(),
        None => 0.0,
    }
}

#[stage(inputs = [flux], init = Smoother::new)]
fn smooth(f: &f32, #[state] s: &mut Smoother) -> f32 {
    s.value = s.alpha * f + (1.0 - s.alpha) * s.value;
    s.value
}

#[stage(inputs = [smooth, flux])]
fn count(_s: &f32, f: &f32, #[state] n: &mut u64) -> u64 {
    if *f > 0.0 {
        *n += 1;
    }
    *n
}

pipeline! {
    /// Onset-ish features of a signal.
    pub struct Audio {
        sample: f32,
        params: Params,
        stages: [spectrum, flux, smooth, count],
        output: smooth,
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let signal: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.05).sin()).collect();
    let config = Config::default().with_window(256).with_hop(128);
    let mut sqrt = Audio::new(config.clone().with_mode(Mode::Sqrt), Params { gain: 2.0 })?;
    let mut classic = Audio::new(config.with_mode(Mode::Classic), Params { gain: 2.0 })?;
    let a = sqrt.evaluate::<smooth>(&signal, 0..20)?;
    let b = classic.evaluate::<smooth>(&signal, 0..20)?;
    assert_eq!(a, b);
    let n = sqrt.evaluate::<count>(&signal, 0..20)?;
    assert_eq!(n.len(), 20);
    assert_eq!(Audio::STAGE_NAMES, ["spectrum", "flux", "smooth", "count"]);
    Ok(())
}
