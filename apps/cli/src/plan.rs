//! `sqrtspace plan --print`: the plan `auto` would follow, estimated from the file header.

use clap::Args;

use super::say;
use super::{planner, CliError, JobArgs, DEFAULT_INPUT};
use sqrtspace::plan::human;
use sqrtspace_audio::AudioPipeline;

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Print the whole plan (mode and why, k and why, budgets, estimated working sets, bytes
    /// per window of each stage); without it, one line: the mode and why.
    #[arg(long)]
    pub print: bool,
    /// Input recording, engine configuration, band and classifier thresholds.
    #[command(flatten)]
    pub job: JobArgs,
}

/// Runs `plan`.
pub fn run(a: &PlanArgs) -> Result<(), CliError> {
    let job = a.job.job(DEFAULT_INPUT)?;
    let e = job.estimate(&planner())?;
    if !a.print {
        say!("{} ({})", e.plan.mode, e.plan.reason);
        return Ok(());
    }
    let length = match (e.total_samples, e.seconds()) {
        (Some(n), Some(s)) => format!("{n} samples = {:.1} s ({:.2} h)", s, s / 3600.0),
        _ => "unknown (the header declares no length)".to_string(),
    };
    say!(
        "Input: {}{} at {} Hz: {length}",
        job.input.display(),
        if job.repeat > 1 {
            format!(" ×{}", job.repeat)
        } else {
            String::new()
        },
        e.sample_rate
    );
    say!("Estimated from the file header (duration × repeat); nothing was decoded.");
    say!("{}", e.plan);
    let stages: Vec<String> = AudioPipeline::STAGES
        .iter()
        .zip(&e.per_window)
        .map(|(s, b)| format!("{} {}", s.name, human(*b as u64)))
        .collect();
    say!("  per window:  {}", stages.join(", "));
    Ok(())
}
