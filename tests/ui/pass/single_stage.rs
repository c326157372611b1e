// A pipeline with a single stage and no `output:` key (the last stage is the output).
use sqrtspace::{pipeline, stage, Config};

#[stage(inputs = [input])]
fn rms(frame: &[f32]) -> f32 {
    (frame.iter().map(|x| x * x).sum::<f32>() / frame.len() as f32).sqrt()
}

pipeline! {
    struct Rms {
        stages: [rms],
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let signal = vec![0.5f32; 100];
    let mut p = Rms::new(Config::default().with_window(10).with_hop(10), ())?;
    assert_eq!(p.evaluate::<rms>(&signal, 0..10)?, vec![0.5; 10]);
    assert_eq!(Rms::TOPO, [0]);
    Ok(())
}
