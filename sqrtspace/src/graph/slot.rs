//! Per-stage typed storage: cached outputs, the classic column, the state and its checkpoints.

use crate::cache::IndexMap;
use crate::stage::Stage;
use std::collections::BTreeMap;

/// A stage's typed storage.
pub struct Slot<S: Stage> {
    pub(crate) cache: IndexMap<u64, S::Output>,
    pub(crate) column_base: u64,
    pub(crate) column: Vec<S::Output>,
    pub(crate) state: Option<S::State>,
    pub(crate) cursor: u64,
    pub(crate) checkpoints: BTreeMap<u64, S::State>,
    pub(crate) output_checkpoints: BTreeMap<u64, S::Output>,
    /// Spent outputs for the stage's `#[out]` parameter (see [`crate::graph::pool`]).
    pub(crate) pool: Vec<S::Output>,
}

/// Marks an output snapshot's window index in the checkpoint rings' keys (windows stay far
/// below 2^63).
pub(crate) const OUTPUT_KEY: u64 = 1 << 63;

impl<S: Stage> Default for Slot<S> {
    fn default() -> Self {
        Slot {
            cache: IndexMap::default(),
            column_base: 0,
            column: Vec::new(),
            state: None,
            cursor: 0,
            checkpoints: BTreeMap::new(),
            output_checkpoints: BTreeMap::new(),
            pool: Vec::new(),
        }
    }
}

impl<S: Stage> Slot<S> {
    /// The cached output at `t`, if any.
    #[must_use]
    pub fn cached(&self, t: u64) -> Option<&S::Output> {
        self.cache.get(&t)
    }
    /// The checkpoint taken exactly before window `t`; `None` at any other index.
    #[must_use]
    pub fn checkpoint(&self, t: u64) -> Option<&S::State> {
        self.checkpoints.get(&t)
    }
    /// Window indices of the checkpoints held, ascending.
    pub fn checkpoint_indices(&self) -> impl Iterator<Item = u64> + '_ {
        self.checkpoints.keys().copied()
    }
    /// The output snapshot of window `t` in the checkpoint ring (see
    /// [`crate::cost::checkpointed_outputs`]); `None` at any other index.
    #[must_use]
    pub fn output_checkpoint(&self, t: u64) -> Option<&S::Output> {
        self.output_checkpoints.get(&t)
    }
    /// Window indices of the output snapshots held, ascending.
    pub fn output_checkpoint_indices(&self) -> impl Iterator<Item = u64> + '_ {
        self.output_checkpoints.keys().copied()
    }
    pub(crate) fn column_get(&self, t: u64) -> Option<&S::Output> {
        let i = t.checked_sub(self.column_base)?;
        self.column.get(usize::try_from(i).ok()?)
    }
    pub(crate) fn evict_output(&mut self, t: u64) {
        if let Some(o) = self.cache.remove(&t) {
            self.recycle_evicted(o);
        }
    }
    pub(crate) fn evict_checkpoint(&mut self, t: u64) {
        if t & OUTPUT_KEY == 0 {
            self.checkpoints.remove(&t);
        } else {
            self.output_checkpoints.remove(&(t & !OUTPUT_KEY));
        }
    }
    pub(crate) fn clear_column(&mut self) {
        self.column = Vec::new();
        self.column_base = 0;
    }
    pub(crate) fn clear_all(&mut self) {
        *self = Slot::default();
    }
}
