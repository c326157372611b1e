// Expected errors: only the pipeline-level mistakes ("output `energi` is not one of the
// pipeline's stages", "stage `spectrum` is listed twice"). The uses of the pipelines below
// (`new`, `evaluate`, `push_samples`) report nothing more: no E0599 "no function named `new`".
use sqrtspace::{pipeline, stage, Config};

#[stage(inputs = [input])]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum])]
fn energy(s: &Vec<f32>) -> f32 {
    s.iter().map(|x| x * x).sum()
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, energy],
        output: energi,
    }
}

pipeline! {
    pub struct Twice {
        stages: [spectrum, energy, spectrum],
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let mut p = Audio::new(Config::default(), ())?;
    let e: Vec<f32> = p.evaluate::<energy>(&[0.0; 4096], 0..1)?;
    p.push_samples(&[0.0; 16])?;
    let mut q = Twice::new(Config::default(), ())?;
    let f: Vec<f32> = q.evaluate::<energy>(&[0.0; 4096], 0..1)?;
    let _ = (e, f);
    Ok(())
}
