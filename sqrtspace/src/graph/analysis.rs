//! Run-time graph analysis over a pipeline's [`Graph::STAGES`]: which windows each stage needs
//! for a range ([`needs`]), the dependency span ([`span`]), and which outputs can be read more
//! than once ([`reused`]).

use crate::graph::compile::index_of;
use crate::graph::traits::Graph;
use crate::stage::StageMeta;
use std::ops::Range;

/// Which stages' outputs can be read more than once: read by two or more input edges (several
/// consumers, or one consumer at several offsets), through a lookback, or by an input edge and
/// the emission of several output stages (`outputs`, when there are two or more).
pub(crate) fn reused(stages: &[StageMeta], outputs: &[usize]) -> Vec<bool> {
    let mut reads = vec![0usize; stages.len()];
    let mut lookback = vec![false; stages.len()];
    if outputs.len() > 1 {
        for &o in outputs {
            reads[o] += 1;
        }
    }
    for s in stages {
        for e in s.inputs {
            if let Some(d) = e.stage.and_then(|id| index_of(stages, id)) {
                reads[d] += 1;
                lookback[d] |= e.offset > 0;
            }
        }
    }
    reads
        .iter()
        .zip(lookback)
        .map(|(&r, l)| r > 1 || l)
        .collect()
}

/// Window ranges each stage needs so that stage `target` can be computed over `range` stage by
/// stage: inputs widen ranges by their lookback; stateful stages start at window 0.
#[must_use]
pub fn needs<G: Graph>(target: usize, range: Range<u64>) -> Vec<Option<Range<u64>>> {
    let stages = G::STAGES;
    let mut need: Vec<Option<Range<u64>>> = vec![None; stages.len()];
    need[target] = Some(range);
    for &i in G::TOPO.iter().rev() {
        let Some(r) = need[i].clone() else { continue };
        let r = if stages[i].stateful { 0..r.end } else { r };
        need[i] = Some(r.clone());
        for e in stages[i].inputs {
            let Some(d) = e.stage.and_then(|id| index_of(stages, id)) else {
                continue;
            };
            if r.end <= e.offset {
                continue;
            }
            let add = r.start.saturating_sub(e.offset)..r.end - e.offset;
            need[d] = Some(match need[d].take() {
                Some(o) => o.start.min(add.start)..o.end.max(add.end),
                None => add,
            });
        }
    }
    need
}

/// The dependency span in windows: `ceil(W/H)` for overlapping frames plus the longest chain of
/// lookback offsets.
#[must_use]
pub fn span<G: Graph>(window: usize, hop: usize) -> u64 {
    let stages = G::STAGES;
    let mut back = vec![0u64; stages.len()];
    for &i in G::TOPO {
        for e in stages[i].inputs {
            let up = e
                .stage
                .and_then(|id| index_of(stages, id))
                .map_or(0, |d| back[d]);
            back[i] = back[i].max(up + e.offset);
        }
    }
    window.div_ceil(hop) as u64 + back.into_iter().max().unwrap_or(0)
}
