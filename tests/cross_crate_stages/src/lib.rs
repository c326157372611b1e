//! Stages defined in one crate, wired into a pipeline in another (the workspace's
//! `tests/cross_crate.rs`). Test support only.

use sqrtspace::stage;

/// Runtime parameters shared by the stages of this crate.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// Linear gain applied by [`scaled_sum`].
    pub gain: f32,
}

/// Sum of a frame of samples.
#[stage(inputs = [input], cost = 2)]
pub fn frame_sum(frame: &[f32]) -> f32 {
    frame.iter().sum()
}

/// [`frame_sum`] times the gain.
#[stage(inputs = [frame_sum])]
pub fn scaled_sum(s: &f32, #[params] p: &Scale) -> f32 {
    s * p.gain
}

/// Stages in a nested public module.
pub mod nested {
    use sqrtspace::stage;

    /// Running total of `scaled_sum` over windows (stateful).
    #[stage(inputs = [super::scaled_sum])]
    pub fn running_total(x: &f32, #[state] total: &mut f64) -> f64 {
        *total += f64::from(*x);
        *total
    }
}
