//! Rolling count, mean, standard deviation, min and max of a row window, updated across hops
//! without drift: per-piece summaries combined with Chan et al.'s pairwise update in a
//! two-stack sliding-window aggregation (each piece is combined `O(1)` times amortised, hop 1
//! included).

use sqrtspace::ByteSize;

/// Count, mean, sum of squared deviations (`M2`), min and max of some values.
///
/// Combining two summaries uses Chan, Golub and LeVeque (1979), "Updating formulae and a
/// pairwise algorithm for computing sample variances": with `d = mean_b - mean_a`,
/// `mean = mean_a + d * n_b / n`, `M2 = M2_a + M2_b + d^2 * n_a * n_b / n`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Number of values.
    pub count: u64,
    /// Arithmetic mean (0 when empty).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Smallest value by `totalOrder` (`+inf` when empty).
    pub min: f64,
    /// Largest value by `totalOrder` (`-inf` when empty).
    pub max: f64,
}

impl ByteSize for Summary {}

impl Summary {
    /// The summary of no values.
    pub const EMPTY: Summary = Summary {
        count: 0,
        mean: 0.0,
        m2: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    /// The summary of `values` (no NaN expected): two passes, the mean from the sum, then
    /// the squared deviations from it; min and max by `totalOrder`.
    #[must_use]
    pub fn of(values: &[f64]) -> Summary {
        if values.is_empty() {
            return Summary::EMPTY;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let m2 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        let (mut lo, mut hi) = (u64::MAX, 0);
        for &v in values {
            let k = crate::quantile::key(v);
            lo = lo.min(k);
            hi = hi.max(k);
        }
        Summary {
            count: values.len() as u64,
            mean,
            m2,
            min: crate::quantile::unkey(lo),
            max: crate::quantile::unkey(hi),
        }
    }

    /// The summary of the values of `self` and `other` together.
    #[must_use]
    pub fn combine(&self, other: &Summary) -> Summary {
        if self.count == 0 {
            return *other;
        }
        if other.count == 0 {
            return *self;
        }
        let n = self.count + other.count;
        let (na, nb, nf) = (self.count as f64, other.count as f64, n as f64);
        let d = other.mean - self.mean;
        Summary {
            count: n,
            mean: self.mean + d * nb / nf,
            m2: self.m2 + other.m2 + d * d * na * nb / nf,
            min: if other.min.total_cmp(&self.min).is_lt() {
                other.min
            } else {
                self.min
            },
            max: if other.max.total_cmp(&self.max).is_gt() {
                other.max
            } else {
                self.max
            },
        }
    }

    /// The window's aggregates: `None` fields when empty; `std` is the sample standard
    /// deviation `sqrt(M2 / (n - 1))` (ddof = 1, as Polars' and pandas' `rolling_std`),
    /// `None` below 2 values.
    #[must_use]
    pub fn aggregates(&self) -> Aggregates {
        let some = |v: f64| (self.count > 0).then_some(v);
        Aggregates {
            count: self.count,
            mean: some(self.mean),
            std: (self.count > 1).then(|| (self.m2 / (self.count - 1) as f64).sqrt()),
            min: some(self.min),
            max: some(self.max),
        }
    }
}

/// The aggregates of one window's kept values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Aggregates {
    /// Kept values in the window.
    pub count: u64,
    /// Mean (`None` when empty).
    pub mean: Option<f64>,
    /// Sample standard deviation, ddof = 1 (`None` below 2 values).
    pub std: Option<f64>,
    /// Smallest value (`None` when empty).
    pub min: Option<f64>,
    /// Largest value (`None` when empty).
    pub max: Option<f64>,
}

impl ByteSize for Aggregates {}

/// A sliding window of [`Summary`] pieces, each tagged with the row it ends at: push at the
/// back, pop from the front, query the summary of all pieces.
///
/// Two stacks (the "two-stacks" sliding-window aggregation of Tangwongsan, Hirzel and
/// Schneider): the front stack stores with every piece the summary of it and all newer
/// pieces on the stack; the back stack keeps a running summary. A query combines two
/// summaries; pops flip the back stack when the front is empty, so each piece is combined a
/// bounded number of times. The arithmetic (and so the rounding) depends only on the
/// sequence of pushes and pops, so replays from a checkpointed state give bit-identical
/// results.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RollingSummary {
    /// (end row, piece, summary of this piece and every newer one on the front stack); the
    /// oldest piece is last.
    front: Vec<(u64, Summary, Summary)>,
    /// (end row, piece), oldest first.
    back: Vec<(u64, Summary)>,
    /// Summary of the back stack.
    back_all: Summary,
}

impl ByteSize for RollingSummary {
    fn heap_bytes(&self) -> usize {
        self.front.capacity() * std::mem::size_of::<(u64, Summary, Summary)>()
            + self.back.capacity() * std::mem::size_of::<(u64, Summary)>()
    }
}

impl RollingSummary {
    /// Appends a piece that ends at row `end` (exclusive).
    pub fn push(&mut self, end: u64, piece: Summary) {
        self.back_all = if self.back.is_empty() {
            piece
        } else {
            self.back_all.combine(&piece)
        };
        self.back.push((end, piece));
    }

    /// Drops the pieces that end at or before row `window_start`.
    pub fn drop_before(&mut self, window_start: u64) {
        loop {
            if self.front.is_empty() {
                if self.back.first().is_none_or(|&(e, _)| e > window_start) {
                    return;
                }
                // Flip: newest first, so the front stack's last element is the oldest.
                let mut acc = Summary::EMPTY;
                for &(end, piece) in self.back.iter().rev() {
                    acc = piece.combine(&acc);
                    self.front.push((end, piece, acc));
                }
                self.back.clear();
                self.back_all = Summary::EMPTY;
            }
            match self.front.last() {
                Some(&(end, _, _)) if end <= window_start => {
                    self.front.pop();
                }
                _ => return,
            }
        }
    }

    /// The summary of every piece in the window.
    #[must_use]
    pub fn summary(&self) -> Summary {
        match self.front.last() {
            Some((_, _, all)) => all.combine(&self.back_all),
            None => self.back_all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_summary_matches_a_direct_one() {
        let values: Vec<f64> = (0..198).map(|i| ((i * 37) % 101) as f64 - 50.0).collect();
        let mut r = RollingSummary::default();
        for (i, chunk) in values.chunks(3).enumerate() {
            let end = ((i + 1) * 3).min(values.len()) as u64;
            r.push(end, Summary::of(chunk));
            let start = end.saturating_sub(30);
            r.drop_before(start);
            let want = Summary::of(&values[start as usize..end as usize]);
            let got = r.summary();
            assert_eq!(got.count, want.count);
            assert_eq!((got.min, got.max), (want.min, want.max));
            assert!((got.mean - want.mean).abs() < 1e-9, "{got:?} {want:?}");
            assert!((got.m2 - want.m2).abs() < 1e-6 * want.m2.max(1.0));
        }
    }
}
