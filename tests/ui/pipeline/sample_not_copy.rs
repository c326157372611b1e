// Expected error: a `sample:` type that is not `Copy` (`String`): one error at that type
// (rustc's "the trait bound `String: Copy` is not satisfied", required by `Graph::Sample`).
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
