// Expected error: a `sample:` type that is not `Copy` (`String`): one error at that type, in
// the DSL's terms ("`String` cannot be a pipeline's `sample` type"), with a help line naming
// numeric types. (A non-`Copy` type the macro cannot recognise, such as a user struct, gets
// rustc's "the trait bound `T: Copy` is not satisfied" at the same token.)
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input])]
fn count(frame: &[String]) -> usize {
    frame.len()
}

pipeline! {
    pub struct Words {
        sample: String,
        stages: [count],
    }
}

fn main() {}
