//! The recompute cost model: what sqrt mode would do twice, estimated from the stages' cost
//! hints (`#[stage(cost = N)]`, scale in [`DEFAULT_COST`](crate::stage::DEFAULT_COST)).
//!
//! In sqrt mode an output read once is handed straight to its consumer. An output read by
//! several input edges (several consumers, or one consumer at `x` and `x[-n]`, the latter up to
//! `n` windows later) is offered to the LRU; if the LRU cannot hold every such output for as long as it is re-read, an LRU under this
//! cyclic access evicts each one before its next read (the classic LRU pathology), and every
//! re-read recomputes it: a pure stage's whole upstream subtree, a stateful stage's replay from
//! its checkpoint (`k / 2` windows on average). The planner uses the estimate twice: it sizes
//! the LRU to hold the hot outputs when the configured budget allows, and in `auto` it prefers
//! classic when sqrt would do more than [`MAX_RECOMPUTE_PERCENT`] extra work and classic fits
//! the RAM budget (the spec's guard rail: "estimated recompute < 20% time overhead, else
//! fall back").
//!
//! It is an estimate from hints, not a measurement: the engine's counters (`recomputes`,
//! `replayed_windows`) report what actually happened.

use crate::graph::index_of;
use crate::stage::StageMeta;
use std::ops::Range;

/// The smallest recompute cost, in cost units ([`DEFAULT_COST`](crate::stage::DEFAULT_COST)
/// scale: 10 is an FFT of a window), of an output worth a copy in the checkpoint ring.
pub const OUTPUT_CHECKPOINT_MIN_COST: u64 = 10;

/// The largest estimated recompute overhead, in percent of one pass's cost, that `auto`
/// accepts in sqrt mode when classic also fits the RAM budget.
pub const MAX_RECOMPUTE_PERCENT: u64 = 20;

/// What sqrt mode would recompute per window, from the cost hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RecomputeEstimate {
    /// Bytes of re-read outputs the LRU must hold so that nothing is recomputed: per re-read
    /// stage, its output bytes per window x (its longest lookback + 1) windows.
    pub hot_bytes: u64,
    /// Cost units per window of computing every needed stage once.
    pub base_cost: u64,
    /// Extra cost units per window when the re-read outputs do not stay cached.
    pub extra_cost: u64,
}

impl RecomputeEstimate {
    /// The estimate for `stages` (in topological order `topo`) when stage `i` is needed over
    /// `need[i]` and outputs about `per_window[i]` bytes a window, with checkpoints every `k`
    /// windows.
    #[must_use]
    pub fn new(
        stages: &[StageMeta],
        topo: &[usize],
        need: &[Option<Range<u64>>],
        per_window: &[usize],
        k: u64,
    ) -> Self {
        let needed = |i: usize| need.get(i).is_some_and(Option::is_some);
        let (reads, back) = reads(stages, needed);
        let once = recompute_costs(stages, topo, k);
        let mut est = RecomputeEstimate::default();
        for i in (0..stages.len()).filter(|&i| needed(i)) {
            est.base_cost += u64::from(stages[i].cost);
            // An output read by one edge (even a lookback) is computed once, when read.
            if reads[i] < 2 {
                continue;
            }
            est.hot_bytes += per_window.get(i).copied().unwrap_or(0) as u64 * (back[i] + 1);
            est.extra_cost += (reads[i] - 1) * once[i];
        }
        est
    }

    /// Estimated extra work in percent of one pass when the LRU holds `lru_bytes`: 0 when the
    /// hot outputs fit it.
    #[must_use]
    pub fn overhead_percent(&self, lru_bytes: u64) -> u64 {
        if self.hot_bytes <= lru_bytes || self.base_cost == 0 {
            0
        } else {
            self.extra_cost * 100 / self.base_cost
        }
    }
}

/// Which stages' outputs sqrt mode also snapshots into the checkpoint ring at every multiple
/// of `k` (exact window index): those read by several edges whose recompute cost
/// ([`recompute_costs`]) is at least [`OUTPUT_CHECKPOINT_MIN_COST`] — the spec's "selective
/// checkpointing" of expensive producers, so that a re-read of such an output at a checkpoint
/// index after the LRU dropped it costs a copy instead of a recomputation. The planner applies
/// it only when it expects recomputation (the hot outputs do not fit the LRU).
#[must_use]
pub fn checkpointed_outputs(stages: &[StageMeta], topo: &[usize], k: u64) -> Vec<bool> {
    let (reads, _) = reads(stages, |_| true);
    recompute_costs(stages, topo, k)
        .iter()
        .zip(reads)
        .map(|(&c, r)| r >= 2 && c >= OUTPUT_CHECKPOINT_MIN_COST)
        .collect()
}

/// Per stage: how many input edges of the needed stages read its output, and the longest
/// lookback among them.
fn reads(stages: &[StageMeta], needed: impl Fn(usize) -> bool) -> (Vec<u64>, Vec<u64>) {
    let mut reads = vec![0u64; stages.len()];
    let mut back = vec![0u64; stages.len()];
    for s in (0..stages.len()).filter(|&i| needed(i)).map(|i| &stages[i]) {
        for e in s.inputs {
            if let Some(d) = e.stage.and_then(|id| index_of(stages, id)) {
                reads[d] += 1;
                back[d] = back[d].max(e.offset);
            }
        }
    }
    (reads, back)
}

/// Per stage: the cost units of recomputing one of its outputs with nothing cached. A pure
/// stage recomputes itself and the subtree of every input edge; a stateful stage replays from
/// its checkpoint, `k / 2` windows of that on average.
#[must_use]
pub fn recompute_costs(stages: &[StageMeta], topo: &[usize], k: u64) -> Vec<u64> {
    let mut subtree = vec![0u64; stages.len()];
    for &i in topo {
        subtree[i] = u64::from(stages[i].cost)
            + stages[i]
                .inputs
                .iter()
                .filter_map(|e| e.stage.and_then(|id| index_of(stages, id)))
                .map(|d| subtree[d])
                .sum::<u64>();
    }
    subtree
        .iter()
        .zip(stages)
        .map(|(&c, s)| {
            if s.stateful {
                c.saturating_mul((k / 2).max(1))
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::InputMeta;

    const fn edge(name: &'static str, offset: u64) -> InputMeta {
        InputMeta {
            name,
            stage: Some(name),
            offset,
        }
    }
    const RAW: InputMeta = InputMeta {
        name: "input",
        stage: None,
        offset: 0,
    };
    const fn meta(
        name: &'static str,
        cost: u32,
        stateful: bool,
        inputs: &'static [InputMeta],
    ) -> StageMeta {
        StageMeta {
            name,
            id: name,
            cost,
            stateful,
            inputs,
        }
    }

    /// fft (10) -> band (1) read by feat (1) and flux (2, reads band and band[-1]).
    const STAGES: &[StageMeta] = &[
        meta("fft", 10, false, &[RAW]),
        meta("band", 1, false, &[edge("fft", 0)]),
        meta("feat", 1, false, &[edge("band", 0)]),
        meta("flux", 2, false, &[edge("band", 0), edge("band", 1)]),
    ];

    #[test]
    fn re_read_outputs_are_hot_and_cost_their_subtree() {
        let need = vec![Some(0..10); 4];
        let est = RecomputeEstimate::new(STAGES, &[0, 1, 2, 3], &need, &[100, 50, 4, 4], 16);
        // band is read three times (feat, flux, flux[-1]) and held 2 windows.
        assert_eq!(est.hot_bytes, 2 * 50);
        assert_eq!(est.base_cost, 14);
        // Two extra reads of band, each recomputing fft + band = 11.
        assert_eq!(est.extra_cost, 22);
        assert_eq!(est.overhead_percent(100), 0, "hot outputs fit");
        assert_eq!(est.overhead_percent(99), 22 * 100 / 14);
        assert_eq!(
            checkpointed_outputs(STAGES, &[0, 1, 2, 3], 16),
            [false, true, false, false],
            "band: read three times, recompute cost 11"
        );
    }

    #[test]
    fn a_chain_read_once_recomputes_nothing() {
        let need = vec![Some(0..10), Some(0..10), Some(0..10), None];
        let est = RecomputeEstimate::new(STAGES, &[0, 1, 2, 3], &need, &[100, 50, 4, 4], 16);
        assert_eq!(est.hot_bytes, 0);
        assert_eq!(est.extra_cost, 0);
        assert_eq!(est.overhead_percent(0), 0);
    }

    #[test]
    fn a_stateful_re_read_replays_half_a_checkpoint_interval() {
        const S: &[StageMeta] = &[
            meta("acc", 3, true, &[RAW]),
            meta("out", 1, false, &[edge("acc", 0), edge("acc", 2)]),
        ];
        let need = vec![Some(0..10); 2];
        let est = RecomputeEstimate::new(S, &[0, 1], &need, &[8, 8], 16);
        assert_eq!(est.hot_bytes, 3 * 8);
        assert_eq!(
            est.extra_cost,
            3 * 8,
            "one extra read replaying k/2 = 8 windows"
        );
        assert_eq!(est.overhead_percent(0), 3 * 8 * 100 / 4);
        assert_eq!(checkpointed_outputs(S, &[0, 1], 16), [true, false]);
        assert_eq!(
            checkpointed_outputs(S, &[0, 1], 4),
            [false, false],
            "a replay of k/2 = 2 windows costs 6 < 10"
        );
    }
}
