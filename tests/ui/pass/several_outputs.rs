// Several output stages: push and stream calls emit the tuple of their outputs per window.
use sqrtspace::{pipeline, stage, Config};

#[stage(inputs = [input])]
fn peak(frame: &[f32]) -> f32 {
    frame.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[stage(inputs = [peak])]
fn loud(p: &f32) -> bool {
    *p > 0.5
}

pipeline! {
    struct Meter {
        stages: [peak, loud],
        output: [loud, peak],
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let signal: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
    let mut p = Meter::new(Config::default().with_window(10).with_hop(10), ())?;
    p.push_samples(&signal)?;
    let out: Vec<(bool, f32)> = p.pull_until(u64::MAX)?;
    assert_eq!(out.len(), 10);
    assert_eq!(out[9], (true, 0.99));
    assert_eq!(out[0], (false, 0.09));
    Ok(())
}
