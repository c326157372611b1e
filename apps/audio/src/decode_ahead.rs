//! Decoding on its own thread, overlapped with evaluation: [`decoded_ahead`] gathers the
//! decoder's packets into chunks on a thread named `sqrtspace-decode` and hands them to the
//! evaluation through a bounded channel of [`DECODE_AHEAD`] chunks, so that a streamed run
//! takes about the longer of decoding and evaluating rather than their sum.
//!
//! Backpressure: when the evaluation lags, the channel is full and the decoder thread blocks,
//! so at most `DECODE_AHEAD + 1` chunks are decoded and not yet evaluated. Errors: a decoder
//! error is sent after the samples decoded before it, in order, exactly as the decoder
//! returned it, and ends the thread. When the evaluation stops early (a sink's `Break` or
//! error, a stage's error), the receiver is dropped, the thread's next send fails and it ends
//! (the scope joins it). When no thread can be started, the chunks are decoded on the calling
//! thread as before.

use crate::decode::{AudioReader, DecodeError};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::time::{Duration, Instant};

/// Chunks in flight between the decoder thread and the evaluation: 4 (of 32 Ki samples in
/// the demo, 512 KiB of `f32` in all).
pub const DECODE_AHEAD: usize = 4;

/// One gathered chunk: its samples, or the decoder error met after the previous chunk's
/// samples; with the decoder's time on it and its position after it.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) item: Result<Vec<f32>, DecodeError>,
    /// Time spent in the decoder for this chunk.
    pub(crate) decode: Duration,
    /// Mono samples decoded so far ([`AudioReader::samples_read`]).
    pub(crate) samples_read: u64,
}

/// Where the decoder stands between chunks.
#[derive(Default)]
struct Gather {
    done: bool,
    /// A decoder error met after some samples were gathered: handed out after them, so the
    /// windows decoded before the damage are still evaluated.
    pending: Option<DecodeError>,
}

/// The next chunk of at least `chunk` samples (fewer at the end), or the pending error;
/// `None` at the end.
fn gather(reader: &mut AudioReader, chunk: usize, g: &mut Gather) -> Option<Decoded> {
    if let Some(e) = g.pending.take() {
        return Some(Decoded {
            item: Err(e),
            decode: Duration::ZERO,
            samples_read: reader.samples_read(),
        });
    }
    if g.done {
        return None;
    }
    let mut out = Vec::with_capacity(chunk + 8192);
    let mut decode = Duration::ZERO;
    while out.len() < chunk {
        let start = Instant::now();
        let c = reader.next_chunk();
        decode += start.elapsed();
        match c {
            Ok(Some(c)) => out.extend_from_slice(c),
            Ok(None) => {
                g.done = true;
                break;
            }
            Err(e) => {
                g.done = true;
                if out.is_empty() {
                    return Some(Decoded {
                        item: Err(e),
                        decode,
                        samples_read: reader.samples_read(),
                    });
                }
                g.pending = Some(e);
                break;
            }
        }
    }
    (!out.is_empty()).then(|| Decoded {
        item: Ok(out),
        decode,
        samples_read: reader.samples_read(),
    })
}

/// The decoder thread's body: gathers chunks and sends them until the end, an error, or the
/// receiver is gone.
fn produce(reader: &mut AudioReader, chunk: usize, tx: &SyncSender<Decoded>) {
    let mut g = Gather::default();
    while let Some(d) = gather(reader, chunk, &mut g) {
        if tx.send(d).is_err() {
            return;
        }
    }
}

/// Runs `f` over the chunks of `reader` (at least `chunk` samples each, fewer at the end)
/// decoded on a thread of its own, at most [`DECODE_AHEAD`] ahead of `f`; on the calling
/// thread when no thread can be started. The thread has ended when this returns.
pub(crate) fn decoded_ahead<R>(
    reader: &mut AudioReader,
    chunk: usize,
    f: impl FnOnce(&mut dyn Iterator<Item = Decoded>) -> R,
) -> R {
    std::thread::scope(|s| {
        // The reader is handed over only once the thread runs, so that it stays here if the
        // thread cannot start.
        let (give, take) = sync_channel::<&mut AudioReader>(1);
        let (tx, rx) = sync_channel::<Decoded>(DECODE_AHEAD);
        let started = std::thread::Builder::new()
            .name("sqrtspace-decode".into())
            .spawn_scoped(s, move || {
                if let Ok(r) = take.recv() {
                    produce(r, chunk, &tx);
                }
            });
        if started.is_ok() {
            if let Err(back) = give.send(reader) {
                let reader = back.0;
                let mut g = Gather::default();
                return f(&mut std::iter::from_fn(|| gather(reader, chunk, &mut g)));
            }
            // Dropping the receiver at the end of `f` ends the thread.
            let mut chunks = rx.into_iter();
            f(&mut chunks)
        } else {
            let mut g = Gather::default();
            f(&mut std::iter::from_fn(|| gather(reader, chunk, &mut g)))
        }
    })
}
