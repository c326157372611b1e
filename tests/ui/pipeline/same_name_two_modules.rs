// Expected error: two stages named `level` from different modules in one pipeline ("`loud::level`
// and `quiet::level` are both named `level`"): one error on the second entry, naming both
// paths. Before, `output: level` silently picked one and DOT showed one node twice.
use sqrtspace::{pipeline, Config};

mod loud {
    use sqrtspace::stage;
    #[stage(inputs = [input])]
    pub fn level(frame: &[f32]) -> f32 {
        frame.iter().sum::<f32>() * 2.0
    }
}

mod quiet {
    use sqrtspace::stage;
    #[stage(inputs = [input])]
    pub fn level(frame: &[f32]) -> f32 {
        frame.iter().sum::<f32>() / 2.0
    }
}

pipeline! {
    pub struct Levels {
        stages: [loud::level, quiet::level],
        output: level,
    }
}

fn main() -> Result<(), sqrtspace::Error> {
    let mut p = Levels::new(Config::default(), ())?;
    let _ = p.evaluate::<loud::level>(&[0.0; 4096], 0..1)?;
    Ok(())
}
