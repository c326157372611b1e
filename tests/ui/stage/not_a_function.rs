// Expected errors: `#[stage]` on a struct and on a const: one error each ("#[stage] applies to
// a free function, not to a struct"), with a help line saying what to write instead (the
// struct as `#[state]`, the const as a runtime parameter).
use sqrtspace::stage;

#[stage(inputs = [input])]
#[derive(Clone, Default)]
struct Smoother {
    level: f32,
}

#[stage(inputs = [input])]
const GAIN: f32 = 2.0;

fn main() {
    let _ = (Smoother::default().level, GAIN);
}
