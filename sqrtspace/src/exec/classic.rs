//! Classic mode: stage by stage over the whole range, each stage's outputs in a column.

use crate::bytes::ByteSize;
use crate::error::Error;
use crate::exec::parallel::{register, skip_column, take};
use crate::exec::sink::{Sink, SinkFlow};
use crate::exec::sqrt::produce;
use crate::graph::{needs, Compute, Exec, Has};
use std::ops::{ControlFlow, Range};

/// The generic body of [`Graph::classic_column`](crate::graph::Graph::classic_column): `S` over `range`, in order, into its column.
///
/// # Errors
/// Whatever computing returns.
pub fn classic_column<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    range: Range<u64>,
) -> Result<(), Error> {
    {
        let slot = G::slot_mut(&mut ex.core.slots);
        slot.column_base = range.start;
        let len = usize::try_from(range.end - range.start).unwrap_or(usize::MAX);
        let mut column = Vec::new();
        column
            .try_reserve_exact(len)
            .map_err(|_| Error::OutOfMemory {
                bytes: len.saturating_mul(std::mem::size_of::<S::Output>()),
                what: "a classic-mode column",
            })?;
        slot.column = column;
    }
    register::<G, S>(ex.core);
    for t in range {
        let out = if let Some(o) = G::slot(&ex.core.slots).cache.get(&t) {
            o.clone()
        } else if let Some(o) = take::<G, S>(ex, t)? {
            o
        } else {
            produce::<G, S>(ex, t)?
        };
        ex.core.column_bytes += out.byte_size();
        G::slot_mut(&mut ex.core.slots).column.push(out);
    }
    ex.core.note_live();
    Ok(())
}

pub(crate) fn run_classic<G: Has<S>, S: Compute<G>>(
    ex: &mut Exec<'_, G>,
    range: Range<u64>,
    sink: &mut impl Sink<S::Output>,
) -> Result<ControlFlow<()>, Error> {
    let need = needs::<G>(<G as Has<S>>::INDEX, range.clone());
    ex.core.classic = true;
    let result = (|| {
        for &i in G::TOPO {
            if let Some(r) = need[i].clone() {
                if skip_column(ex.core, i) {
                    continue;
                }
                G::classic_column(ex, i, r)?;
            }
        }
        let slot = G::slot_mut(&mut ex.core.slots);
        let base = slot.column_base;
        let column = std::mem::take(&mut slot.column);
        for (i, o) in column.into_iter().enumerate() {
            let t = base + i as u64;
            if t >= range.start && sink(t, o).flow(t)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    })();
    ex.core.classic = false;
    G::clear_columns(&mut ex.core.slots);
    ex.core.column_bytes = 0;
    result
}
