//! The byte-bounded LRU over all stages' outputs and the byte-bounded checkpoint ring.
//!
//! Both hold only *keys* `(stage index, window)` and byte counts; the values live typed in each
//! stage's [`Slot`](crate::graph::Slot), and the pipeline's generated dispatch removes them on
//! eviction. One budget is shared by all stages.

use std::collections::{HashMap, VecDeque};

/// The hasher of the engine's own integer keys (stage index, window index): `rustc-hash`'s
/// FxHasher. The keys are not attacker-controlled, so SipHash's flooding protection buys
/// nothing here.
pub type IndexHasher = rustc_hash::FxHasher;

/// A `HashMap` keyed by engine indices, hashed with [`IndexHasher`].
pub type IndexMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// A cache key: stage index in the pipeline and window index `t`.
pub type Key = (usize, u64);

/// Bytes a hash table spends per entry of `bucket` bytes: the bucket and its control byte at
/// the table's lowest fill (a `hashbrown` table holds at most 7/8 of its power-of-two
/// capacity and doubles when full, so just after growing it is 7/16 full: `(b + 1) * 16 / 7`).
const fn table_entry_bytes(bucket: usize) -> usize {
    (bucket + 1) * 16 / 7
}

/// Bytes the engine spends per LRU entry besides the value itself ([`ByteSize::byte_size`]
/// of the output, whose inline size `inline` is `size_of` of the output type): the LRU's
/// list node (in a `Vec` that may be half empty after growing), its index entry `Key ->
/// node`, and the stage slot's map entry `window -> output`, each at its worst fill. For an
/// `f32` output that is 192 bytes, 48 times the value: a byte budget that ignored it would
/// hold 48 times more memory than it says.
///
/// [`ByteSize::byte_size`]: crate::ByteSize::byte_size
#[must_use]
pub const fn lru_entry_overhead(inline: usize) -> usize {
    let node = 2 * std::mem::size_of::<Node>();
    let index = table_entry_bytes(std::mem::size_of::<(Key, usize)>());
    // `(u64, O)`: the window index and the output, padded to the output's alignment (at most
    // 8 for the types the engine sees; rounded up to a multiple of 8).
    let slot = table_entry_bytes(8 + inline.div_ceil(8) * 8) - inline;
    node + index + slot
}

/// Bytes the engine spends per checkpoint besides the snapshot itself: the ring's entry (in
/// a `VecDeque` that may be half empty) and the stage slot's `BTreeMap` entry `window ->
/// snapshot` (B-tree nodes of 11 entries, at least half full: at most twice the entry, plus
/// the node header per 5.5 entries), for a snapshot of inline size `inline`.
#[must_use]
pub const fn ring_entry_overhead(inline: usize) -> usize {
    let order = 2 * std::mem::size_of::<(Key, usize, bool)>();
    let map = 2 * (8 + inline) - inline + 24;
    order + map
}

const NIL: usize = usize::MAX;

#[derive(Debug, Clone)]
struct Node {
    key: Key,
    bytes: usize,
    pins: u32,
    prev: usize,
    next: usize,
}

/// Recency order and exact byte accounting of cached outputs (an O(1) doubly linked list in a
/// slab, indexed by a hash map).
///
/// Invariant: [`bytes`](Lru::bytes) never exceeds [`budget`](Lru::budget). Pinned entries
/// (inputs of a stage call in progress) are never evicted; an entry that cannot fit is refused.
#[derive(Debug, Clone)]
pub struct Lru {
    budget: usize,
    bytes: usize,
    high_water: usize,
    evictions: u64,
    nodes: Vec<Node>,
    free: Vec<usize>,
    index: IndexMap<Key, usize>,
    head: usize,
    tail: usize,
}

impl Lru {
    /// An empty LRU holding at most `budget` bytes.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Lru {
            budget,
            bytes: 0,
            high_water: 0,
            evictions: 0,
            nodes: Vec::new(),
            free: Vec::new(),
            index: IndexMap::default(),
            head: NIL,
            tail: NIL,
        }
    }

    /// The budget in bytes.
    #[must_use]
    pub fn budget(&self) -> usize {
        self.budget
    }
    /// Bytes held now.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// The most bytes ever held.
    #[must_use]
    pub fn high_water(&self) -> usize {
        self.high_water
    }
    /// Entries evicted so far.
    #[must_use]
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
    /// Entries held now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }
    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
    /// Whether `key` is held.
    #[must_use]
    pub fn contains(&self, key: Key) -> bool {
        self.index.contains_key(&key)
    }

    fn unlink(&mut self, n: usize) {
        let (prev, next) = (self.nodes[n].prev, self.nodes[n].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
    }

    fn push_front(&mut self, n: usize) {
        self.nodes[n].prev = NIL;
        self.nodes[n].next = self.head;
        if self.head != NIL {
            self.nodes[self.head].prev = n;
        }
        self.head = n;
        if self.tail == NIL {
            self.tail = n;
        }
    }

    /// Changes the budget, evicting least recently used unpinned entries (reported to `evict`)
    /// until the bytes held fit it.
    pub fn set_budget(&mut self, budget: usize, mut evict: impl FnMut(Key)) {
        self.budget = budget;
        self.evict_down_to(budget, &mut evict);
    }

    /// Evicts least recently used unpinned entries (reported to `evict`) until at most `limit`
    /// bytes are held or only pinned entries remain.
    fn evict_down_to(&mut self, limit: usize, evict: &mut impl FnMut(Key)) {
        let mut cur = self.tail;
        while self.bytes > limit && cur != NIL {
            let prev = self.nodes[cur].prev;
            if self.nodes[cur].pins == 0 {
                let k = self.nodes[cur].key;
                self.remove_node(cur);
                self.evictions += 1;
                evict(k);
            }
            cur = prev;
        }
    }

    /// Marks `key` most recently used and pins it (if held). Returns whether it was held.
    pub fn touch_pin(&mut self, key: Key) -> bool {
        let Some(&n) = self.index.get(&key) else {
            return false;
        };
        self.unlink(n);
        self.push_front(n);
        self.nodes[n].pins += 1;
        true
    }

    /// Releases one pin of `key`.
    pub fn unpin(&mut self, key: Key) {
        if let Some(&n) = self.index.get(&key) {
            self.nodes[n].pins = self.nodes[n].pins.saturating_sub(1);
        }
    }

    /// Releases every pin (after an evaluation that stopped on an error).
    pub fn unpin_all(&mut self) {
        for &n in self.index.values() {
            self.nodes[n].pins = 0;
        }
    }

    /// Admits `key` of `bytes` as most recently used, evicting least recently used unpinned
    /// entries (reported to `evict`) until it fits. Returns `false`, holding nothing new, when
    /// it cannot fit even after evicting every unpinned entry. A new entry starts with `pins`
    /// pins.
    ///
    /// Admitting a key that is already held replaces it: its old bytes are released first and
    /// its pins are kept (plus `pins`), in release builds as in debug builds.
    pub fn admit(&mut self, key: Key, bytes: usize, pins: u32, mut evict: impl FnMut(Key)) -> bool {
        let mut pins = pins;
        if let Some(&n) = self.index.get(&key) {
            pins = pins.saturating_add(self.nodes[n].pins);
            self.remove_node(n);
        }
        if bytes > self.budget {
            return false;
        }
        self.evict_down_to(self.budget - bytes, &mut evict);
        if self.bytes + bytes > self.budget {
            return false;
        }
        let node = Node {
            key,
            bytes,
            pins,
            prev: NIL,
            next: NIL,
        };
        let n = if let Some(n) = self.free.pop() {
            self.nodes[n] = node;
            n
        } else {
            self.nodes.push(node);
            self.nodes.len() - 1
        };
        self.push_front(n);
        self.index.insert(key, n);
        self.bytes += bytes;
        self.high_water = self.high_water.max(self.bytes);
        true
    }

    fn remove_node(&mut self, n: usize) {
        self.unlink(n);
        self.bytes -= self.nodes[n].bytes;
        self.index.remove(&self.nodes[n].key);
        self.free.push(n);
    }

    /// Forgets `key` (the caller drops the value). Returns the bytes it held.
    pub fn remove(&mut self, key: Key) -> Option<usize> {
        let n = *self.index.get(&key)?;
        let b = self.nodes[n].bytes;
        self.remove_node(n);
        Some(b)
    }

    /// Forgets the unpinned entries for which `dead(key)` holds (reported to `evict`, not
    /// counted as evictions: nobody can read them again). O(entries held).
    pub fn drop_where(&mut self, mut dead: impl FnMut(Key) -> bool, mut evict: impl FnMut(Key)) {
        let mut cur = self.tail;
        while cur != NIL {
            let prev = self.nodes[cur].prev;
            let k = self.nodes[cur].key;
            if self.nodes[cur].pins == 0 && dead(k) {
                self.remove_node(cur);
                evict(k);
            }
            cur = prev;
        }
    }

    /// Forgets everything (the caller drops the values).
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.free.clear();
        self.index.clear();
        self.head = NIL;
        self.tail = NIL;
        self.bytes = 0;
    }

    /// Keys from most to least recently used.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let k = self.nodes[cur].key;
            cur = self.nodes[cur].next;
            Some(k)
        })
    }
}

/// Byte accounting of checkpoints: first in, first out, within a byte budget. A checkpoint is
/// keyed by the exact window index it was taken before; the typed snapshots live in the stage
/// slots.
///
/// Push mode [protects](Ring::protect) the checkpoint each stateful stage would resume from:
/// admission evicts the oldest unprotected checkpoints only, and refuses a checkpoint that
/// would need a protected one evicted.
#[derive(Debug, Clone)]
pub struct Ring {
    budget: usize,
    bytes: usize,
    high_water: usize,
    saves: u64,
    evictions: u64,
    refusals: u64,
    /// Bytes of the protected checkpoints.
    protected: usize,
    /// Oldest first: key, bytes, protected.
    order: VecDeque<(Key, usize, bool)>,
}

impl Ring {
    /// An empty ring holding at most `budget` bytes.
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Ring {
            budget,
            bytes: 0,
            high_water: 0,
            saves: 0,
            evictions: 0,
            refusals: 0,
            protected: 0,
            order: VecDeque::new(),
        }
    }
    /// Bytes held now.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// The budget in bytes.
    #[must_use]
    pub fn budget(&self) -> usize {
        self.budget
    }
    /// The most bytes ever held.
    #[must_use]
    pub fn high_water(&self) -> usize {
        self.high_water
    }
    /// Checkpoints saved so far.
    #[must_use]
    pub fn saves(&self) -> u64 {
        self.saves
    }
    /// Checkpoints evicted (oldest first, or dropped as unusable) so far.
    #[must_use]
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
    /// Checkpoints refused so far: larger than the budget, or only room after evicting a
    /// protected one.
    #[must_use]
    pub fn refusals(&self) -> u64 {
        self.refusals
    }
    /// Checkpoints held now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.order.len()
    }
    /// Whether no checkpoint is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Admits a checkpoint, evicting the oldest unprotected ones (reported to `evict`) until it
    /// fits. Returns `false`, evicting nothing, when it cannot fit beside the protected ones.
    ///
    /// Admitting a key that is already held replaces it (its old bytes are released first).
    pub fn admit(&mut self, key: Key, bytes: usize, mut evict: impl FnMut(Key)) -> bool {
        if let Some(i) = self.order.iter().position(|e| e.0 == key) {
            let (_, b, p) = self.order.remove(i).expect("in range");
            self.bytes -= b;
            if p {
                self.protected -= b;
            }
        }
        if self.protected + bytes > self.budget {
            self.refusals += 1;
            return false;
        }
        let mut i = 0;
        while self.bytes + bytes > self.budget && i < self.order.len() {
            if self.order[i].2 {
                i += 1;
                continue;
            }
            let (k, b, _) = self.order.remove(i).expect("in range");
            self.bytes -= b;
            self.evictions += 1;
            evict(k);
        }
        self.order.push_back((key, bytes, false));
        self.bytes += bytes;
        self.saves += 1;
        self.high_water = self.high_water.max(self.bytes);
        true
    }

    /// The window index of the latest checkpoint of `stage` at or before window `t`.
    #[must_use]
    pub fn latest(&self, stage: usize, t: u64) -> Option<u64> {
        self.order
            .iter()
            .filter(|((s, u), _, _)| *s == stage && *u <= t)
            .map(|((_, u), _, _)| *u)
            .max()
    }

    /// Protects exactly the checkpoints `keys` (held ones) from eviction, unprotecting the rest.
    pub fn protect(&mut self, keys: &[Key]) {
        self.protected = 0;
        for e in &mut self.order {
            e.2 = keys.contains(&e.0);
            if e.2 {
                self.protected += e.1;
            }
        }
    }

    /// Drops the checkpoints for which `unusable(key)` holds (reported to `evict`).
    pub fn drop_where(
        &mut self,
        mut unusable: impl FnMut(Key) -> bool,
        mut evict: impl FnMut(Key),
    ) {
        let (mut bytes, mut protected, mut evictions) = (self.bytes, self.protected, 0);
        self.order.retain(|&(k, b, p)| {
            if unusable(k) {
                bytes -= b;
                if p {
                    protected -= b;
                }
                evictions += 1;
                evict(k);
                false
            } else {
                true
            }
        });
        self.bytes = bytes;
        self.protected = protected;
        self.evictions += evictions;
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.order.clear();
        self.bytes = 0;
        self.protected = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_evicts_least_recent_and_respects_pins() {
        let mut lru = Lru::new(100);
        let mut gone = Vec::new();
        assert!(lru.admit((0, 0), 40, 0, |k| gone.push(k)));
        assert!(lru.admit((0, 1), 40, 1, |k| gone.push(k)));
        assert!(lru.touch_pin((0, 0)));
        lru.unpin((0, 0));
        // (0,1) is pinned and (0,0) most recent: admitting 40 more evicts (0,0)? no: (0,1) is
        // the LRU tail but pinned, so (0,0) goes.
        lru.touch_pin((0, 0));
        lru.unpin((0, 0));
        assert!(lru.admit((1, 0), 40, 0, |k| gone.push(k)));
        assert_eq!(gone, vec![(0, 0)]);
        assert_eq!(lru.bytes(), 80);
        assert!(!lru.admit((1, 1), 101, 0, |_| unreachable!()));
        assert!(
            !lru.admit((2, 2), 70, 0, |k| gone.push(k)),
            "only 60 unpinned bytes to free"
        );
        assert_eq!(lru.bytes(), 40);
        assert_eq!(lru.keys().collect::<Vec<_>>(), vec![(0, 1)]);
    }

    #[test]
    fn re_admitting_a_held_key_replaces_it() {
        let mut lru = Lru::new(100);
        assert!(lru.admit((0, 0), 40, 1, |_| unreachable!()));
        assert!(lru.admit((0, 0), 30, 0, |_| unreachable!()));
        assert_eq!((lru.len(), lru.bytes()), (1, 30));
        // The pin survives the replacement: the entry cannot be evicted.
        assert!(!lru.admit((0, 1), 80, 0, |_| unreachable!()));
        lru.unpin((0, 0));
        let mut gone = Vec::new();
        assert!(lru.admit((0, 1), 80, 0, |k| gone.push(k)));
        assert_eq!((gone, lru.bytes()), (vec![(0, 0)], 80));

        let mut ring = Ring::new(10);
        assert!(ring.admit((0, 4), 4, |_| unreachable!()));
        assert!(ring.admit((0, 4), 6, |_| unreachable!()));
        assert_eq!((ring.len(), ring.bytes()), (1, 6));
    }

    #[test]
    fn ring_evicts_oldest() {
        let mut ring = Ring::new(10);
        let mut gone = Vec::new();
        assert!(ring.admit((0, 4), 4, |k| gone.push(k)));
        assert!(ring.admit((0, 8), 4, |k| gone.push(k)));
        assert!(ring.admit((0, 12), 4, |k| gone.push(k)));
        assert_eq!(gone, vec![(0, 4)]);
        assert_eq!(ring.bytes(), 8);
        assert!(!ring.admit((0, 16), 11, |_| unreachable!()));
        assert_eq!(ring.latest(0, 11), Some(8));
        assert_eq!(ring.latest(0, 7), None);
        assert_eq!(ring.latest(1, 100), None);
    }

    #[test]
    fn protected_checkpoints_survive_admission() {
        let mut ring = Ring::new(12);
        let mut gone = Vec::new();
        for t in [4, 8, 12] {
            assert!(ring.admit((0, t), 4, |k| gone.push(k)));
        }
        ring.protect(&[(0, 4)]);
        assert!(ring.admit((0, 16), 4, |k| gone.push(k)));
        assert_eq!(gone, vec![(0, 8)], "the oldest unprotected goes");
        assert!(
            !ring.admit((0, 20), 9, |_| unreachable!()),
            "9 bytes fit only by evicting the protected checkpoint"
        );
        assert_eq!(ring.refusals(), 1);
        ring.drop_where(|(_, t)| t < 4 || t == 12, |k| gone.push(k));
        assert_eq!(gone, vec![(0, 8), (0, 12)]);
        assert_eq!((ring.bytes(), ring.len()), (8, 2));
        assert_eq!(ring.latest(0, 100), Some(16));
    }
}
