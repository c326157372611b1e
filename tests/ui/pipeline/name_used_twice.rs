// Expected error: two `pipeline!`s of the same name in one module: ONE error, rustc's "the name
// `Audio` is defined multiple times" on the second name (each call defines its type in a hidden
// module of its own and re-exports it; every generated item names the type by that path or
// carries a suffix of the call, so the second call's impls and constants conflict with
// nothing). On the old macros: 59 errors (E0428, E0119 for every generated impl, E0592 for
// every constant, E0034). Not covered: two calls with identical tokens (their hidden names
// coincide, so the old cascade returns).
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn energy(frame: &[f32]) -> f32 {
    frame.iter().map(|x| x * x).sum()
}

#[stage(inputs = [energy])]
fn level(e: &f32) -> f32 {
    e.sqrt()
}

pipeline! {
    pub struct Audio {
        stages: [energy, level],
    }
}

pipeline! {
    pub struct Audio {
        stages: [energy],
    }
}

fn main() {
    let _ = Audio::new(sqrtspace::Config::default(), ());
}
