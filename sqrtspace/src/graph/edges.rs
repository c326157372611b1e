//! The edge table of the compile-time graph analysis: each input of each stage resolved once to
//! the index of the stage it names (FNV-1a hashes of the ids, sorted with a heapsort, looked up
//! by binary search: `O((N + E) log N)` in rustc's const evaluator), so the checks, the
//! topological order and the rendering never compare id strings pairwise.

use super::compile::str_eq;
use crate::stage::StageMeta;

/// The "no stage" entry of [`resolve`]'s table: an input that reads the raw frames, or a stage
/// that is not in the pipeline.
pub const NONE: usize = usize::MAX;

/// FNV-1a (64-bit) of a stage id (Fowler, Noll, Vo; `http://www.isthe.com/chongo/tech/comp/fnv/`).
const fn fnv(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// Stage indices sorted by (id hash, index), with the hashes: the lookup table of [`resolve`]
/// and the duplicate check of [`check_graph`]. Heapsort, `O(N log N)` comparisons of integers
/// (the const evaluator is an interpreter: comparing ids pairwise made check time quadratic).
pub(super) const fn sorted_ids<const N: usize>(stages: &[StageMeta]) -> ([u64; N], [usize; N]) {
    let mut hash = [0u64; N];
    let mut order = [0usize; N];
    let mut i = 0;
    while i < N {
        hash[i] = fnv(stages[i].id);
        order[i] = i;
        i += 1;
    }
    // Max-heap on (hash, index), then repeatedly move the largest to the end.
    let mut start = N / 2;
    while start > 0 {
        start -= 1;
        sift_down(&hash, &mut order, start, N);
    }
    let mut end = N;
    while end > 1 {
        end -= 1;
        let t = order[0];
        order[0] = order[end];
        order[end] = t;
        sift_down(&hash, &mut order, 0, end);
    }
    (hash, order)
}

/// `(hash[a], a) < (hash[b], b)`.
const fn before(hash: &[u64], a: usize, b: usize) -> bool {
    hash[a] < hash[b] || (hash[a] == hash[b] && a < b)
}

const fn sift_down(hash: &[u64], order: &mut [usize], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && before(hash, order[child], order[child + 1]) {
            child += 1;
        }
        if !before(hash, order[root], order[child]) {
            return;
        }
        let t = order[root];
        order[root] = order[child];
        order[child] = t;
        root = child;
    }
}

/// The number of input edges of `stages` (the length of [`resolve`]'s table).
#[must_use]
pub const fn edge_count(stages: &[StageMeta]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < stages.len() {
        n += stages[i].inputs.len();
        i += 1;
    }
    n
}

/// The upstream stage index of every input edge, stage by stage in declaration order and
/// within a stage in `inputs` order: `E` = [`edge_count`] entries, [`NONE`] for the raw frames
/// or a stage outside `stages`. Where an id is listed twice, its first index ([`check_graph`]
/// reports the duplicate). `pipeline!` computes it once, in a constant, for every graph check
/// and rendering: `O((N + E) log N)` instead of comparing ids per edge and stage.
#[must_use]
pub const fn resolve<const N: usize, const E: usize>(stages: &[StageMeta]) -> [usize; E] {
    let (hash, order) = sorted_ids::<N>(stages);
    let mut deps = [NONE; E];
    let mut k = 0;
    let mut i = 0;
    while i < N {
        let ins = stages[i].inputs;
        let mut e = 0;
        while e < ins.len() {
            if let Some(id) = ins[e].stage {
                let h = fnv(id);
                // First position whose hash is >= h.
                let (mut lo, mut hi) = (0, N);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if hash[order[mid]] < h {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                while lo < N && hash[order[lo]] == h {
                    if str_eq(stages[order[lo]].id, id) {
                        deps[k] = order[lo];
                        break;
                    }
                    lo += 1;
                }
            }
            k += 1;
            e += 1;
        }
        i += 1;
    }
    deps
}

/// Where each stage's edges start in [`resolve`]'s table.
pub(super) const fn first_edges<const N: usize>(stages: &[StageMeta]) -> [usize; N] {
    let mut first = [0usize; N];
    let mut k = 0;
    let mut i = 0;
    while i < N {
        first[i] = k;
        k += stages[i].inputs.len();
        i += 1;
    }
    first
}
