//! Buffer reuse (`#[out]`, `#[scratch]`): outputs bit-identical to the owned style in every
//! mode, and the pools' byte accounting exact.

use sqrtspace::{pipeline, stage, Config, Mode};

#[stage(inputs = [input])]
fn owned_sq(frame: &[f32]) -> Vec<f32> {
    frame.iter().map(|x| x * x).collect()
}

#[stage(inputs = [input])]
fn out_sq(frame: &[f32], #[out] out: &mut Vec<f32>) {
    out.clear();
    out.extend(frame.iter().map(|x| x * x));
}

#[stage(inputs = [owned_sq])]
fn owned_sum(x: &Vec<f32>) -> f32 {
    x.iter().sum()
}

#[stage(inputs = [out_sq])]
fn out_sum(x: &Vec<f32>, #[scratch] s: &mut Vec<f32>) -> f32 {
    s.clear();
    s.extend_from_slice(x);
    s.iter().sum()
}

pipeline! {
    pub struct Owned { stages: [owned_sq, owned_sum], output: owned_sum }
}
pipeline! {
    pub struct Reused { stages: [out_sq, out_sum], output: out_sum }
}

#[test]
fn out_and_scratch_are_bit_identical_to_owned() {
    let signal: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.37).sin()).collect();
    for mode in [Mode::Classic, Mode::Sqrt] {
        let c = Config::default()
            .with_window(64)
            .with_hop(16)
            .with_mode(mode);
        let n = c.windows_in(signal.len() as u64);
        let a = Owned::new(c.clone(), ())
            .unwrap()
            .evaluate::<owned_sum>(&signal, 0..n)
            .unwrap();
        let mut p = Reused::new(c, ()).unwrap();
        let b = p.evaluate::<out_sum>(&signal, 0..n).unwrap();
        assert_eq!(
            a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        eprintln!("{mode:?} pool bytes {}", p.pool_bytes());
    }
}
