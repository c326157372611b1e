// Expected error: `#[stage]` on an associated function (no `self`) inside an impl block: one
// error, at the generated items that cannot sit in an impl, and not one per hidden item.
// (The attribute cannot see that it is inside an impl block: rustc reports the first item
// that an impl block cannot hold.)
use sqrtspace::stage;

struct Dsp;

impl Dsp {
    #[stage(inputs = [input])]
    fn energy(frame: &[f32]) -> f32 {
        frame.iter().map(|x| x * x).sum()
    }
}

fn main() {
    let _ = Dsp::energy(&[1.0]);
}
