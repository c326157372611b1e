// Expected error: a stage next to a `mod` of the same name: one "the name `energy` is defined
// multiple times" error at the stage's name (a stage's marker type shares the function's name,
// re-exported from a hidden module), no follow-ons. rustc adds its "use `as` to rename the
// import" help for the re-export; renaming the function or the module is the fix.
use sqrtspace::stage;

mod energy {}

#[stage(inputs = [input])]
fn energy(frame: &[f32]) -> f32 {
    frame.iter().map(|x| x * x).sum()
}

fn main() {
    let _ = energy(&[1.0]);
}
