// Expected errors: `#[stage]` on an associated function (no `self`) inside an impl block. NOT
// one error yet: an attribute cannot see that it sits in an impl block, the marker type a
// stage needs must be a module-level item, and rustc's parser reports every generated item an
// impl block cannot hold (module, `use`, trait, impls) separately, all at the stage. Each says
// "... is not supported in `trait`s or `impl`s: consider moving ... out to a nearby module
// scope", which is the fix: a stage is a free function.
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
