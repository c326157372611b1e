//! The audio pipeline on the shipped recording: `cargo run --release --example audio [FILE]`.
//!
//! Streams the recording through [`AudioPipeline`](sqrtspace_audio::AudioPipeline) in `sqrt`
//! mode (decoded incrementally, never held whole), then runs `classic` mode (decoded into
//! memory, the baseline) on the same input, checks that the outputs are bit-identical, and
//! prints the class summary and the report.
//!
//! Default input: [`sqrtspace_audio::assets::SPEECH`] (`apps/audio/assets/ve9qrp.wav`, 112 s of
//! speech received over HF radio, 8 kHz, LGPL-2.1, the codec2 project; see
//! `apps/audio/assets/LICENSES.md`).

use std::process::ExitCode;

use sqrtspace::{Mode, Planner};
use sqrtspace_audio::{describe_summary, AudioError, AudioJob};

const DEFAULT_INPUT: &str = sqrtspace_audio::assets::SPEECH;

fn main() -> ExitCode {
    let input = std::env::args_os()
        .nth(1)
        .map_or_else(|| DEFAULT_INPUT.into(), std::path::PathBuf::from);
    match run(input) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(input: std::path::PathBuf) -> Result<(), AudioError> {
    let planner = Planner::from_machine();
    let job = AudioJob::new(&input).with_mode(Mode::Sqrt);
    let sqrt = job.run(&planner, &mut |_| {}, &mut |_, _| Ok(()))?;
    let (classic, outputs) = job.verify(&planner, &sqrt, Mode::Classic)?;
    println!(
        "Input: {} ({:.1} s at {} Hz, {} windows of {} samples, hop {})",
        input.display(),
        sqrt.seconds(),
        sqrt.sample_rate,
        sqrt.end.windows,
        sqrt.config.window,
        sqrt.config.hop
    );
    println!("{}", describe_summary(&sqrt.summary, 8));
    println!();
    println!("{}", sqrt.report(Some(&classic), outputs));
    println!(
        "Decode: {:.2} s of the {:.2} s",
        sqrt.decode.as_secs_f64(),
        sqrt.measured.wall.as_secs_f64()
    );
    Ok(())
}
