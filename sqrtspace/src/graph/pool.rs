//! Buffer reuse: the per-stage pools of spent outputs that `#[out]` stages write into.
//!
//! A stage written `fn band(spec: &Vec<f32>, #[out] out: &mut Vec<f32>)` gets, at each call,
//! a buffer taken from its own pool (a `Default` value when the pool is empty) and fills it;
//! the engine returns the output to that pool when nobody can read it again:
//!
//! - an output read exactly once (held outside the LRU) when its consumer releases it, at the
//!   end of the consumer's call;
//! - an output the LRU evicts (budget pressure) or drops as dead (push mode's trimming).
//!
//! Outputs handed to the caller (the sink, `evaluate`, `pull`) are the caller's and never come
//! back. Stages without `#[out]` have no pool: their spent outputs are dropped as before.
//!
//! **Contents guarantee**: a buffer from the pool holds a stale output *of the same stage* (any
//! earlier window, or `Default::default()`): right type, unspecified contents and length. The
//! stage must overwrite it fully (`out.clear(); out.extend(..)`, or `out.resize(n, 0.0)` and then
//! write every element); outputs are then bit-identical to the owned style. The engine does not
//! clear it: zero-filling is the cost the pool removes.
//!
//! **Bounds and accounting**: a pool holds at most [`POOL_CAP`] buffers per stage (per engine
//! state: each worker thread has its own), so what pools hold is at most `POOL_CAP` outputs per
//! `#[out]` stage whatever the stream's length. The bytes held ([`ByteSize`]) are counted
//! exactly in `Core::pool_bytes` and in the live-bytes high-water mark
//! ([`Counters::live_bytes_high_water`](crate::Counters)); `Pipeline::pool_bytes` reports them.
//!
//! Evictions run through the pipeline's generated dispatch (`Graph::evict_output`), which has
//! no access to the engine state: the slot adds the bytes it took into its pool to a
//! thread-local tally, and the callers of the dispatch fold it into `Core::pool_bytes` with
//! `evicting` right after (same thread, no interleaving).

use crate::bytes::ByteSize;
use crate::graph::slot::Slot;
use crate::stage::Stage;
use std::cell::Cell;

/// The most spent outputs a stage's pool keeps (per engine state): one is enough for an output
/// read once (taken back by the next window's call), the second absorbs an eviction that lands
/// before the next call takes the first.
pub const POOL_CAP: usize = 2;

thread_local! {
    /// Bytes moved into pools by evictions since the last [`evicting`] started on this thread.
    static RECYCLED: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f` (which may evict through `Graph::evict_output`) and returns its result with the
/// bytes the evictions moved into pools, to add to `Core::pool_bytes`.
pub(crate) fn evicting<R>(f: impl FnOnce() -> R) -> (R, usize) {
    RECYCLED.with(|c| c.set(0));
    let r = f();
    (r, RECYCLED.with(Cell::take))
}

impl<S: Stage> Slot<S> {
    /// Puts a spent output into the pool when the stage writes into recycled buffers and the
    /// pool has room; returns the bytes it now holds more (0 when `o` was dropped).
    pub(crate) fn recycle(&mut self, o: S::Output) -> usize {
        if !S::REUSES_OUTPUT || self.pool.len() >= POOL_CAP {
            return 0;
        }
        let bytes = o.byte_size();
        self.pool.push(o);
        bytes
    }

    /// [`recycle`](Self::recycle) from an eviction: the bytes go to the thread-local tally that
    /// [`evicting`] returns.
    pub(crate) fn recycle_evicted(&mut self, o: S::Output) {
        let bytes = self.recycle(o);
        if bytes > 0 {
            RECYCLED.with(|c| c.set(c.get() + bytes));
        }
    }

    /// A spent output from the pool and its bytes, if any.
    pub(crate) fn take_pooled(&mut self) -> Option<(S::Output, usize)> {
        let o = self.pool.pop()?;
        let bytes = o.byte_size();
        Some((o, bytes))
    }

    /// Bytes of the buffers in the pool now ([`ByteSize`]).
    #[must_use]
    pub fn pool_bytes(&self) -> usize {
        self.pool.iter().map(ByteSize::byte_size).sum()
    }

    /// Buffers in the pool now.
    #[must_use]
    pub fn pooled(&self) -> usize {
        self.pool.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::StageMeta;

    /// A stage marker with an `#[out]` parameter (pool on).
    struct Out;
    impl Stage for Out {
        type Output = Vec<f32>;
        type State = ();
        const META: StageMeta = StageMeta {
            name: "out",
            id: "tests::out",
            cost: 1,
            stateful: false,
            inputs: &[],
        };
        const REUSES_OUTPUT: bool = true;
    }

    /// The same without `#[out]` (no pool).
    struct Owned;
    impl Stage for Owned {
        type Output = Vec<f32>;
        type State = ();
        const META: StageMeta = Out::META;
    }

    fn bytes(cap: usize) -> usize {
        Vec::<f32>::with_capacity(cap).byte_size()
    }

    #[test]
    fn recycle_counts_exact_bytes_up_to_the_cap() {
        let mut slot = Slot::<Out>::default();
        assert_eq!(slot.recycle(Vec::with_capacity(10)), bytes(10));
        assert_eq!(slot.recycle(Vec::with_capacity(7)), bytes(7));
        // Full: dropped, nothing more held.
        assert_eq!(slot.recycle(Vec::with_capacity(99)), 0);
        assert_eq!(slot.pooled(), POOL_CAP);
        assert_eq!(slot.pool_bytes(), bytes(10) + bytes(7));
        // Taken back with the bytes it was counted with (last in, first out).
        let (o, b) = slot.take_pooled().unwrap();
        assert_eq!((o.capacity(), b), (7, bytes(7)));
        assert_eq!(slot.pool_bytes(), bytes(10));
        assert!(slot.take_pooled().is_some());
        assert!(slot.take_pooled().is_none());
        assert_eq!(slot.pool_bytes(), 0);
    }

    #[test]
    fn stages_without_out_keep_no_pool() {
        let mut slot = Slot::<Owned>::default();
        assert_eq!(slot.recycle(vec![1.0; 4]), 0);
        assert_eq!(slot.pooled(), 0);
    }

    #[test]
    fn evictions_report_the_bytes_they_pooled() {
        let mut slot = Slot::<Out>::default();
        slot.cache.insert(3, Vec::with_capacity(12));
        slot.cache.insert(4, Vec::with_capacity(5));
        let ((), pooled) = evicting(|| {
            slot.evict_output(3);
            slot.evict_output(4);
            // Absent: nothing.
            slot.evict_output(9);
        });
        assert_eq!(pooled, bytes(12) + bytes(5));
        assert_eq!(pooled, slot.pool_bytes());
        assert!(slot.cache.is_empty());
        // The tally starts from zero at each `evicting`.
        let ((), again) = evicting(|| slot.evict_output(3));
        assert_eq!(again, 0);
    }
}
