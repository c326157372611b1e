// Stages defined in another crate (`sqrtspace-test-stages`), with `#[params]` and state,
// wired into a pipeline here, next to a local stage that reads one of them.
use sqrtspace::{pipeline, stage, Config};
use sqrtspace_test_stages::{frame_sum, nested::running_total, scaled_sum, Scale};

#[stage(inputs = [sqrtspace_test_stages::nested::running_total, frame_sum])]
fn ratio(total: &f64, sum: &f32) -> f64 {
    total / f64::from(sum.max(1.0))
}

pipeline! {
    pub struct Cross {
        params: Scale,
        stages: [frame_sum, scaled_sum, running_total, ratio],
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let signal = vec![1.0f32; 64];
    let mut p = Cross::new(Config::default().with_window(8).with_hop(8), Scale { gain: 2.0 })?;
    assert_eq!(p.evaluate::<running_total>(&signal, 0..4)?, vec![16.0, 32.0, 48.0, 64.0]);
    assert_eq!(p.evaluate::<ratio>(&signal, 3..4)?, vec![8.0]);
    Ok(())
}
