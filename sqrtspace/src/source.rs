//! Sample sources for streaming: raw little-endian PCM from any [`std::io::Read`] (a file, a
//! pipe, standard input, a socket), read in chunks into one reused buffer.
//!
//! [`Pipeline::stream_reader`](crate::Pipeline::stream_reader) feeds a reader straight into a
//! pipeline; [`RawReader`] is the chunked reader it uses, for callers that drive
//! [`push_samples`](crate::Pipeline::push_samples) themselves. Compressed or containerised
//! audio (WAV, FLAC, Ogg) goes through the `audio` feature's symphonia decoder instead.
//!
//! A stream whose length is not a whole number of samples is an error
//! ([`Error::TruncatedSample`]), reported after every complete sample before it was handed
//! out: nothing is dropped silently.

use crate::bytes::ByteSize;
use crate::error::Error;
use num_complex::Complex;
use std::io::{ErrorKind, Read};

/// A sample type with a fixed little-endian byte encoding.
///
/// Implemented for the integer types, `f32`, `f64` (IEEE 754 binary32/binary64) and
/// [`Complex<T>`] of any of them, read as the real part then the imaginary part (interleaved
/// I/Q, as RTL-SDR and most SDR tools write: `Complex<u8>` for an RTL-SDR capture).
pub trait RawSample: Copy + ByteSize + 'static {
    /// Bytes per sample.
    const BYTES: usize;
    /// Decodes one sample from exactly [`BYTES`](Self::BYTES) little-endian bytes.
    ///
    /// # Panics
    /// If `bytes.len() != BYTES` (the readers of this module always pass exactly that).
    fn from_le_bytes(bytes: &[u8]) -> Self;
}

macro_rules! raw {
    ($($t:ty),*) => {$(
        impl RawSample for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            #[inline]
            fn from_le_bytes(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("exactly BYTES bytes"))
            }
        }
    )*};
}
raw!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);

impl<T: RawSample> RawSample for Complex<T> {
    const BYTES: usize = 2 * T::BYTES;
    #[inline]
    fn from_le_bytes(bytes: &[u8]) -> Self {
        let (re, im) = bytes.split_at(T::BYTES);
        Complex::new(T::from_le_bytes(re), T::from_le_bytes(im))
    }
}

/// Reads samples of type `T` from a byte reader, `chunk` samples at a time, into a buffer it
/// reuses (no allocation per chunk).
///
/// Short reads and [`ErrorKind::Interrupted`] are retried; a chunk is shorter than `chunk`
/// samples only at the end of the stream.
#[derive(Debug)]
pub struct RawReader<R, T> {
    reader: R,
    bytes: Vec<u8>,
    samples: Vec<T>,
    samples_read: u64,
    state: End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Reading,
    /// End of stream reached with this many bytes of an incomplete last sample.
    Eof(usize),
    Done,
}

impl<R: Read, T: RawSample> RawReader<R, T> {
    /// A reader handing out chunks of up to `chunk` samples (at least 1).
    #[must_use]
    pub fn new(reader: R, chunk: usize) -> Self {
        let chunk = chunk.max(1);
        RawReader {
            reader,
            bytes: vec![0; chunk * T::BYTES],
            samples: Vec::with_capacity(chunk),
            samples_read: 0,
            state: End::Reading,
        }
    }

    /// Complete samples handed out so far.
    #[must_use]
    pub fn samples_read(&self) -> u64 {
        self.samples_read
    }

    /// The next chunk of samples, `None` at the end of the stream.
    ///
    /// # Errors
    /// [`Error::Read`] when the reader fails; [`Error::TruncatedSample`] once, after the last
    /// complete samples, when the stream ends inside a sample.
    pub fn next_chunk(&mut self) -> Result<Option<&[T]>, Error> {
        match self.state {
            End::Done => return Ok(None),
            End::Eof(0) => {
                self.state = End::Done;
                return Ok(None);
            }
            End::Eof(trailing) => {
                self.state = End::Done;
                return Err(Error::TruncatedSample {
                    samples_read: self.samples_read,
                    trailing_bytes: trailing,
                    sample_bytes: T::BYTES,
                });
            }
            End::Reading => {}
        }
        // Fill the whole buffer (a multiple of the sample size) unless the stream ends first.
        let mut filled = 0;
        while filled < self.bytes.len() {
            match self.reader.read(&mut self.bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    self.state = End::Done;
                    return Err(Error::Read {
                        samples_read: self.samples_read,
                        source,
                    });
                }
            }
        }
        let whole = filled / T::BYTES;
        let rest = filled % T::BYTES;
        if filled < self.bytes.len() {
            self.state = End::Eof(rest);
        }
        self.samples.clear();
        self.samples.extend(
            self.bytes[..whole * T::BYTES]
                .chunks_exact(T::BYTES)
                .map(T::from_le_bytes),
        );
        self.samples_read += whole as u64;
        if whole == 0 {
            return self.next_chunk();
        }
        Ok(Some(&self.samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `n` bytes per read, interrupted every other call.
    struct Trickle<'a> {
        data: &'a [u8],
        n: usize,
        calls: u32,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(2) {
                return Err(ErrorKind::Interrupted.into());
            }
            let n = self.n.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn all<T: RawSample>(mut r: RawReader<impl Read, T>) -> (Vec<T>, Result<(), Error>) {
        let mut out = Vec::new();
        loop {
            match r.next_chunk() {
                Ok(Some(c)) => out.extend_from_slice(c),
                Ok(None) => return (out, Ok(())),
                Err(e) => return (out, Err(e)),
            }
        }
    }

    #[test]
    fn short_reads_and_interrupts_lose_nothing() {
        let values: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5 - 3.0).collect();
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        for (n, chunk) in [(1, 7), (3, 64), (5, 1), (4096, 999)] {
            let r = RawReader::<_, f32>::new(
                Trickle {
                    data: &bytes,
                    n,
                    calls: 0,
                },
                chunk,
            );
            let (got, end) = all(r);
            assert!(end.is_ok(), "{end:?}");
            assert_eq!(got, values, "{n} bytes per read, chunks of {chunk}");
        }
    }

    #[test]
    fn a_trailing_partial_sample_is_an_error_after_the_complete_ones() {
        let mut bytes: Vec<u8> = [1i16, -2, 300]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        bytes.push(7);
        let (got, end) = all(RawReader::<_, i16>::new(&bytes[..], 2));
        assert_eq!(got, [1, -2, 300]);
        let e = end.unwrap_err();
        assert!(
            matches!(
                e,
                Error::TruncatedSample {
                    samples_read: 3,
                    trailing_bytes: 1,
                    sample_bytes: 2
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("1 trailing byte"), "{e}");
    }

    #[test]
    fn interleaved_iq_reads_as_complex() {
        let bytes = [127u8, 128, 0, 255];
        let (got, end) = all(RawReader::<_, Complex<u8>>::new(&bytes[..], 16));
        assert!(end.is_ok());
        assert_eq!(got, [Complex::new(127, 128), Complex::new(0, 255)]);
    }

    #[test]
    fn a_failing_reader_reports_how_far_it_got() {
        struct Fails(u32);
        impl Read for Fails {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0 += 1;
                if self.0 > 2 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                buf[..4].copy_from_slice(&1.0f32.to_le_bytes());
                Ok(4)
            }
        }
        let (got, end) = all(RawReader::<_, f32>::new(Fails(0), 2));
        assert_eq!(got, [1.0, 1.0]);
        let e = end.unwrap_err();
        assert!(
            matches!(
                e,
                Error::Read {
                    samples_read: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("disk on fire"), "{e}");
    }
}
