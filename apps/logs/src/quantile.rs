//! Exact quantiles of a window of values: the definition, a per-window baseline
//! ([`naive_quantiles`], `select_nth_unstable`) and the incremental structure the pipeline
//! keeps across hops ([`RollingQuantiles`]).
//!
//! # Definition (NumPy `method="nearest"`)
//!
//! For `n >= 1` values and a percentile `p` in `[0, 100]`, the `p`-th percentile is the
//! element of rank `i` (0-based) of the values sorted ascending, where
//!
//! ```text
//! q = p / 100                      (in f64)
//! i = round_half_even(q * (n - 1)) (the product in f64, then rounded to an integer,
//!                                   ties to the even integer)
//! ```
//!
//! This is exactly NumPy's `np.percentile(a, p, method="nearest")` (NumPy 2.x,
//! `_function_base_impl.py`: `np.around((n - 1) * quantiles).astype(np.intp)`, and
//! `np.around` rounds half to even). Both the product and the rounding are done in binary64
//! as NumPy does, so for `n - 1 = 20` and `p = 95`, `0.95 * 20` rounds to `19.0` and the
//! 20th smallest is returned; for `n = 4` and `p = 50`, `1.5` rounds to `2`. The result is
//! always one of the input values (never interpolated), so ties (duplicates) need no rule:
//! equal values are interchangeable.
//!
//! Values are ordered by IEEE 754 `totalOrder` ([`f64::total_cmp`]): `-inf < ... < -0.0 <
//! +0.0 < ... < +inf`. NaN never reaches these functions: the pipeline drops NaN rows and
//! counts them (see [`crate::pipeline`]). `-0.0` and `+0.0` compare equal in NumPy, so a
//! result may differ from NumPy's in the sign of a zero only.
//!
//! An empty window has no quantiles (`None`).

use sqrtspace::ByteSize;
use std::collections::VecDeque;

/// The rank (0-based, into the ascending order) of the `p`-th percentile of `n >= 1` values:
/// `round_half_even(p / 100 * (n - 1))` in binary64 (see the [module docs](self)).
///
/// # Panics
/// Never; `p` outside `[0, 100]` is clamped, and `n == 0` gives 0.
#[must_use]
pub fn nearest_rank(p: f64, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let q = (p / 100.0).clamp(0.0, 1.0);
    let x = q * (n - 1) as f64;
    // round_ties_even without a libm call: for 0 <= x < 2^52, adding 2^52 rounds to an integer
    // in the default round-to-nearest-even mode, and subtracting it back is exact.
    const TWO52: f64 = 4_503_599_627_370_496.0;
    let i = if x < TWO52 { (x + TWO52) - TWO52 } else { x };
    // `i` is in [0, n - 1] because q is in [0, 1].
    (i as usize).min(n - 1)
}

/// An order-preserving `u64` key of an `f64`: `a.total_cmp(&b) == key(a).cmp(&key(b))`.
/// Sorting keys is faster than sorting with `total_cmp`.
#[inline]
#[must_use]
pub fn key(v: f64) -> u64 {
    let b = v.to_bits();
    // Negative numbers: flip all bits (reverses their order); positive: set the sign bit.
    b ^ ((((b as i64) >> 63) as u64) | (1 << 63))
}

/// The inverse of [`key`].
#[inline]
#[must_use]
pub fn unkey(k: u64) -> f64 {
    let b = if k >> 63 == 1 { k ^ (1 << 63) } else { !k };
    f64::from_bits(b)
}

/// Sorts `keys` ascending: the same result as `sort_unstable`, by an LSD radix sort
/// (`radsort`: 8-bit digits, a counting pass and a scatter per digit, digits equal in all keys
/// skipped) from 64 keys on, the standard library's sort below. About 1.2x faster than
/// `sort_unstable` on blocks of 4096 latency keys (`cargo bench -p sqrtspace-logs --bench logs
/// -- sort_block`); a one-pass bucket sort and a hand-written 11-bit LSD radix sort on
/// `key - min` were not faster than `radsort` there.
#[inline]
pub fn sort_keys(keys: &mut [u64]) {
    if keys.len() >= 64 {
        radsort::sort(keys);
    } else {
        keys.sort_unstable();
    }
}

/// The quantiles at `percentiles` of `values` (any order, no NaN), by the
/// [definition](self), with one `select_nth_unstable` per percentile on a scratch copy: the
/// per-window baseline. `None` for each when `values` is empty.
#[must_use]
pub fn naive_quantiles<const Q: usize>(
    values: &[f64],
    percentiles: &[f64; Q],
    scratch: &mut Vec<u64>,
) -> [Option<f64>; Q] {
    let mut out = [None; Q];
    if values.is_empty() {
        return out;
    }
    scratch.clear();
    scratch.extend(values.iter().map(|&v| key(v)));
    for (o, &p) in out.iter_mut().zip(percentiles) {
        let i = nearest_rank(p, scratch.len());
        let (_, v, _) = scratch.select_nth_unstable(i);
        *o = Some(unkey(*v));
    }
    out
}

/// The first index of the sorted slice `v` whose element fails `pred` (`pred` true on a
/// prefix): `v.partition_point(pred)`, as a branchless binary search (the loop's trip count
/// depends on the length only, and the step is a conditional move).
#[inline]
fn partition_point(v: &[u64], pred: impl Fn(u64) -> bool) -> usize {
    let mut base = 0usize;
    let mut size = v.len();
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = std::hint::select_unpredictable(pred(v[mid]), mid, base);
        size -= half;
    }
    base + usize::from(size == 1 && pred(v[base]))
}

/// Two [`partition_point`]s of the same slice run in lockstep (same trip count), so that
/// their dependent loads overlap: `(partition_point(v, a), partition_point(v, b))`.
#[inline]
fn partition_points(v: &[u64], a: impl Fn(u64) -> bool, b: impl Fn(u64) -> bool) -> (usize, usize) {
    let (mut base_a, mut base_b) = (0usize, 0usize);
    let mut size = v.len();
    while size > 1 {
        let half = size / 2;
        let (mid_a, mid_b) = (base_a + half, base_b + half);
        // `select_unpredictable`: a conditional move, not a data-dependent branch.
        base_a = std::hint::select_unpredictable(a(v[mid_a]), mid_a, base_a);
        base_b = std::hint::select_unpredictable(b(v[mid_b]), mid_b, base_b);
        size -= half;
    }
    let last = size == 1;
    (
        base_a + usize::from(last && a(v[base_a])),
        base_b + usize::from(last && b(v[base_b])),
    )
}

/// The element of rank `k` (0-based) of the union of the sorted slices `parts`.
///
/// Picks the middle of the largest remaining range as a pivot, counts the elements below and
/// equal to it in every part by binary search, and keeps the side that holds rank `k`:
/// `O(m log² n)` for `m` parts of up to `n` elements.
///
/// # Panics
/// If `k` is not below the total length.
#[must_use]
pub fn select_sorted(parts: &[&[u64]], k: usize) -> u64 {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    assert!(k < total, "rank {k} of {total} elements");
    // Invariant: the answer lies in some parts[i][lo[i]..hi[i]]; everything before lo[i] is
    // smaller than it and everything from hi[i] on larger; `below` counts the former.
    let m = parts.len();
    let mut lo = vec![0usize; m];
    let mut hi: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    let mut lts = vec![0usize; m];
    let mut les = vec![0usize; m];
    let mut below = 0usize;
    loop {
        let mut j = 0;
        let mut widest = 0;
        for i in 0..m {
            if hi[i] - lo[i] > widest {
                widest = hi[i] - lo[i];
                j = i;
            }
        }
        let pivot = parts[j][(lo[j] + hi[j]) / 2];
        let mut lt = 0;
        let mut le = 0;
        for (i, p) in parts.iter().enumerate() {
            let s = &p[lo[i]..hi[i]];
            let a = partition_point(s, |x| x < pivot);
            let b = a + partition_point(&s[a..], |x| x <= pivot);
            lt += a;
            le += b;
            lts[i] = lo[i] + a;
            les[i] = lo[i] + b;
        }
        if k < below + lt {
            std::mem::swap(&mut hi, &mut lts);
        } else if k < below + le {
            return pivot;
        } else {
            below += le;
            std::mem::swap(&mut lo, &mut les);
        }
    }
}

/// A run of consecutive rows of a window: the rows it spans and how many values it
/// contributed (rows dropped by the filter or NaN contribute none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
struct Piece {
    /// First row (absolute row index in the stream).
    start: u64,
    /// One past the last row.
    end: u64,
    /// Values contributed.
    n: u32,
}

/// Which incremental structure a [`RollingQuantiles`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Sorted blocks of hop-aligned rows, queried with [`select_sorted`]: each value is sorted
    /// once with its block; a query costs `O(m log² H)` for `m <= 2 (W/H + 1)` blocks. For
    /// `W / H <= 64`.
    Blocks,
    /// One sorted vector of the whole window, updated per value by binary search and
    /// insertion/removal (`O(W)` memory moves per value, fast for small `W`), plus the keys
    /// in arrival order to know what leaves; a query is an index. For `W / H > 64` (hop 1
    /// included).
    Sorted,
}

impl Strategy {
    /// The strategy for window `w` and hop `h` rows.
    #[must_use]
    pub fn for_window(w: usize, h: usize) -> Self {
        if w / h.max(1) <= 64 {
            Strategy::Blocks
        } else {
            Strategy::Sorted
        }
    }
}

/// The multiset of kept values of a row window, updated across hops, answering exact
/// quantiles by the [definition](self).
///
/// Feed it with [`push`](Self::push) (the rows that entered the window, as pieces that
/// never straddle a multiple of the hop) and [`drop_before`](Self::drop_before) (the new
/// window start; rows before it leave). Both strategies give the same answers as
/// [`naive_quantiles`] on the window's kept values (property-tested).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RollingQuantiles {
    /// Pieces of the window in row order.
    pieces: VecDeque<Piece>,
    /// `Blocks`: the sorted keys of each piece (parallel to `pieces`).
    blocks: VecDeque<Vec<u64>>,
    /// `Sorted`: the keys in arrival order (what leaves first is at the front).
    fifo: VecDeque<u64>,
    /// `Sorted`: all keys of the window, ascending.
    sorted: Vec<u64>,
    /// Whether the `Sorted` strategy is used (else `Blocks`).
    use_sorted: bool,
    /// Kept values in the window.
    len: usize,
    /// `Blocks`: emptied block buffers kept for reuse (at most 2).
    #[serde(skip)]
    spare: Spare,
    /// The ranks of the last percentiles for the last length ([`Self::ranks`]).
    #[serde(skip)]
    rank_cache: RankCache,
}

/// `(length, percentiles' bits, ranks)` of the last rank computation: not part of the value
/// (equal to any other). The initial length `usize::MAX` matches no window.
#[derive(Debug, Clone)]
struct RankCache(std::cell::Cell<(usize, [u64; 4], [usize; 4])>);

impl Default for RankCache {
    fn default() -> Self {
        RankCache(std::cell::Cell::new((usize::MAX, [0; 4], [0; 4])))
    }
}

impl PartialEq for RankCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for RankCache {}

/// Buffers kept for reuse: not part of the value (equal to any other, cloned empty).
#[derive(Debug, Default)]
struct Spare(Vec<Vec<u64>>);

impl Clone for Spare {
    fn clone(&self) -> Self {
        Spare::default()
    }
}

impl PartialEq for Spare {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Spare {}

impl ByteSize for RollingQuantiles {
    fn heap_bytes(&self) -> usize {
        self.pieces.capacity() * std::mem::size_of::<Piece>()
            + self.blocks.capacity() * std::mem::size_of::<Vec<u64>>()
            + self.blocks.iter().map(|b| b.capacity() * 8).sum::<usize>()
            + self.fifo.capacity() * 8
            + self.sorted.capacity() * 8
            + self.spare.0.iter().map(|b| b.capacity() * 8).sum::<usize>()
    }
}

impl RollingQuantiles {
    /// An empty window using `strategy`.
    #[must_use]
    pub fn new(strategy: Strategy) -> Self {
        RollingQuantiles {
            use_sorted: strategy == Strategy::Sorted,
            ..Self::default()
        }
    }

    /// Kept values in the window.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the window holds no kept value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the rows `start..end` with kept `values` (any order, no NaN). Pieces must arrive
    /// in row order, and each must lie within one hop-aligned block (the pipeline splits at
    /// multiples of the hop), so that window starts fall on piece boundaries.
    pub fn push(&mut self, start: u64, end: u64, values: &[f64]) {
        if self.use_sorted {
            for &v in values {
                let k = key(v);
                let i = partition_point(&self.sorted, |x| x < k);
                self.sorted.insert(i, k);
                self.fifo.push_back(k);
            }
        } else {
            let mut keys = self.spare.0.pop().unwrap_or_default();
            keys.clear();
            keys.extend(values.iter().map(|&v| key(v)));
            sort_keys(&mut keys);
            self.blocks.push_back(keys);
        }
        self.len += values.len();
        self.pieces.push_back(Piece {
            start,
            end,
            n: u32::try_from(values.len()).unwrap_or(u32::MAX),
        });
    }

    /// The strategy in use.
    #[must_use]
    pub fn strategy(&self) -> Strategy {
        if self.use_sorted {
            Strategy::Sorted
        } else {
            Strategy::Blocks
        }
    }

    /// [`push`](Self::push) of values whose [`key`]s are `keys`, already sorted ascending
    /// (as [`sort_keys`] leaves them): the same result, without sorting.
    pub fn push_sorted(&mut self, start: u64, end: u64, keys: &[u64]) {
        debug_assert!(keys.is_sorted());
        if self.use_sorted {
            for &k in keys {
                let i = partition_point(&self.sorted, |x| x < k);
                self.sorted.insert(i, k);
                self.fifo.push_back(k);
            }
        } else {
            let mut block = self.spare.0.pop().unwrap_or_default();
            block.clear();
            block.extend_from_slice(keys);
            self.blocks.push_back(block);
        }
        self.len += keys.len();
        self.pieces.push_back(Piece {
            start,
            end,
            n: u32::try_from(keys.len()).unwrap_or(u32::MAX),
        });
    }

    /// Drops the pieces that end at or before row `window_start`.
    pub fn drop_before(&mut self, window_start: u64) {
        while let Some(p) = self.pieces.front().copied() {
            if p.end > window_start {
                break;
            }
            debug_assert!(p.start < p.end);
            self.pieces.pop_front();
            if self.use_sorted {
                for _ in 0..p.n {
                    let k = self.fifo.pop_front().expect("a key per value");
                    let i = partition_point(&self.sorted, |x| x < k);
                    self.sorted.remove(i);
                }
            } else if let Some(b) = self.blocks.pop_front() {
                if self.spare.0.len() < 2 {
                    self.spare.0.push(b);
                }
            }
            self.len -= p.n as usize;
        }
    }

    /// Slides the window: drops the pieces that end at or before row `window_start`, then
    /// adds `pieces` (`(start, end, kept values)`, in row order, as for [`push`](Self::push)).
    /// The same result as [`drop_before`](Self::drop_before) then `push` for each piece; with
    /// the `Sorted` strategy each leaving value is paired with an entering one and replaced in
    /// place, moving only the values between their two positions.
    pub fn slide<'a>(
        &mut self,
        pieces: impl IntoIterator<Item = (u64, u64, &'a [f64])>,
        window_start: u64,
    ) {
        if !self.use_sorted {
            self.drop_before(window_start);
            for (start, end, values) in pieces {
                self.push(start, end, values);
            }
            return;
        }
        let mut leaving = 0usize;
        while let Some(p) = self.pieces.front().copied() {
            if p.end > window_start {
                break;
            }
            self.pieces.pop_front();
            leaving += p.n as usize;
        }
        for (start, end, values) in pieces {
            for &v in values {
                let k = key(v);
                if leaving > 0 {
                    leaving -= 1;
                    let out = self.fifo.pop_front().expect("a key per value");
                    self.replace(out, k);
                } else {
                    let i = partition_point(&self.sorted, |x| x < k);
                    self.sorted.insert(i, k);
                    self.len += 1;
                }
                self.fifo.push_back(k);
            }
            self.pieces.push_back(Piece {
                start,
                end,
                n: u32::try_from(values.len()).unwrap_or(u32::MAX),
            });
        }
        for _ in 0..leaving {
            let k = self.fifo.pop_front().expect("a key per value");
            let i = partition_point(&self.sorted, |x| x < k);
            self.sorted.remove(i);
            self.len -= 1;
        }
    }

    /// `Sorted`: replaces one occurrence of key `out` by key `k`, keeping the order. Of the
    /// equal copies of `out`, the one nearest `k`'s place leaves, and `k` enters at the end of
    /// its run of equal keys nearest `out`, so only the keys strictly between the two move
    /// (duplicates, common in real data, cost nothing).
    fn replace(&mut self, out: u64, k: u64) {
        let v = &mut self.sorted;
        if k > out {
            // The last copy of `out`; `k` goes before the first key >= k.
            let (p, q) = partition_points(v, |x| x <= out, |x| x < k);
            let p = p - 1;
            v.copy_within(p + 1..q, p);
            v[q - 1] = k;
        } else if k < out {
            // The first copy of `out`; `k` goes after the last key <= k.
            let (p, q) = partition_points(v, |x| x < out, |x| x <= k);
            v.copy_within(q..p, q + 1);
            v[q] = k;
        }
    }

    /// The quantiles at `percentiles` of the window's kept values (`None` when it is empty).
    #[must_use]
    pub fn quantiles<const Q: usize>(&self, percentiles: &[f64; Q]) -> [Option<f64>; Q] {
        let mut out = [None; Q];
        if self.len == 0 {
            return out;
        }
        let ranks = self.ranks(percentiles);
        if self.use_sorted {
            for (o, &i) in out.iter_mut().zip(&ranks) {
                *o = Some(unkey(self.sorted[i]));
            }
        } else {
            let parts: Vec<&[u64]> = self
                .blocks
                .iter()
                .filter(|b| !b.is_empty())
                .map(Vec::as_slice)
                .collect();
            for (o, &i) in out.iter_mut().zip(&ranks) {
                *o = Some(unkey(select_sorted(&parts, i)));
            }
        }
        out
    }

    /// [`nearest_rank`] of each percentile for the current length, remembered for the last
    /// length and up to 4 percentiles (at hop 1 the length rarely changes).
    fn ranks<const Q: usize>(&self, percentiles: &[f64; Q]) -> [usize; Q] {
        let mut r = [0; Q];
        let (n, bits, cached) = self.rank_cache.0.get();
        if Q <= 4 && n == self.len && percentiles.iter().zip(bits).all(|(p, b)| p.to_bits() == b) {
            r.copy_from_slice(&cached[..Q]);
            return r;
        }
        for (o, &p) in r.iter_mut().zip(percentiles) {
            *o = nearest_rank(p, self.len);
        }
        if Q <= 4 {
            let (mut bits, mut cached) = ([0u64; 4], [0usize; 4]);
            for i in 0..Q {
                bits[i] = percentiles[i].to_bits();
                cached[i] = r[i];
            }
            self.rank_cache.0.set((self.len, bits, cached));
        }
        r
    }

    /// Smallest and largest kept value (`None` when empty), by `totalOrder`.
    #[must_use]
    pub fn min_max(&self) -> Option<(f64, f64)> {
        if self.len == 0 {
            return None;
        }
        if self.use_sorted {
            return Some((unkey(self.sorted[0]), unkey(self.sorted[self.len - 1])));
        }
        let mut lo = u64::MAX;
        let mut hi = 0;
        for b in &self.blocks {
            if let (Some(&a), Some(&z)) = (b.first(), b.last()) {
                lo = lo.min(a);
                hi = hi.max(z);
            }
        }
        Some((unkey(lo), unkey(hi)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_sorts_like_the_standard_sort() {
        // A xorshift stream: wide keys, narrow keys (few passes), duplicates, constant digits.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in [0usize, 1, 63, 64, 65, 1000, 4096, 5000] {
            for shape in 0..5 {
                let mut v: Vec<u64> = (0..n)
                    .map(|_| match shape {
                        0 => next(),
                        1 => next() >> 40,
                        2 => next() % 7,
                        3 => key(f64::from((next() % 1000) as u32) / 10.0),
                        _ => (1 << 63) | ((next() % 3) << 22),
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_unstable();
                sort_keys(&mut v);
                assert_eq!(v, want, "n {n} shape {shape}");
            }
        }
    }

    #[test]
    fn key_orders_like_total_cmp() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for a in vals {
            assert_eq!(unkey(key(a)).to_bits(), a.to_bits());
            for b in vals {
                assert_eq!(key(a).cmp(&key(b)), a.total_cmp(&b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn nearest_rank_matches_numpy_rounding() {
        // np.around((n-1)*q): half to even.
        assert_eq!(nearest_rank(50.0, 4), 2); // 1.5 -> 2
        assert_eq!(nearest_rank(50.0, 6), 2); // 2.5 -> 2
        assert_eq!(nearest_rank(50.0, 2), 0); // 0.5 -> 0
        assert_eq!(nearest_rank(95.0, 21), 19); // 0.95*20 = 18.999.. -> 19
        assert_eq!(nearest_rank(99.0, 1), 0);
        assert_eq!(nearest_rank(100.0, 10), 9);
        assert_eq!(nearest_rank(0.0, 10), 0);
        // Values checked against NumPy 2.4.6:
        // np.percentile(np.arange(n), p, method="nearest") for these (p, n).
        for (p, n, i) in [
            (95.0, 32768, 31129),
            (99.0, 32768, 32439),
            (50.0, 32768, 16384),
            (95.0, 1000, 949),
            (99.0, 1000, 989),
            (50.0, 1000, 500),
            (95.0, 11, 10),
            (99.0, 51, 50),
            (50.0, 3, 1),
        ] {
            assert_eq!(nearest_rank(p, n), i, "p{p} of {n}");
        }
    }

    #[test]
    fn select_sorted_finds_every_rank_with_duplicates() {
        let a = [1u64, 3, 3, 7];
        let b = [0u64, 3, 9];
        let c: [u64; 0] = [];
        let d = [3u64, 3];
        let mut all: Vec<u64> = [&a[..], &b, &c, &d].concat();
        all.sort_unstable();
        for (k, want) in all.iter().enumerate() {
            assert_eq!(select_sorted(&[&a, &b, &c, &d], k), *want, "rank {k}");
        }
    }
}
