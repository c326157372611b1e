// The DOT and Mermaid renderings are `&'static str` constants, usable in const context.
use sqrtspace::{pipeline, stage};

#[stage(inputs = [input], cost = 10)]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.to_vec()
}

#[stage(inputs = [spectrum, spectrum[-1]])]
fn flux(cur: &Vec<f32>, prev: Option<&Vec<f32>>) -> f32 {
    prev.map_or(0.0, |p| cur.iter().zip(p).map(|(a, b)| a - b).sum())
}

#[stage(inputs = [flux])]
fn smooth(f: &f32, #[state] s: &mut f32) -> f32 {
    *s = 0.5 * (*s + f);
    *s
}

pipeline! {
    pub struct Audio {
        stages: [spectrum, flux, smooth],
    }
}

const DOT: &str = Audio::DOT;
const MERMAID: &str = Audio::MERMAID;

fn main() {
    println!("{DOT}");
    println!("{MERMAID}");
    assert!(DOT.starts_with("digraph Audio {"));
    assert!(DOT.contains("spectrum [label=\"spectrum\\ncost 10\"];"));
    assert!(DOT.contains("spectrum -> flux [style=dashed, label=\"t-1\"];"));
    assert!(DOT.contains("smooth [label=\"smooth\\ncost 1, state\"];"));
    assert!(MERMAID.starts_with("flowchart LR"));
    assert!(MERMAID.contains("spectrum -. \"t-1\" .-> flux"));
    assert!(MERMAID.contains("flux --> smooth"));
}
