//! Incremental audio decoding to mono `f32` with [symphonia].
//!
//! [`AudioReader`] opens a WAV (PCM), FLAC or Ogg Vorbis file, picks its first audio track
//! and decodes it packet by packet: at no point is the whole file held in memory. Every
//! decoded packet is mixed down to one channel (the arithmetic mean of the source channels)
//! at the file's native sample rate and handed out as a borrowed chunk of `f32` samples in
//! the nominal range `[-1.0, 1.0]` (full scale = 1.0; integer PCM is scaled by symphonia's
//! sample conversions, e.g. `i16 / 32768`).
//!
//! Units used throughout: sample counts are *mono samples* (one per source frame),
//! sample rates are in Hz, durations in samples unless stated otherwise.
//!
//! Errors are reported as [`DecodeError`], which distinguishes a missing file, an I/O
//! failure, an unsupported format, corrupt data, a truncated file and a file without audio,
//! each with a message that says what to change.
//!
//! [symphonia]: https://docs.rs/symphonia/0.6

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use symphonia::core::audio::conv::IntoSample;
use symphonia::core::audio::sample::Sample;
use symphonia::core::audio::{Audio, AudioBuffer, GenericAudioBufferRef};
use symphonia::core::codecs::audio::well_known::CODEC_ID_VORBIS;
use symphonia::core::codecs::audio::{
    AudioCodecParameters, AudioDecoder, AudioDecoderOptions, CODEC_ID_NULL_AUDIO,
};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Everything that can go wrong while opening or decoding an audio file.
///
/// Every variant that concerns a file carries its `path`; the ones raised mid-stream also
/// carry `samples_read`, the number of mono samples successfully delivered by
/// [`AudioReader::next_chunk`] before the failure (summed over all passes when the reader
/// repeats the file). The `Display` messages say what the user should change.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file does not exist (`std::io::ErrorKind::NotFound` when opening it).
    #[error(
        "audio file `{}` does not exist: check the path (relative paths are resolved against \
         the current working directory)",
        .path.display()
    )]
    NotFound {
        /// The path that was given.
        path: PathBuf,
    },

    /// Any other I/O failure while opening or reading the file (permissions, a directory
    /// instead of a file, a failing disk, ...).
    #[error(
        "could not read audio file `{}`: {source}; check that it is a readable regular file",
        .path.display()
    )]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },

    /// The container or codec is not one symphonia was built to decode here.
    #[error(
        "`{}` is not in a supported audio format ({detail}); supported formats are \
         WAV (PCM), FLAC and Ogg Vorbis: convert the file to one of them, \
         e.g. `ffmpeg -i input.ext output.flac`",
        .path.display()
    )]
    Unsupported {
        /// The file being read.
        path: PathBuf,
        /// What symphonia could not handle.
        detail: String,
    },

    /// The data is malformed: the demuxer or decoder rejected a packet, or damaged data was
    /// skipped in the middle of the stream.
    #[error(
        "`{}` is corrupt: decoding failed after {samples_read} samples ({detail}); \
         re-encode the file or obtain an undamaged copy",
        .path.display()
    )]
    Corrupt {
        /// The file being read.
        path: PathBuf,
        /// Mono samples delivered before the failure.
        samples_read: u64,
        /// The decoder's description of the problem.
        detail: String,
    },

    /// The file ended before the length its header declares (or inside its header).
    #[error(
        "`{}` ends early: read {samples_read} samples{}; the file is probably truncated \
         (an interrupted download or copy): check the download or re-encode the file",
        .path.display(),
        expected_suffix(*.expected)
    )]
    Truncated {
        /// The file being read.
        path: PathBuf,
        /// Mono samples delivered before the end of the data.
        samples_read: u64,
        /// The number of mono samples the header declares for the same span (all passes up
        /// to and including the one that ended early), when the header declares a length.
        expected: Option<u64>,
    },

    /// The file holds zero samples of audio (or zero bytes).
    #[error(
        "`{}` contains no audio samples (zero-length audio); supply a recording that holds \
         at least one analysis window of samples",
        .path.display()
    )]
    Empty {
        /// The file being read.
        path: PathBuf,
    },

    /// The container holds no track with a decodable codec.
    #[error(
        "`{}` contains no audio track; supply a file with an audio stream in WAV (PCM), \
         FLAC or Ogg Vorbis",
        .path.display()
    )]
    NoAudioTrack {
        /// The file being read.
        path: PathBuf,
    },

    /// The container header declares values no decoder can use (a WAV `fmt ` chunk with a
    /// sample rate, channel count or block alignment of 0, ...). Checked before the decoder
    /// sees the file.
    #[error(
        "`{}` has an invalid header: {detail}; re-encode the file or obtain an undamaged copy",
        .path.display()
    )]
    InvalidHeader {
        /// The file being read.
        path: PathBuf,
        /// Which field is wrong, and its value.
        detail: String,
    },

    /// The decoder library panicked on this file (a bug it has on some malformed input); the
    /// panic was caught and the file is treated as corrupt.
    #[error(
        "`{}` could not be decoded: the decoder failed on malformed data after {samples_read} \
         samples ({detail}); re-encode the file or obtain an undamaged copy",
        .path.display()
    )]
    DecoderPanic {
        /// The file being read.
        path: PathBuf,
        /// Mono samples delivered before the failure.
        samples_read: u64,
        /// The panic message.
        detail: String,
    },

    /// [`AudioReader::with_repeat`] was called with `repeat == 0`.
    #[error("the repeat count must be at least 1 (got 0); use 1 to read the file once")]
    InvalidRepeat,
}

/// `", but its header declares N"` or nothing, for [`DecodeError::Truncated`].
fn expected_suffix(expected: Option<u64>) -> String {
    match expected {
        Some(n) => format!(" but its header declares {n}"),
        None => String::new(),
    }
}

/// One opened pass over the file.
struct Stream {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    sample_rate: u32,
    channels: Option<u16>,
    n_frames: Option<u64>,
    /// PCM and FLAC: packet timestamps count samples exactly, and the declared length is
    /// exact. Not so for Ogg Vorbis.
    exact_length: bool,
    /// Timestamp of the first sample (the track's `start_ts`).
    start_ts: i64,
    /// Ogg: the file does not end with a complete end-of-stream page (see [`ogg_truncated`]).
    truncated_container: bool,
}

/// An incremental, mono, native-rate reader of one audio file (WAV/PCM, FLAC, Ogg Vorbis).
///
/// Opening probes the container with symphonia (by file extension hint and by content),
/// selects the first track whose codec is known, and builds its decoder. Each call to
/// [`next_chunk`](Self::next_chunk) demuxes and decodes the next packet and returns it as a
/// mono chunk: `chunk[i]` is the mean over the source channels of frame `i`, as `f32` with
/// full scale 1.0. Chunk lengths are whatever the codec's packets hold (e.g. up to 4608
/// samples for FLAC, a few hundred to a few thousand for WAV) and are never zero.
///
/// With [`with_repeat`](Self::with_repeat) the recording is played `repeat` times back to
/// back (the file is re-opened at the end of each pass), which yields long-form input of
/// `repeat × duration_samples()` samples without a large file.
///
/// Memory: one decoder, symphonia's read-ahead buffer and one reused mono buffer whose
/// length is the largest packet seen; no allocation of ours per packet once warmed up
/// (symphonia's demuxers may still allocate packet buffers internally).
///
/// Headers are checked before the decoder sees them: a WAV `fmt ` chunk declaring a sample
/// rate, channel count, block alignment or sample width of 0, or a frame (channels x sample
/// width) over 65535 bytes, is a [`DecodeError::InvalidHeader`]; a panic inside the decoder library on malformed data is
/// caught and reported as [`DecodeError::DecoderPanic`], never propagated.
///
/// No sample is dropped or invented silently:
/// - when the header declares a length ([`duration_samples`](Self::duration_samples)), a
///   pass that yields fewer samples raises [`DecodeError::Truncated`]; for Ogg Vorbis, whose
///   length is derived from page granule positions rather than stored as a sample count, a
///   shortfall of at most one maximal packet is tolerated;
/// - Ogg Vorbis is decoded gaplessly (the encoder's delay and the padding of the last block
///   are trimmed by the granule positions) and never runs past the declared length; a file
///   that does not end with a complete end-of-stream page (cut inside a page, or after a page
///   that is not the last) raises [`DecodeError::Truncated`] at the end of the pass, since the
///   length the demuxer derives from a cut file is that of what is left;
/// - for WAV and FLAC, every packet's timestamp must equal the number of samples decoded
///   before it in the pass; a gap (damaged data the demuxer skipped while resynchronising)
///   raises [`DecodeError::Corrupt`] *before* any later sample is delivered, so the
///   timeline is never shifted.
///
/// Errors are terminal: after `next_chunk` has returned an error, later calls return
/// `Ok(None)`.
pub struct AudioReader {
    path: PathBuf,
    repeat: u32,
    pass: u32,
    stream: Stream,
    samples_read: u64,
    pass_samples: u64,
    mono: Vec<f32>,
    finished: bool,
}

impl fmt::Debug for AudioReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioReader")
            .field("path", &self.path)
            .field("sample_rate", &self.stream.sample_rate)
            .field("channels", &self.stream.channels)
            .field("duration_samples", &self.stream.n_frames)
            .field("repeat", &self.repeat)
            .field("pass", &self.pass)
            .field("samples_read", &self.samples_read)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl AudioReader {
    /// Opens `path` for a single pass; equivalent to `with_repeat(path, 1)`.
    ///
    /// # Errors
    /// [`DecodeError::NotFound`], [`DecodeError::Io`], [`DecodeError::Unsupported`] (unknown
    /// container or codec, or no declared sample rate), [`DecodeError::InvalidHeader`] (a WAV
    /// header field the decoder cannot use), [`DecodeError::DecoderPanic`] (the decoder library
    /// failed on malformed data), [`DecodeError::Corrupt`] (malformed
    /// header), [`DecodeError::Truncated`] (the file ends inside its header),
    /// [`DecodeError::Empty`] (zero bytes, or a header declaring zero samples) and
    /// [`DecodeError::NoAudioTrack`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DecodeError> {
        Self::with_repeat(path, 1)
    }

    /// Opens `path` and plays the recording `repeat` times back to back.
    ///
    /// At the end of each pass the file is re-opened and decoding restarts from its first
    /// sample, so the stream is `repeat × duration_samples()` samples long and every pass
    /// is checked for truncation separately.
    ///
    /// # Errors
    /// [`DecodeError::InvalidRepeat`] when `repeat == 0`; otherwise as [`open`](Self::open).
    pub fn with_repeat(path: impl AsRef<Path>, repeat: u32) -> Result<Self, DecodeError> {
        if repeat == 0 {
            return Err(DecodeError::InvalidRepeat);
        }
        let path = path.as_ref().to_path_buf();
        let stream = open_stream(&path)?;
        Ok(Self {
            path,
            repeat,
            pass: 0,
            stream,
            samples_read: 0,
            pass_samples: 0,
            mono: Vec::new(),
            finished: false,
        })
    }

    /// The file's native sample rate in Hz (samples are never resampled).
    pub fn sample_rate(&self) -> u32 {
        self.stream.sample_rate
    }

    /// The number of channels of the source, before the mix-down to mono.
    ///
    /// Taken from the container's codec parameters; if the container does not declare it,
    /// this is 0 until the first chunk has been decoded and the decoder's output channel
    /// count afterwards.
    pub fn channels(&self) -> u16 {
        self.stream.channels.unwrap_or(0)
    }

    /// The length of one pass in mono samples (= source frames), when the header declares
    /// it (`num_frames` of symphonia's track); `None` when unknown.
    pub fn duration_samples(&self) -> Option<u64> {
        self.stream.n_frames
    }

    /// The length of the whole stream in mono samples, `repeat × duration_samples()`, when
    /// the header declares a length; `None` when unknown (or if it overflows `u64`).
    pub fn total_samples(&self) -> Option<u64> {
        self.stream.n_frames?.checked_mul(u64::from(self.repeat))
    }

    /// How many times the recording is played (1 for [`open`](Self::open)).
    pub fn repeat(&self) -> u32 {
        self.repeat
    }

    /// The path this reader decodes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Mono samples returned by [`next_chunk`](Self::next_chunk) so far, over all passes.
    pub fn samples_read(&self) -> u64 {
        self.samples_read
    }

    /// Decodes the next packet and returns it as a non-empty chunk of mono samples
    /// (full scale 1.0), or `Ok(None)` at the end of the last pass.
    ///
    /// The chunk borrows an internal buffer that is reused by the next call.
    ///
    /// # Errors
    /// - [`DecodeError::Truncated`] when a pass ends before the length the header declares;
    /// - [`DecodeError::Corrupt`] when the demuxer or decoder rejects a packet, or (WAV,
    ///   FLAC) when samples are missing between two packets, with the number of samples
    ///   delivered before the damage;
    /// - [`DecodeError::Empty`] when a pass decodes to zero samples;
    /// - [`DecodeError::Io`] on a read failure, [`DecodeError::Unsupported`] for an
    ///   unsupported feature met mid-stream, and any error of [`open`](Self::open) when a
    ///   repeated pass re-opens the file.
    ///
    /// Errors are terminal: later calls return `Ok(None)`.
    pub fn next_chunk(&mut self) -> Result<Option<&[f32]>, DecodeError> {
        if self.finished {
            return Ok(None);
        }
        match self.advance() {
            Ok(true) => Ok(Some(&self.mono)),
            Ok(false) => {
                self.finished = true;
                Ok(None)
            }
            Err(e) => {
                self.finished = true;
                Err(e)
            }
        }
    }

    /// Fills `self.mono` with the next non-empty chunk (`Ok(true)`), or reports the end of
    /// the stream (`Ok(false)`).
    fn advance(&mut self) -> Result<bool, DecodeError> {
        loop {
            let next = guarded(|| self.stream.format.next_packet());
            let packet = match next.map_err(|d| self.panicked(d))? {
                Ok(Some(packet)) => packet,
                // The end of this pass: symphonia 0.6 reports it as `Ok(None)`; a demuxer that
                // knows the declared length and runs out of data before it (FLAC) reports
                // `UnexpectedEof`, which the length check below turns into `Truncated`.
                Ok(None) => {
                    self.check_pass_length()?;
                    if self.pass + 1 >= self.repeat {
                        return Ok(false);
                    }
                    self.restart()?;
                    continue;
                }
                Err(SymphoniaError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.check_pass_length()?;
                    if self.pass + 1 >= self.repeat {
                        return Ok(false);
                    }
                    self.restart()?;
                    continue;
                }
                Err(SymphoniaError::ResetRequired) => {
                    // A chained stream (e.g. a new Ogg logical stream) changed the track
                    // layout: rebuild the decoder for the first audio track.
                    self.reset_decoder()?;
                    continue;
                }
                Err(e) => return Err(self.mid_stream_error(e)),
            };
            if packet.track_id != self.stream.track_id {
                continue;
            }
            if self.stream.exact_length {
                // A demuxer that resynchronises past damaged data (symphonia's FLAC reader
                // does) would otherwise drop samples silently: check that this packet starts
                // where the previous one ended.
                let expected = i128::from(self.stream.start_ts) + i128::from(self.pass_samples);
                let got = i128::from(packet.pts.get());
                if got != expected {
                    return Err(DecodeError::Corrupt {
                        path: self.path.clone(),
                        samples_read: self.samples_read,
                        detail: gap_detail(expected, got, self.stream.sample_rate),
                    });
                }
            }
            let (path, samples_read) = (&self.path, self.samples_read);
            let decoder = &mut self.stream.decoder;
            let decoded = match guarded(|| decoder.decode(&packet).map(|_| ())) {
                Ok(Ok(())) => decoder.last_decoded(),
                Ok(Err(e)) => return Err(map_error(path, samples_read, e)),
                Err(detail) => {
                    return Err(DecodeError::DecoderPanic {
                        path: path.clone(),
                        samples_read,
                        detail,
                    })
                }
            };
            let channels = decoded.spec().channels().count();
            if channels == 0 && decoded.frames() > 0 {
                return Err(DecodeError::Corrupt {
                    path: self.path.clone(),
                    samples_read: self.samples_read,
                    detail: "the decoder produced frames with zero channels".to_owned(),
                });
            }
            if self.stream.channels.is_none() {
                self.stream.channels = u16::try_from(channels).ok();
            }
            mix_to_mono(&decoded, &mut self.mono);
            if !self.stream.exact_length {
                // Ogg Vorbis: the last page's granule position is the stream's length; samples
                // decoded past it are padding of the last block, not audio.
                if let Some(n) = self.stream.n_frames {
                    let room = n.saturating_sub(self.pass_samples);
                    if (self.mono.len() as u64) > room {
                        self.mono.truncate(room as usize);
                    }
                }
            }
            if self.mono.is_empty() {
                continue;
            }
            let n = self.mono.len() as u64;
            self.samples_read += n;
            self.pass_samples += n;
            return Ok(true);
        }
    }

    /// Checks the samples decoded in the pass that just ended against the header.
    fn check_pass_length(&self) -> Result<(), DecodeError> {
        if self.pass_samples == 0 {
            return Err(DecodeError::Empty {
                path: self.path.clone(),
            });
        }
        if self.stream.truncated_container {
            // The declared length of a cut Ogg file is that of what is left, so the count
            // cannot reveal the cut; the missing end-of-stream page does.
            return Err(DecodeError::Truncated {
                path: self.path.clone(),
                samples_read: self.samples_read,
                expected: None,
            });
        }
        if let Some(n) = self.stream.n_frames {
            let tolerance = if self.stream.exact_length {
                0
            } else {
                self.stream
                    .decoder
                    .codec_params()
                    .max_frames_per_packet
                    .unwrap_or(8192)
            };
            if self.pass_samples.saturating_add(tolerance) < n {
                return Err(DecodeError::Truncated {
                    path: self.path.clone(),
                    samples_read: self.samples_read,
                    // Samples of the earlier, complete passes plus this pass's declared length.
                    expected: Some((self.samples_read - self.pass_samples).saturating_add(n)),
                });
            }
        }
        Ok(())
    }

    /// Re-opens the file for the next pass.
    fn restart(&mut self) -> Result<(), DecodeError> {
        let stream = open_stream(&self.path)?;
        if stream.sample_rate != self.stream.sample_rate {
            return Err(DecodeError::Corrupt {
                path: self.path.clone(),
                samples_read: self.samples_read,
                detail: format!(
                    "the file changed while it was being read: its sample rate went from {} Hz \
                     to {} Hz on re-opening for pass {}",
                    self.stream.sample_rate,
                    stream.sample_rate,
                    self.pass + 2
                ),
            });
        }
        self.stream = stream;
        self.pass += 1;
        self.pass_samples = 0;
        Ok(())
    }

    /// Rebuilds the decoder after symphonia's `ResetRequired`.
    fn reset_decoder(&mut self) -> Result<(), DecodeError> {
        let (track, params) = first_audio_track(self.stream.format.tracks()).ok_or_else(|| {
            DecodeError::NoAudioTrack {
                path: self.path.clone(),
            }
        })?;
        let rate = params.sample_rate;
        if rate.is_some_and(|r| r != self.stream.sample_rate) {
            return Err(DecodeError::Unsupported {
                path: self.path.clone(),
                detail: format!(
                    "the sample rate changes mid-stream from {} Hz to {} Hz, and samples are not \
                     resampled",
                    self.stream.sample_rate,
                    rate.unwrap_or(0)
                ),
            });
        }
        let track_id = track.id;
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|e| map_error(&self.path, self.samples_read, e))?;
        self.stream.track_id = track_id;
        self.stream.decoder = decoder;
        Ok(())
    }

    fn mid_stream_error(&self, e: SymphoniaError) -> DecodeError {
        map_error(&self.path, self.samples_read, e)
    }

    fn panicked(&self, detail: String) -> DecodeError {
        DecodeError::DecoderPanic {
            path: self.path.clone(),
            samples_read: self.samples_read,
            detail,
        }
    }
}

/// Runs `f`, turning a panic inside the decoder library into its message.
///
/// Our own code validates headers before symphonia sees them ([`check_header`]), but a decoder
/// may still panic on malformed data we do not know about; user input must never crash the
/// process.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder panicked".to_owned())
    })
}

/// What [`check_header`] learnt about the container.
#[derive(Debug, Clone, Copy, Default)]
struct HeaderFacts {
    /// Ogg only: the file does not end with a complete end-of-stream page.
    ogg_truncated: bool,
}

/// Checks the fields of a RIFF/WAVE `fmt ` chunk that the decoder divides by, multiplies or
/// builds a time base from (sample rate, channels, block alignment, bits per sample), and for an Ogg file
/// whether it ends with its end-of-stream page. Other containers pass unchecked (the decoder
/// validates them). Leaves `file` at an unspecified position.
fn check_header(path: &Path, file: &mut File, len: u64) -> Result<HeaderFacts, DecodeError> {
    use std::io::{Seek, SeekFrom};
    let io_err = |source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |detail: String| DecodeError::InvalidHeader {
        path: path.to_path_buf(),
        detail,
    };
    let mut head = [0u8; 12];
    let n = read_up_to(file, &mut head).map_err(io_err)?;
    let head = &head[..n];
    if head.starts_with(b"OggS") {
        return Ok(HeaderFacts {
            ogg_truncated: ogg_truncated(file, len).map_err(io_err)?,
        });
    }
    if !(n == 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WAVE") {
        return Ok(HeaderFacts::default());
    }
    // Walk the chunks up to `fmt ` (it precedes `data` in every valid file).
    let mut pos = 12u64;
    for _ in 0..64 {
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(pos)).map_err(io_err)?;
        if read_up_to(file, &mut chunk).map_err(io_err)? < 8 {
            // No `fmt ` chunk: the decoder reports it.
            return Ok(HeaderFacts::default());
        }
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        match &chunk[..4] {
            b"fmt " => {
                let mut fmt = [0u8; 16];
                if size < 16 || read_up_to(file, &mut fmt).map_err(io_err)? < 16 {
                    // Too short to hold the fields: the decoder reports it.
                    return Ok(HeaderFacts::default());
                }
                let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
                let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
                let align = u16::from_le_bytes([fmt[12], fmt[13]]);
                let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
                if rate == 0 {
                    return Err(bad(
                        "its `fmt ` chunk declares a sample rate of 0 Hz".to_owned()
                    ));
                }
                if channels == 0 {
                    return Err(bad("its `fmt ` chunk declares 0 channels".to_owned()));
                }
                if align == 0 {
                    return Err(bad(
                        "its `fmt ` chunk declares a block alignment of 0 bytes".to_owned(),
                    ));
                }
                if bits == 0 {
                    return Err(bad("its `fmt ` chunk declares 0 bits per sample".to_owned()));
                }
                // One frame (a sample of every channel) must fit the 16-bit block alignment
                // field; symphonia 0.6's WAV reader multiplies the two in `u16` and overflows.
                let frame_bytes = u32::from(channels) * u32::from(bits).div_ceil(8);
                if frame_bytes > u32::from(u16::MAX) {
                    return Err(bad(format!(
                        "its `fmt ` chunk declares {channels} channels of {bits} bits, a frame of \
                         {frame_bytes} bytes, more than a WAV frame can hold (65535 bytes)"
                    )));
                }
                return Ok(HeaderFacts::default());
            }
            b"data" => return Ok(HeaderFacts::default()),
            _ => pos = pos.saturating_add(8).saturating_add(size + (size & 1)),
        }
    }
    Ok(HeaderFacts::default())
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether an Ogg file of `len` bytes lacks a complete end-of-stream page at its end: the
/// last page that ends exactly at the end of the file must carry the end-of-stream flag
/// (header type bit 0x04; RFC 3533, section 6). A file cut inside a page, or after a page
/// that is not the last, fails this. Reads at most the last 64 KiB + 300 bytes (one maximal
/// page is 65,307 bytes).
fn ogg_truncated(file: &mut File, len: u64) -> io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    const MAX_PAGE: u64 = 27 + 255 + 255 * 255;
    let start = len.saturating_sub(MAX_PAGE);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = vec![0u8; (len - start) as usize];
    let n = read_up_to(file, &mut tail)?;
    tail.truncate(n);
    let end = tail.len();
    let mut at = end;
    while let Some(i) = tail[..at].windows(4).rposition(|w| w == b"OggS") {
        at = i;
        let page = &tail[i..];
        if page.len() < 27 {
            continue;
        }
        let segments = usize::from(page[26]);
        if page.len() < 27 + segments {
            continue;
        }
        let body: usize = page[27..27 + segments]
            .iter()
            .map(|&b| usize::from(b))
            .sum();
        if 27 + segments + body == page.len() {
            return Ok(page[5] & 0x04 == 0);
        }
    }
    Ok(true)
}

/// Maps a symphonia error to a [`DecodeError`].
fn map_error(path: &Path, samples_read: u64, e: SymphoniaError) -> DecodeError {
    let path = path.to_path_buf();
    match e {
        SymphoniaError::IoError(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            DecodeError::Truncated {
                path,
                samples_read,
                expected: None,
            }
        }
        SymphoniaError::IoError(source) => DecodeError::Io { path, source },
        SymphoniaError::Unsupported(detail) => DecodeError::Unsupported {
            path,
            detail: detail.to_owned(),
        },
        SymphoniaError::DecodeError(detail) => DecodeError::Corrupt {
            path,
            samples_read,
            detail: format!("malformed stream: {detail}"),
        },
        SymphoniaError::LimitError(detail) => DecodeError::Corrupt {
            path,
            samples_read,
            detail: format!("a decoder safety limit was exceeded: {detail}"),
        },
        SymphoniaError::SeekError(kind) => DecodeError::Corrupt {
            path,
            samples_read,
            detail: format!("seek failed: {kind:?}"),
        },
        SymphoniaError::ResetRequired => DecodeError::Corrupt {
            path,
            samples_read,
            detail: "the stream requires a decoder reset that could not be performed".to_owned(),
        },
        // `Error` is `#[non_exhaustive]` since symphonia 0.6.
        other => DecodeError::Corrupt {
            path,
            samples_read,
            detail: other.to_string(),
        },
    }
}

/// Opens, probes and prepares one pass over `path`.
fn open_stream(path: &Path) -> Result<Stream, DecodeError> {
    let file = File::open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            DecodeError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            DecodeError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let meta = file.metadata().map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return Err(DecodeError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "it is a directory, not a file"),
        });
    }
    let len = meta.len();
    if len == 0 {
        return Err(DecodeError::Empty {
            path: path.to_path_buf(),
        });
    }

    let mut file = file;
    let facts = check_header(path, &mut file, len)?;
    {
        use std::io::{Seek, SeekFrom};
        file.seek(SeekFrom::Start(0))
            .map_err(|source| DecodeError::Io {
                path: path.to_path_buf(),
                source,
            })?;
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    // Ogg Vorbis: the demuxer marks the encoder's delay and the padding of the last block on
    // each packet (`trim_start`/`trim_end`, from the granule positions) and the decoder's
    // gapless mode (on by default) trims them, so a pass is as long as the file declares.
    let format = guarded(|| {
        symphonia::default::get_probe().probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
    })
    .map_err(|detail| DecodeError::DecoderPanic {
        path: path.to_path_buf(),
        samples_read: 0,
        detail,
    })?
    .map_err(|e| match e {
        SymphoniaError::Unsupported(detail) => DecodeError::Unsupported {
            path: path.to_path_buf(),
            detail: format!(
                "no RIFF/WAVE, FLAC or Ogg header found in its {len} bytes; symphonia: {detail}"
            ),
        },
        other => map_error(path, 0, other),
    })?;

    let (track, params) =
        first_audio_track(format.tracks()).ok_or_else(|| DecodeError::NoAudioTrack {
            path: path.to_path_buf(),
        })?;
    let sample_rate = match params.sample_rate {
        Some(r) if r > 0 => r,
        _ => {
            return Err(DecodeError::Unsupported {
                path: path.to_path_buf(),
                detail: "the audio track does not declare a sample rate".to_owned(),
            })
        }
    };
    let channels = params
        .channels
        .as_ref()
        .and_then(|c| u16::try_from(c.count()).ok());
    let n_frames = track.num_frames;
    if n_frames == Some(0) {
        return Err(DecodeError::Empty {
            path: path.to_path_buf(),
        });
    }
    let exact_length = params.codec != CODEC_ID_VORBIS;
    let start_ts = track.start_ts.get();
    let track_id = track.id;
    let decoder = guarded(|| {
        symphonia::default::get_codecs().make_audio_decoder(params, &AudioDecoderOptions::default())
    })
    .map_err(|detail| DecodeError::DecoderPanic {
        path: path.to_path_buf(),
        samples_read: 0,
        detail,
    })?
    .map_err(|e| map_error(path, 0, e))?;

    Ok(Stream {
        format,
        decoder,
        track_id,
        sample_rate,
        channels,
        n_frames,
        exact_length,
        start_ts,
        truncated_container: facts.ogg_truncated,
    })
}

/// The first track with audio codec parameters of a known codec, and those parameters.
fn first_audio_track(tracks: &[Track]) -> Option<(&Track, &AudioCodecParameters)> {
    tracks.iter().find_map(|t| {
        let params = t.codec_params.as_ref()?.audio()?;
        (params.codec != CODEC_ID_NULL_AUDIO).then_some((t, params))
    })
}

/// Describes a packet that does not start where the previous one ended (sample indices are
/// signed: a demuxer's timestamps may be negative).
fn gap_detail(expected: i128, got: i128, sample_rate: u32) -> String {
    let at_s = expected as f64 / f64::from(sample_rate);
    if got > expected {
        format!(
            "{} samples are missing at {at_s:.3} s into the recording (sample {expected}): the data \
             there is damaged and the demuxer skipped it",
            got - expected
        )
    } else {
        format!(
            "a packet starting at sample {got} overlaps samples already decoded (the next was \
             expected at sample {expected}, {at_s:.3} s into the recording)"
        )
    }
}

/// Writes the channel mean of every frame of `buf` into `out` (cleared first).
fn mix_to_mono(buf: &GenericAudioBufferRef<'_>, out: &mut Vec<f32>) {
    match buf {
        GenericAudioBufferRef::U8(b) => mix_planes(b, out),
        GenericAudioBufferRef::U16(b) => mix_planes(b, out),
        GenericAudioBufferRef::U24(b) => mix_planes(b, out),
        GenericAudioBufferRef::U32(b) => mix_planes(b, out),
        GenericAudioBufferRef::S8(b) => mix_planes(b, out),
        GenericAudioBufferRef::S16(b) => mix_planes(b, out),
        GenericAudioBufferRef::S24(b) => mix_planes(b, out),
        GenericAudioBufferRef::S32(b) => mix_planes(b, out),
        GenericAudioBufferRef::F32(b) => mix_planes(b, out),
        GenericAudioBufferRef::F64(b) => mix_planes(b, out),
    }
}

fn mix_planes<S: Sample + IntoSample<f32>>(buf: &AudioBuffer<S>, out: &mut Vec<f32>) {
    let frames = buf.frames();
    let channels = buf.num_planes();
    out.clear();
    if channels == 0 {
        return;
    }
    out.resize(frames, 0.0);
    for plane in buf.iter_planes() {
        for (o, &s) in out.iter_mut().zip(plane) {
            let s: f32 = s.into_sample();
            *o += s;
        }
    }
    if channels > 1 {
        let inv = 1.0 / channels as f32;
        for o in out.iter_mut() {
            *o *= inv;
        }
    }
}

/// Decodes a whole file into memory: returns the mono samples (full scale 1.0) and the
/// sample rate in Hz.
///
/// **For small files and tests only**: this defeats the bounded-memory design (the result
/// is `4 × duration` bytes); pipelines should pull chunks from [`AudioReader::next_chunk`].
///
/// # Errors
/// Every error of [`AudioReader::open`] and [`AudioReader::next_chunk`].
pub fn read_all(path: impl AsRef<Path>) -> Result<(Vec<f32>, u32), DecodeError> {
    let mut reader = AudioReader::open(path)?;
    let mut out = Vec::with_capacity(
        reader
            .duration_samples()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(1 << 24),
    );
    while let Some(chunk) = reader.next_chunk()? {
        out.extend_from_slice(chunk);
    }
    Ok((out, reader.sample_rate()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_zero_is_rejected_before_touching_the_file() {
        let err = AudioReader::with_repeat("/definitely/not/here.wav", 0).unwrap_err();
        assert!(matches!(err, DecodeError::InvalidRepeat));
        assert!(err.to_string().contains("at least 1"));
    }

    #[test]
    fn missing_file_is_not_found() {
        let err = AudioReader::open("/definitely/not/here.wav").unwrap_err();
        assert!(matches!(err, DecodeError::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn truncated_message_mentions_counts() {
        let e = DecodeError::Truncated {
            path: PathBuf::from("x.wav"),
            samples_read: 10,
            expected: Some(20),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("read 10 samples but its header declares 20"),
            "{msg}"
        );
        assert!(msg.contains("re-encode"), "{msg}");
        let e = DecodeError::Truncated {
            path: PathBuf::from("x.wav"),
            samples_read: 0,
            expected: None,
        };
        assert!(!e.to_string().contains("declares"));
    }

    #[test]
    fn mixing_averages_channels() {
        use symphonia::core::audio::{AudioMut, AudioSpec, Channels, Position};
        let spec = AudioSpec::new(
            8000,
            Channels::Positioned(Position::FRONT_LEFT | Position::FRONT_RIGHT),
        );
        let mut buf = AudioBuffer::<i16>::new(spec, 4);
        buf.render_silence(Some(3));
        buf.plane_mut(0)
            .unwrap()
            .copy_from_slice(&[16384, -16384, 0]);
        buf.plane_mut(1)
            .unwrap()
            .copy_from_slice(&[0, -16384, 32767]);
        let mut out = vec![9.0; 7];
        mix_to_mono(&GenericAudioBufferRef::S16(&buf), &mut out);
        assert_eq!(out, vec![0.25, -0.5, 32767.0 / 65536.0]);
    }
}
