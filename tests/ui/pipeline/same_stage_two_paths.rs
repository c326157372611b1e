// Expected error: the same stage listed by two paths (`level` and `dsp::level`): one error on
// the second entry, not "conflicting implementations of trait `Has`".
use sqrtspace::pipeline;

mod dsp {
    use sqrtspace::stage;
    #[stage(inputs = [input])]
    pub fn level(frame: &[f32]) -> f32 {
        frame.iter().sum()
    }
}

use dsp::level;

pipeline! {
    pub struct Levels {
        stages: [level, dsp::level],
    }
}

fn main() {}
