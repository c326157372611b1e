//! Depth-first evaluation (sqrt mode, and push mode): fetch from the column or the LRU, else
//! compute (replaying state from the nearest checkpoint), offer to the LRU, and snapshot state
//! and outputs into the checkpoint rings every k windows.

use crate::bytes::ByteSize;
use crate::cache::{lru_entry_overhead, ring_entry_overhead};
use crate::error::Error;
use crate::exec::parallel::{register, take};
use crate::graph::workers::timed;
use crate::graph::{Compute, Core, Exec, Graph, Has, Held, OUTPUT_KEY};
use crate::stage::Stage;

/// The generic body of [`Has::fetch`]: column, then LRU (hit), else compute and offer the
/// result to the LRU.
///
/// # Errors
/// Whatever computing it returns.
pub fn fetch<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    t: u64,
) -> Result<Held<S::Output>, Error> {
    let idx = <G as Has<S>>::INDEX;
    let slot = G::slot(&ex.core.slots);
    if slot.column_get(t).is_some() {
        return Ok(Held::Column);
    }
    // Outputs read once are never offered to the LRU: no lookup for them.
    if ex.core.reused[idx] && ex.core.lru.touch_pin((idx, t)) {
        ex.core.counters.stages[idx].cache_hits += 1;
        return Ok(Held::Cached);
    }
    let out = restore_or_produce::<G, S>(ex, t)?;
    if !ex.core.reused[idx] {
        ex.core.hold_owned(out.byte_size());
        return Ok(Held::Owned(out));
    }
    let held = offer::<G, S>(ex.core, t, out, 1);
    if let Held::Owned(o) = &held {
        ex.core.hold_owned(o.byte_size());
    }
    Ok(held)
}

/// Offers an output to the LRU; returns where it ended up.
fn offer<G: Has<S>, S: Stage>(
    core: &mut Core<G>,
    t: u64,
    out: S::Output,
    pins: u32,
) -> Held<S::Output> {
    let idx = <G as Has<S>>::INDEX;
    let bytes = out.byte_size() + lru_entry_overhead(std::mem::size_of::<S::Output>());
    let Core { lru, slots, .. } = core;
    let (admitted, pooled) = crate::graph::pool::evicting(|| {
        lru.admit((idx, t), bytes, pins, |(s, u)| G::evict_output(slots, s, u))
    });
    core.pool_bytes += pooled;
    if admitted {
        G::slot_mut(&mut core.slots).cache.insert(t, out);
        core.note_live();
        Held::Cached
    } else {
        Held::Owned(out)
    }
}

/// Computes `S` at `t`, replaying state from the nearest checkpoint when `S` is stateful.
pub(crate) fn produce<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    t: u64,
) -> Result<S::Output, Error> {
    let idx = <G as Has<S>>::INDEX;
    if !S::META.stateful {
        count(ex.core, idx, t, false);
        return timed(ex, idx, |ex| {
            S::compute(ex, t, &mut S::init_state(&ex.core.params))
        });
    }
    let slot = G::slot_mut(&mut ex.core.slots);
    let (mut state, mut cursor) = match slot.state.take() {
        Some(s) => (s, slot.cursor),
        None => (S::init_state(&ex.core.params), 0),
    };
    // The nearest checkpoint at or before t, if it beats the current position.
    let restore = if cursor == t {
        None
    } else {
        slot.checkpoints.range(..=t).next_back().map(|(&c, _)| c)
    };
    if cursor > t || restore.is_some_and(|c| c > cursor) {
        match restore {
            Some(c) => {
                state = slot.checkpoints[&c].clone();
                cursor = c;
            }
            None => {
                state = S::init_state(&ex.core.params);
                cursor = 0;
            }
        }
        ex.core.counters.stages[idx].restores += 1;
    }
    let result = (|| {
        while cursor < t {
            count(ex.core, idx, cursor, true);
            let out = timed(ex, idx, |ex| S::compute(ex, cursor, &mut state))?;
            cursor += 1;
            checkpoint::<G, S>(ex.core, cursor, &state);
            if !ex.core.classic && ex.core.reused[idx] && !ex.core.lru.contains((idx, cursor - 1)) {
                let _ = offer::<G, S>(ex.core, cursor - 1, out, 0);
            }
        }
        count(ex.core, idx, t, false);
        let out = timed(ex, idx, |ex| S::compute(ex, t, &mut state))?;
        cursor += 1;
        checkpoint::<G, S>(ex.core, cursor, &state);
        Ok(out)
    })();
    let slot = G::slot_mut(&mut ex.core.slots);
    if result.is_ok() {
        slot.state = Some(state);
        slot.cursor = cursor;
        ex.core.cursors[idx] = cursor;
    } else {
        // The state was consumed: the next call starts from the initial state.
        ex.core.cursors[idx] = 0;
    }
    result
}

/// The output of `S` at `t` from its snapshot in the output ring, else computed (and
/// snapshotted when the plan says so).
fn restore_or_produce<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    t: u64,
) -> Result<S::Output, Error> {
    if let Some(o) = saved_output::<G, S>(ex.core, t) {
        return Ok(o);
    }
    register::<G, S>(ex.core);
    let o = match take::<G, S>(ex, t)? {
        Some(o) => o,
        None => produce::<G, S>(ex, t)?,
    };
    save_output::<G, S>(ex.core, t, &o);
    Ok(o)
}

/// The output snapshot of `S` at exactly `t`, if the plan checkpoints its outputs and one is
/// held (counted as a checkpoint hit).
fn saved_output<G: Has<S>, S: Stage>(core: &mut Core<G>, t: u64) -> Option<S::Output> {
    let idx = <G as Has<S>>::INDEX;
    if !core.save_output[idx] || !t.is_multiple_of(core.k) {
        return None;
    }
    let o = G::slot(&core.slots).output_checkpoints.get(&t)?.clone();
    core.counters.stages[idx].checkpoint_hits += 1;
    Some(o)
}

/// Snapshots the output of `S` at `t` into the output ring when the plan checkpoints its
/// outputs and `t` is a multiple of k.
fn save_output<G: Has<S>, S: Stage>(core: &mut Core<G>, t: u64, out: &S::Output) {
    let idx = <G as Has<S>>::INDEX;
    if core.classic || !core.save_output[idx] || !t.is_multiple_of(core.k) {
        return;
    }
    if G::slot(&core.slots).output_checkpoints.contains_key(&t) {
        return;
    }
    let snapshot = out.clone();
    let Core {
        output_ring, slots, ..
    } = core;
    let bytes = snapshot.byte_size() + ring_entry_overhead(std::mem::size_of::<S::Output>());
    if output_ring.admit((idx, t | OUTPUT_KEY), bytes, |(s, u)| {
        G::evict_checkpoint(slots, s, u)
    }) {
        G::slot_mut(slots).output_checkpoints.insert(t, snapshot);
        core.note_live();
    }
}

fn count<G: Graph>(core: &mut Core<G>, idx: usize, t: u64, replay: bool) {
    let c = &mut core.counters.stages[idx];
    c.evaluations += 1;
    if replay {
        c.replayed_windows += 1;
    }
    if t < c.computed_to {
        c.recomputes += 1;
    } else {
        c.computed_to = t + 1;
    }
}

fn checkpoint<G: Has<S>, S: Stage>(core: &mut Core<G>, cursor: u64, state: &S::State) {
    if core.classic || !cursor.is_multiple_of(core.k) {
        return;
    }
    let idx = <G as Has<S>>::INDEX;
    if G::slot(&core.slots).checkpoints.contains_key(&cursor) {
        return;
    }
    let snapshot = state.clone();
    let Core { ring, slots, .. } = core;
    let bytes = snapshot.byte_size() + ring_entry_overhead(std::mem::size_of::<S::State>());
    if ring.admit((idx, cursor), bytes, |(s, u)| {
        G::evict_checkpoint(slots, s, u)
    }) {
        G::slot_mut(slots).checkpoints.insert(cursor, snapshot);
        core.note_live();
    }
}

/// The generic body of one entry of [`Graph::probe`]: the byte size of `S` at `t`.
///
/// # Errors
/// Whatever computing returns.
pub fn probe_stage<G: Has<S>, S: Compute<G>>(ex: &mut Exec<'_, G>, t: u64) -> Result<usize, Error> {
    register::<G, S>(ex.core);
    let held = <G as Has<S>>::fetch(ex, t)?;
    let bytes = ex.resolve::<S>(&held, t).map_or(0, ByteSize::byte_size);
    ex.release::<S>(&held, t);
    Ok(bytes)
}

/// The output of a single output stage (or an evaluation's target) at `t`, owned: a clone
/// when cached, else computed without caching it (nothing else reads it).
///
/// # Errors
/// Whatever computing it returns.
pub fn fetch_owned<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    t: u64,
) -> Result<S::Output, Error> {
    let idx = <G as Has<S>>::INDEX;
    if ex.core.reused[idx] {
        if let Some(o) = G::slot(&ex.core.slots).cache.get(&t) {
            ex.core.counters.stages[idx].cache_hits += 1;
            return Ok(o.clone());
        }
    }
    let out = restore_or_produce::<G, S>(ex, t)?;
    ex.core.note_live_plus(out.byte_size());
    Ok(out)
}

/// The output of one of several output stages at `t`, owned: fetched like an input (so an
/// output that another output stage also reads is computed once and offered to the LRU), then
/// moved out or cloned, and released.
///
/// # Errors
/// Whatever computing it returns.
pub fn fetch_output<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    t: u64,
) -> Result<S::Output, Error> {
    let held = <G as Has<S>>::fetch(ex, t)?;
    let out = match held {
        Held::Owned(o) => {
            ex.core.inflight_bytes = ex.core.inflight_bytes.saturating_sub(o.byte_size());
            return Ok(o);
        }
        ref other => ex.resolve_now::<S>(other, t).clone(),
    };
    ex.release::<S>(&held, t);
    ex.core.note_live_plus(out.byte_size());
    Ok(out)
}
