// Expected errors: "stage `log_level` returns nothing" and "stage `log_peak` returns `()`":
// a stage runs a mode-dependent number of times (recomputation, cached outputs), so a side
// effect belongs on the pipeline's output; the help says so.
use sqrtspace::{pipeline, stage, Config};

#[stage(inputs = [input])]
fn log_level(frame: &[f32]) {
    println!("{}", frame.iter().sum::<f32>());
}

#[stage(inputs = [input])]
fn log_peak(frame: &[f32]) -> () {
    println!("{}", frame.iter().copied().fold(f32::MIN, f32::max));
}

pipeline! {
    pub struct Logger {
        stages: [log_level, log_peak],
        output: [log_level, log_peak],
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let mut p = Logger::new(Config::default(), ())?;
    p.evaluate::<log_level>(&[0.0; 4096], 0..1)?;
    Ok(())
}
