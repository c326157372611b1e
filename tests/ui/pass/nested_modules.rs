// Stages in nested modules, referenced by path both in `inputs` and in `stages`.
use sqrtspace::{pipeline, Config};

mod features {
    pub mod spectral {
        use sqrtspace::stage;

        #[stage(inputs = [input])]
        pub fn spectrum(frame: &[f32]) -> Vec<f32> {
            frame.iter().map(|x| x.abs()).collect()
        }
    }

    pub mod summary {
        use sqrtspace::stage;

        #[stage(inputs = [super::spectral::spectrum])]
        pub fn energy(s: &Vec<f32>) -> f32 {
            s.iter().map(|x| x * x).sum()
        }

        #[stage(inputs = [crate::features::spectral::spectrum, energy])]
        pub fn peak_ratio(s: &Vec<f32>, e: &f32) -> f32 {
            s.iter().copied().fold(0.0, f32::max) / e.max(f32::EPSILON)
        }
    }
}

pipeline! {
    pub struct Features {
        stages: [
            features::spectral::spectrum,
            features::summary::energy,
            features::summary::peak_ratio,
        ],
        output: peak_ratio,
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    use features::summary::peak_ratio;
    let signal: Vec<f32> = (0..1024).map(|i| (i as f32 * 0.1).cos()).collect();
    let mut p = Features::new(Config::default().with_window(128).with_hop(64), ())?;
    let out = p.evaluate::<peak_ratio>(&signal, 0..10)?;
    assert_eq!(out.len(), 10);
    Ok(())
}
