// Without `output:`, the pipeline emits its unique sink (the stage no other stage reads), even
// when that stage is not the last one listed. Also: a pipeline named `S` and a stage named `t`
// compile (the generated code's own names do not shadow them).
use sqrtspace::{pipeline, stage, Config};

#[stage(inputs = [input])]
fn level(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

#[stage(inputs = [level, level[-1]])]
fn t(now: &f32, prev: Option<&f32>) -> f64 {
    f64::from(now - prev.copied().unwrap_or(0.0))
}

pipeline! {
    struct S {
        stages: [t, level],
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let signal: Vec<f32> = (0..40).map(|i| i as f32).collect();
    let mut p = S::new(Config::default().with_window(10).with_hop(10), ())?;
    p.push_samples(&signal)?;
    // `t` (f64) is emitted, not `level` (f32), the last listed stage.
    let out: Vec<f64> = p.pull_until(4)?;
    assert_eq!(out, vec![45.0, 100.0, 100.0, 100.0]);
    Ok(())
}
