//! The evaluation context the runtime traits are written against: [`Core`] (the engine state
//! shared by all stages: caches' accounting, parameters, counters), [`Exec`] (one evaluation in
//! progress: the core and the frames it reads) and [`Held`] (where a fetched output is).
//! Engine internals: reachable only through the hidden `__private` module for the macros.

use crate::bytes::ByteSize;
use crate::cache::{Lru, Ring};
use crate::config::Config;
use crate::error::Error;
use crate::graph::frames::Frames;
use crate::graph::traits::{Graph, Has};
use crate::metrics::Counters;
use crate::stage::Stage;

/// Where a fetched output is: in a classic column, in the LRU (pinned until released), owned
/// by the caller (it did not fit), or missing (a lookback before window 0).
#[derive(Debug)]
pub enum Held<O> {
    /// In the stage's classic column.
    Column,
    /// In the LRU, pinned.
    Cached,
    /// Computed and handed over.
    Owned(O),
    /// Before the start of the stream.
    Missing,
}

/// Engine state shared by all stages: caches' accounting, parameters, counters.
pub struct Core<G: Graph> {
    pub(crate) slots: G::Slots,
    pub(crate) lru: Lru,
    pub(crate) ring: Ring,
    /// Output snapshots: their own FIFO ring (a quarter of `checkpoint_bytes`), so they never
    /// evict the state snapshots that bound replay.
    pub(crate) output_ring: Ring,
    /// Per stage: whether its outputs are snapshotted every k windows (from the plan).
    pub(crate) save_output: Vec<bool>,
    /// Shared with the worker threads of parallel evaluation.
    pub(crate) params: std::sync::Arc<G::Params>,
    pub(crate) config: Config,
    pub(crate) k: u64,
    pub(crate) counters: Counters,
    pub(crate) classic: bool,
    pub(crate) column_bytes: usize,
    /// Bytes of outputs computed for the window being evaluated, held outside the LRU until
    /// their consumer releases them.
    pub(crate) inflight_bytes: usize,
    /// Bytes of the spent outputs held in the stages' pools for `#[out]` parameters
    /// ([`crate::graph::pool`]).
    pub(crate) pool_bytes: usize,
    /// Per stage: whether any output may be read twice (several consumers, a lookback, or a
    /// stateful stage's replay). Outputs read exactly once are never offered to the LRU.
    pub(crate) reused: Vec<bool>,
    /// Pins may be left over from an evaluation that stopped on an error.
    pub(crate) pins_dirty: bool,
    /// Per stage: the window its state is positioned before (0 for pure stages), for push
    /// mode's trimming.
    pub(crate) cursors: Vec<u64>,
    /// Parallel evaluation: the type-erased stage entry points, the outputs computed ahead
    /// for the running evaluation, and the probe's timings ([`crate::exec::parallel`]).
    pub(crate) workers: crate::graph::workers::Workers<G>,
}

impl<G: Graph> Core<G> {
    /// Starts an evaluation: clears pins an earlier evaluation left when it stopped on an error.
    pub(crate) fn begin(&mut self) {
        self.inflight_bytes = 0;
        if self.pins_dirty {
            self.lru.unpin_all();
        }
        self.pins_dirty = true;
    }

    /// Ends an evaluation that completed: every pin was released.
    pub(crate) fn end(&mut self) {
        self.pins_dirty = false;
    }

    /// Sets the LRU budget, evicting down to it.
    pub(crate) fn set_lru_budget(&mut self, budget: usize) {
        if budget != self.lru.budget() {
            let Core { lru, slots, .. } = self;
            let ((), pooled) = crate::graph::pool::evicting(|| {
                lru.set_budget(budget, |(s, u)| G::evict_output(slots, s, u));
            });
            self.pool_bytes += pooled;
        }
    }

    pub(crate) fn note_live(&mut self) {
        self.note_live_plus(0);
    }

    /// Updates the live-bytes high-water mark with `extra` bytes held besides the LRU, the
    /// ring, the columns and the outputs in flight.
    pub(crate) fn note_live_plus(&mut self, extra: usize) {
        let live = self.lru.bytes()
            + self.ring.bytes()
            + self.output_ring.bytes()
            + self.column_bytes
            + self.inflight_bytes
            + self.pool_bytes
            + self.workers.ahead_bytes()
            + extra;
        self.counters.live_bytes_high_water = self.counters.live_bytes_high_water.max(live);
    }

    /// Accounts an output held outside the LRU until [`Exec::release`].
    pub(crate) fn hold_owned(&mut self, bytes: usize) {
        self.inflight_bytes += bytes;
        self.note_live();
    }
}

/// One evaluation in progress: the engine state and the frames it reads.
pub struct Exec<'a, G: Graph> {
    /// Engine state.
    pub core: &'a mut Core<G>,
    /// Raw frames.
    pub frames: Frames<'a, G::Sample>,
}

impl<G: Graph> Exec<'_, G> {
    /// The runtime parameters.
    #[must_use]
    pub fn params(&self) -> &G::Params {
        &self.core.params
    }

    /// The output that `held` refers to (stage `S`, window `t`).
    ///
    /// # Panics
    /// If `held` is `Cached` or `Column` and the entry is gone: pins make that impossible.
    #[must_use]
    pub fn resolve<'h, S: Stage>(
        &'h self,
        held: &'h Held<S::Output>,
        t: u64,
    ) -> Option<&'h S::Output>
    where
        G: Has<S>,
    {
        match held {
            Held::Owned(o) => Some(o),
            Held::Missing => None,
            Held::Cached => Some(
                G::slot(&self.core.slots)
                    .cache
                    .get(&t)
                    .expect("a pinned LRU entry is present"),
            ),
            Held::Column => Some(
                G::slot(&self.core.slots)
                    .column_get(t)
                    .expect("a classic column holds its range"),
            ),
        }
    }

    /// The output that `held` refers to, for a fetch at offset 0 (never missing).
    ///
    /// # Panics
    /// If `held` is `Missing` (only lookbacks before window 0 are).
    #[must_use]
    pub fn resolve_now<'h, S: Stage>(&'h self, held: &'h Held<S::Output>, t: u64) -> &'h S::Output
    where
        G: Has<S>,
    {
        self.resolve::<S>(held, t)
            .expect("an offset-0 input is never missing")
    }

    /// Releases the pin that `fetch` took on a cached output.
    pub fn release<S: Stage>(&mut self, held: &Held<S::Output>, t: u64)
    where
        G: Has<S>,
    {
        match held {
            Held::Cached => self.core.lru.unpin((<G as Has<S>>::INDEX, t)),
            Held::Owned(o) => {
                self.core.inflight_bytes = self.core.inflight_bytes.saturating_sub(o.byte_size());
            }
            Held::Column | Held::Missing => {}
        }
    }

    /// A buffer for the output of `S` (its `#[out]` parameter): a spent output from the stage's
    /// pool, else `Default::default()`. Its contents are stale: the stage overwrites them (see
    /// [`crate::graph::pool`]).
    pub fn take_buffer<S: Stage>(&mut self) -> S::Output
    where
        G: Has<S>,
        S::Output: crate::stage::StageBuffer,
    {
        match G::slot_mut(&mut self.core.slots).take_pooled() {
            Some((o, bytes)) => {
                self.core.pool_bytes -= bytes;
                o
            }
            None => S::Output::default(),
        }
    }

    /// [`release`](Self::release), by value: an output read once (held outside the LRU) is
    /// spent after this call and goes back to its stage's pool when that stage has one.
    pub fn release_spent<S: Stage>(&mut self, held: Held<S::Output>, t: u64)
    where
        G: Has<S>,
    {
        match held {
            Held::Owned(o) if S::REUSES_OUTPUT => {
                let bytes = o.byte_size();
                self.core.inflight_bytes = self.core.inflight_bytes.saturating_sub(bytes);
                self.core.pool_bytes += G::slot_mut(&mut self.core.slots).recycle(o);
            }
            other => self.release::<S>(&other, t),
        }
    }

    /// Fetches the output of `S` at `t - offset`, or [`Held::Missing`] before window 0.
    ///
    /// # Errors
    /// Whatever computing it returns.
    pub fn fetch_back<S: Stage>(&mut self, t: u64, offset: u64) -> Result<Held<S::Output>, Error>
    where
        G: Has<S>,
    {
        match t.checked_sub(offset) {
            Some(u) => <G as Has<S>>::fetch(self, u),
            None => Ok(Held::Missing),
        }
    }
}
