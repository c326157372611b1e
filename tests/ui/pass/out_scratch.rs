// `#[out]` stages returning `()` and `Result<(), E>` (the exception to "a stage returning `()`
// is rejected"), a `#[scratch]` parameter beside `#[state]` and `#[params]`, and a downstream
// stage reading an `#[out]` output as `&[T]` and as a lookback.
use sqrtspace::{pipeline, stage, Config};

#[stage(inputs = [input])]
fn squares(frame: &[f32], #[out] out: &mut Vec<f32>) {
    out.clear();
    out.extend(frame.iter().map(|x| x * x));
}

#[derive(Debug)]
struct Empty;

impl std::fmt::Display for Empty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("empty frame")
    }
}

impl std::error::Error for Empty {}

#[stage(inputs = [squares])]
fn scaled(x: &[f32], #[params] g: &f32, #[out] out: &mut Vec<f32>) -> Result<(), Empty> {
    if x.is_empty() {
        return Err(Empty);
    }
    out.clear();
    out.extend(x.iter().map(|v| v * g));
    Ok(())
}

#[stage(inputs = [scaled, scaled[-1]])]
fn change(
    now: &[f32],
    before: Option<&Vec<f32>>,
    #[scratch] tmp: &mut Vec<f32>,
    #[state] total: &mut f32,
) -> f32 {
    tmp.clear();
    tmp.extend(now.iter().zip(before.into_iter().flatten()).map(|(a, b)| a - b));
    *total += tmp.iter().sum::<f32>();
    *total
}

pipeline! {
    /// The pipeline.
    pub struct Audio {
        params: f32,
        stages: [squares, scaled, change],
        output: change,
    }
}

fn main() {
    let c = Config::default().with_window(4).with_hop(2);
    let out = Audio::new(c, 2.0)
        .unwrap()
        .evaluate::<change>(&[1.0; 16], 0..7)
        .unwrap();
    assert_eq!(out.len(), 7);
}
