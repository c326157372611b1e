// Expected error: `#[stage]` on an associated function (no `self`) inside an impl block: ONE
// error at the function's name, saying that a stage is a free function at module level and
// showing the wrapper stage to write instead. (An attribute sees only its item: `#[stage]`
// finds the enclosing block in the function's source file, `stage/context.rs`; on the old
// macros this was 6 errors about hidden generated items.)
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
