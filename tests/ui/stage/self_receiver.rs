// Expected error: "a stage is a free function: it cannot take `self`", for a stage written as
// a method inside an impl block.
use sqrtspace::stage;

struct Analyzer {
    gain: f32,
}

impl Analyzer {
    #[stage(inputs = [input])]
    fn spectrum(&self, frame: &[f32]) -> Vec<f32> {
        frame.iter().map(|x| x * self.gain).collect()
    }
}

fn main() {
    let _ = Analyzer { gain: 1.0 };
}
