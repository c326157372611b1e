//! Frames of varying length: windows over a non-decreasing key carried by every sample (a
//! timestamp, say), the engine's second framing beside the count framing of
//! [`Config::window`](crate::Config::window) / [`Config::hop`](crate::Config::hop).
//!
//! # The framing
//! In general frame `t` is samples `[start(t), end(t))` with `start` and `end` non-decreasing
//! in `t`: frames may be empty and may overlap. The count framing is the special case
//! `start(t) = t*H`, `end(t) = t*H + W`. With [`KeyWindows`] `{ every, period }`, each sample
//! `i` carries a key `k_i` (non-decreasing in `i`) and window `t` covers the keys
//!
//! ```text
//! [origin + t*every, origin + t*every + period)      (half-open: closed="left")
//! ```
//!
//! so `start(t)` is the number of samples with a key below `origin + t*every`, and `end(t)`
//! the number below `origin + t*every + period`. This is Polars' `group_by_dynamic` with its
//! defaults: `origin` is the first key truncated to a multiple of `every`
//! (`start_by="window"`, `offset=0`: `k_0 - k_0.rem_euclid(every)`), windows are closed on the
//! left (`closed="left"`), a window is labelled by its start (`label="left"`), and no boundary
//! columns are added (`include_boundaries=false`). `period >= every` is required
//! ([`ConfigError::PeriodShorterThanEvery`](crate::ConfigError::PeriodShorterThanEvery)), so
//! every sample falls in at least one window, as `hop <= window` does for the count framing.
//!
//! # Which windows exist
//! Windows are numbered `0, 1, 2, ...` from the origin and **every** index is evaluated,
//! including windows that hold no sample (a gap in the keys): the stages see an empty frame,
//! and lookback, state and checkpoints stay per window index, as with the count framing.
//! (Polars emits no row for an empty window; an application that wants its rows drops them,
//! as `sqrtspace-logs` does.) The stream's windows are those that start at or before its last
//! key: `floor((k_last - origin) / every) + 1` of them, none for an empty stream.
//!
//! # Streaming
//! While the stream is open, window `t` is complete once a key `>= origin + t*every + period`
//! has arrived (keys never go back, so nothing more can fall in it); the windows still open
//! complete when the stream ends ([`Pipeline::close`](crate::Pipeline::close), or the end of
//! [`Pipeline::stream_keyed`](crate::Pipeline::stream_keyed)). Keys travel beside the samples
//! (`push_keyed(keys, samples)`), are buffered with them and trimmed with them; boundaries are
//! found by binary search over the buffered keys, so an empty window costs no memory.
//!
//! # Memory
//! The input buffer holds the samples of the live frames: at most `period x` the highest
//! sample rate (samples per key unit) plus the history a replay may read, as for the count
//! framing. The budget is the same `input_buffer_blocks x window` samples, `window` being
//! then only the unit of that budget; a window that cannot complete within it is
//! [`Error::FrameTooLarge`], naming the window and the knobs.

use crate::error::Error;

/// Time windows: window `t` covers keys `[origin + t*every, origin + t*every + period)` (see
/// the [module docs](self) for the origin, which windows exist and streaming).
///
/// Keys are `i64` in any unit (nanoseconds, milliseconds, seconds...); `every` and `period` are
/// in the same unit. Set with [`Config::with_key_windows`](crate::Config::with_key_windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyWindows {
    /// Distance between window starts, in key units (`> 0`).
    pub every: i64,
    /// Length of a window, in key units (`>= every`).
    pub period: i64,
}

impl KeyWindows {
    /// The origin (start of window 0) for a stream whose first key is `first`: `first`
    /// truncated down to a multiple of `every` (Polars' `group_by_dynamic` default).
    #[must_use]
    pub fn origin(self, first: i64) -> i128 {
        i128::from(first) - i128::from(first.rem_euclid(self.every.max(1)))
    }

    /// The first key of window `t`: `origin + t*every`.
    #[must_use]
    pub fn start_key(self, origin: i128, t: u64) -> i128 {
        origin + i128::from(t) * i128::from(self.every)
    }

    /// The key just past window `t`: `origin + t*every + period`.
    #[must_use]
    pub fn end_key(self, origin: i128, t: u64) -> i128 {
        self.start_key(origin, t) + i128::from(self.period)
    }

    /// Windows complete while the stream is open and its latest key is `last`: those whose
    /// end key is at most `last`.
    #[must_use]
    pub fn complete_windows(self, origin: i128, last: i64) -> u64 {
        let d = i128::from(last) - origin - i128::from(self.period);
        if d < 0 {
            0
        } else {
            to_u64(d / i128::from(self.every) + 1)
        }
    }

    /// Windows of an ended stream whose last key is `last`: those starting at or before it,
    /// `floor((last - origin) / every) + 1`.
    #[must_use]
    pub fn all_windows(self, origin: i128, last: i64) -> u64 {
        let d = i128::from(last) - origin;
        if d < 0 {
            0
        } else {
            to_u64(d / i128::from(self.every) + 1)
        }
    }

    /// The sample ranges of every window of a whole, ended stream with these `keys` (for
    /// tests and callers that frame by hand): `result[t] = start(t)..end(t)`.
    ///
    /// # Errors
    /// [`Error::KeysBackwards`] when a key is below the one before it.
    pub fn frames_of(self, keys: &[i64]) -> Result<Vec<std::ops::Range<usize>>, Error> {
        check_keys(keys, None, 0)?;
        let (Some(&first), Some(&last)) = (keys.first(), keys.last()) else {
            return Ok(Vec::new());
        };
        let origin = self.origin(first);
        Ok((0..self.all_windows(origin, last))
            .map(|t| {
                let s = self.start_key(origin, t);
                let e = self.end_key(origin, t);
                below(keys, s)..below(keys, e)
            })
            .collect())
    }
}

/// How many of the (non-decreasing) `keys` are below `key`.
pub(crate) fn below(keys: &[i64], key: i128) -> usize {
    keys.partition_point(|&k| i128::from(k) < key)
}

/// Checks that `keys` never go back, after a previous key `previous` (if any); `offset` is the
/// absolute index of `keys[0]`, for the error.
///
/// # Errors
/// [`Error::KeysBackwards`] at the first key below its predecessor.
pub(crate) fn check_keys(keys: &[i64], previous: Option<i64>, offset: u64) -> Result<(), Error> {
    let mut prev = previous;
    for (i, &k) in keys.iter().enumerate() {
        if let Some(p) = prev {
            if k < p {
                return Err(Error::KeysBackwards {
                    index: offset + i as u64,
                    key: k,
                    previous: p,
                });
            }
        }
        prev = Some(k);
    }
    Ok(())
}

fn to_u64(v: i128) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_truncates_like_polars() {
        let w = KeyWindows {
            every: 10,
            period: 30,
        };
        assert_eq!(w.origin(37), 30);
        assert_eq!(w.origin(30), 30);
        assert_eq!(w.origin(-1), -10);
        assert_eq!(w.origin(i64::MIN), i128::from(i64::MIN) - 2);
    }

    #[test]
    fn frames_by_hand() {
        let w = KeyWindows {
            every: 10,
            period: 20,
        };
        // Origin 0: windows [0,20) [10,30) [20,40) [30,50) [40,60) [50,70).
        let keys = [3, 5, 12, 12, 41, 55];
        let f = w.frames_of(&keys).unwrap();
        assert_eq!(f, vec![0..4, 2..4, 4..4, 4..5, 4..6, 5..6]);
        assert!(w.frames_of(&[]).unwrap().is_empty());
        assert_eq!(w.frames_of(&[7]).unwrap(), vec![0..1]);
        assert_eq!(w.complete_windows(0, 41), 3);
        assert_eq!(w.all_windows(0, 55), 6);
    }

    #[test]
    fn backwards_keys_are_a_typed_error() {
        let e = check_keys(&[1, 2, 1], None, 10).unwrap_err();
        assert!(
            matches!(
                e,
                Error::KeysBackwards {
                    index: 12,
                    key: 1,
                    previous: 2
                }
            ),
            "{e}"
        );
        assert!(check_keys(&[5], Some(6), 0).is_err());
        assert!(check_keys(&[6, 6], Some(6), 0).is_ok());
    }
}
