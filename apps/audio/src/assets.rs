//! The recordings shipped with this crate (inside its package, under `assets/`; sources and
//! licences in `assets/LICENSES.md`). The paths are absolute, fixed at compile time from the
//! crate's own directory, so they resolve from any working directory and from a registry
//! checkout of the published crate.

/// 112.4 s of real speech received over HF radio: WAV PCM s16, 8 kHz, mono (LGPL-2.1, the
/// codec2 project). Speech alternates with radio noise and pauses, so all three classes and many
/// segments occur in under two minutes: the default input of the demo, the planner printout and
/// `cargo run --example audio`.
pub const SPEECH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/ve9qrp.wav");

/// A 6.9 s real drum-loop recording (the "Amen break"): FLAC s16, 44.1 kHz, stereo (CC0). The
/// benchmark input, looped to make hours of 44.1 kHz audio.
pub const DRUM_LOOP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/loop_amen_full.flac");
