//! Snapshots (insta) of what users read: the graph exports, the planner's plan and reason,
//! and the run report. The machine is fixed so the plans are the same everywhere.

use sqrtspace::metrics::{Measured, StageCounters};
use sqrtspace::{
    pipeline, stage, Checkpoints, Config, Counters, Machine, Mode, Planner, Report, Verification,
};
use std::time::Duration;

#[stage(inputs = [input], cost = 10)]
fn spectrum(frame: &[f32]) -> Vec<f32> {
    frame.iter().map(|x| x.abs()).collect()
}

#[stage(inputs = [spectrum, spectrum[-1]], cost = 2)]
fn flux(cur: &Vec<f32>, prev: Option<&Vec<f32>>) -> f32 {
    prev.map_or(0.0, |p| {
        cur.iter().zip(p).map(|(a, b)| (a - b).max(0.0)).sum()
    })
}

#[stage(inputs = [flux])]
fn smooth(x: &f32, #[state] s: &mut f32) -> f32 {
    *s = 0.9 * *s + 0.1 * x;
    *s
}

pipeline! {
    /// Onset strength.
    struct Onsets {
        stages: [spectrum, flux, smooth],
        output: smooth,
    }
}

fn planner(ram_mib: u64) -> Planner {
    Planner {
        machine: Machine {
            ram_available: ram_mib << 20,
            llc_bytes: 32 << 20,
            llc_source: "test",
        },
    }
}

#[test]
fn graph_exports() {
    insta::assert_snapshot!("dot", Onsets::DOT);
    insta::assert_snapshot!("mermaid", Onsets::MERMAID);
    assert_eq!(Onsets::TOPO, [0, 1, 2]);
    assert_eq!(Onsets::COSTS, [10, 2, 1]);
}

#[test]
fn plans_for_fits_and_spills() {
    let signal = vec![0.5f32; 4096 * 64];
    let config = Config::default().with_window(1024).with_hop(256);
    let windows = config.windows_in(signal.len() as u64);
    let mut p = Onsets::new(config.clone(), ()).unwrap();
    p.set_planner(planner(16 * 1024));
    let fits = p.plan::<smooth>(&signal, 0..windows).unwrap();
    assert_eq!(fits.mode, Mode::Classic);
    insta::assert_snapshot!("plan_fits_llc", fits.to_string());

    // The same work against a 1.5 MiB RAM budget and a tiny LLC: sqrt.
    let mut p = Onsets::new(config.clone().with_ram_budget(3 << 19), ()).unwrap();
    p.set_planner(Planner {
        machine: Machine {
            ram_available: 1 << 40,
            llc_bytes: 1 << 20,
            llc_source: "test",
        },
    });
    let spills = p.plan::<smooth>(&signal, 0..windows).unwrap();
    assert_eq!(spills.mode, Mode::Sqrt);
    insta::assert_snapshot!("plan_spills", spills.to_string());

    // Classic fits the RAM budget but not the LLC, and a 4 KiB LRU cannot hold the two
    // windows of spectra that `flux` reads: sqrt would recompute `spectrum` (cost 10) once
    // more per window, ~76% of a pass: classic.
    let mut p = Onsets::new(config.clone().with_lru_bytes(4 << 10), ()).unwrap();
    p.set_planner(Planner {
        machine: Machine {
            ram_available: 1 << 40,
            llc_bytes: 1 << 20,
            llc_source: "test",
        },
    });
    // One session: the evaluation below reuses the plan's probe and caches.
    let mut p = p.over(&signal);
    let recompute = p.plan::<smooth>(0..windows).unwrap();
    assert_eq!(recompute.mode, Mode::Classic);
    assert_eq!(recompute.recompute_percent, 10 * 100 / 13);
    insta::assert_snapshot!("plan_recompute_guard", recompute.to_string());
    // What the estimate predicts is what sqrt does: every spectrum but the last is read twice
    // (counted from after the planner's probe), and computed twice except at multiples of k,
    // where the second read finds the output snapshot in the checkpoint ring.
    let spectrum = |p: &sqrtspace::Pipeline<Onsets>| {
        let c = p.counters().stage("spectrum").unwrap().clone();
        (c.evaluations, c.checkpoint_hits)
    };
    let before = spectrum(&p);
    p.set_mode(Mode::Sqrt);
    p.evaluate::<smooth>(0..windows).unwrap();
    let plan = p.last_plan().unwrap();
    assert_eq!(plan.checkpointed_outputs, ["spectrum"]);
    let (evaluations, hits) = (spectrum(&p).0 - before.0, spectrum(&p).1 - before.1);
    assert_eq!(hits, (windows - 1).div_ceil(plan.k));
    assert_eq!(evaluations + hits, 2 * windows - 1);

    let mut p = Onsets::new(
        config
            .with_checkpoints(Checkpoints::Every(4))
            .with_mode(Mode::Sqrt),
        (),
    )
    .unwrap();
    p.set_planner(planner(1024));
    insta::assert_snapshot!(
        "plan_forced_sqrt",
        p.plan::<smooth>(&signal, 10..20).unwrap().to_string()
    );
}

#[test]
fn report_template() {
    let run = Measured {
        wall: Duration::from_millis(3410),
        cpu: Duration::from_millis(3300),
        peak_rss: 40 << 20,
        minor_faults: 1200,
        major_faults: 0,
        read_bytes: 0,
        write_bytes: 0,
    };
    let baseline = Measured {
        wall: Duration::from_millis(3350),
        peak_rss: 2200 << 20,
        major_faults: 12,
        ..run
    };
    let mut counters = Counters::default();
    counters.stages.push(StageCounters {
        name: "spectrum",
        evaluations: 155_000,
        cache_hits: 154_000,
        ..StageCounters::default()
    });
    counters.evictions = 140_000;
    counters.live_bytes_high_water = 8 << 20;
    let report = Report {
        mode: Mode::Sqrt,
        requested: Mode::Auto,
        window: 4096,
        hop: 1024,
        k: 16,
        lru_bytes: 8 << 20,
        workers: 1,
        windows: 155_000,
        run,
        baseline: Some(baseline),
        baseline_estimated: false,
        outputs: Verification::Identical,
        counters,
    };
    insta::assert_snapshot!("report", report.to_string());
}

/// The plan's workers section, from fixed measured costs (the probe's timings vary from run
/// to run, so this snapshots `Parallelism::choose` directly).
#[test]
fn workers_section_of_the_plan() {
    use sqrtspace::parallel::{Parallelism, StageCost};
    let cost = |name, nanos, sequential| StageCost {
        name,
        nanos,
        sequential,
    };
    let p = Parallelism::choose(
        4,
        2,
        vec![
            cost("spectrum", 42_000, false),
            cost("band", 6_000, false),
            cost("tracker", 32_000, true),
        ],
        16_400,
        16 << 20,
        25_000,
    );
    insta::assert_snapshot!("plan_workers", p.to_string());
}

/// The workers section with the candidates timed on the probe prefix (fixed figures: the
/// measured ones vary from run to run).
#[test]
fn workers_section_with_timed_candidates() {
    use sqrtspace::parallel::{Candidate, Parallelism, StageCost};
    let p = Parallelism::choose(
        2,
        2,
        vec![
            StageCost {
                name: "spectrum",
                nanos: 42_000,
                sequential: false,
            },
            StageCost {
                name: "tracker",
                nanos: 4_000,
                sequential: true,
            },
        ],
        16_400,
        16 << 20,
        25_000,
    );
    let batch = p.batch;
    let timed = |workers, nanos_per_window| Candidate {
        workers,
        batch,
        nanos_per_window,
    };
    let kept = p
        .clone()
        .measured(vec![timed(1, 46_500), timed(2, 25_900)], 61, 4_430_000);
    insta::assert_snapshot!("plan_workers_timed", kept.to_string());
    let overruled = p.measured(vec![timed(1, 46_500), timed(2, 47_100)], 61, 4_430_000);
    insta::assert_snapshot!("plan_workers_timed_overruled", overruled.to_string());
}
