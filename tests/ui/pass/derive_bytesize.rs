// `#[derive(ByteSize)]` on a state struct and an output enum, and std collections
// (`HashMap`, `VecDeque`, tuples) as outputs and state, in one pipeline.
use sqrtspace::{pipeline, stage, ByteSize, Config};
use std::collections::{HashMap, VecDeque};

#[derive(Clone, Default, ByteSize)]
pub struct Rolling {
    last: VecDeque<f32>,
}

#[derive(Clone, Debug, PartialEq, ByteSize)]
pub enum Level {
    Quiet,
    Loud { peak: f32, label: String },
}

#[stage(inputs = [input])]
fn mean(frame: &[f32], #[state] r: &mut Rolling) -> f32 {
    if r.last.len() == 3 {
        r.last.pop_front();
    }
    r.last.push_back(frame.iter().sum::<f32>() / frame.len() as f32);
    r.last.iter().sum::<f32>() / r.last.len() as f32
}

#[stage(inputs = [mean])]
fn level(m: &f32) -> (Level, HashMap<String, f32>) {
    let level = if *m > 1.0 {
        Level::Loud { peak: *m, label: "loud".into() }
    } else {
        Level::Quiet
    };
    (level, HashMap::from([("mean".to_string(), *m)]))
}

pipeline! {
    struct Levels {
        stages: [mean, level],
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let signal: Vec<f32> = (0..40).map(|i| (i / 10) as f32).collect();
    let mut p = Levels::new(Config::default().with_window(10).with_hop(10), ())?;
    let out = p.evaluate::<level>(&signal, 0..4)?;
    assert_eq!(out[0].0, Level::Quiet);
    assert_eq!(out[3].1["mean"], 2.0);
    assert!(Rolling::default().byte_size() > 0);
    Ok(())
}
