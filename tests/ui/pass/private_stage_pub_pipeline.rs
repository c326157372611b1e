// Private stage functions (the default visibility) in a `pub` pipeline, including the output
// stage: the hidden marker types are always public, so no private-type-in-public-interface
// error.
use sqrtspace::{pipeline, stage, Config};

#[stage(inputs = [input])]
fn mean(frame: &[f32]) -> f32 {
    frame.iter().sum::<f32>() / frame.len() as f32
}

#[stage(inputs = [mean])]
fn doubled(m: &f32) -> f32 {
    m * 2.0
}

pipeline! {
    /// A public pipeline made of private stages.
    pub struct Public {
        stages: [mean, doubled],
    }
}

pub mod inner {
    use sqrtspace::{pipeline, stage};

    #[stage(inputs = [input])]
    fn peak(frame: &[f32]) -> f32 {
        frame.iter().copied().fold(f32::MIN, f32::max)
    }

    pipeline! {
        /// Public, in a module, with a private output stage.
        pub struct Peaks {
            stages: [peak],
        }
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let signal = vec![1.0f32; 256];
    let mut p = Public::new(Config::default().with_window(64).with_hop(64), ())?;
    assert_eq!(p.evaluate::<doubled>(&signal, 0..4)?, vec![2.0; 4]);
    let _ = inner::Peaks::new(Config::default().with_window(64).with_hop(64), ())?;
    Ok(())
}
