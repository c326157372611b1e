//! Integration tests of `sqrtspace_audio::decode`: hand-written WAV fixtures (valid,
//! stereo, truncated, empty, garbage, invalid header fields) generated into a temporary
//! directory, plus the recordings shipped in `apps/audio/assets/` (FLAC, Ogg Vorbis): a missing shipped
//! recording fails the test, it is never skipped.

use std::fs;
use std::path::{Path, PathBuf};

use sqrtspace_audio::decode::*;
use sqrtspace_test_support::{wav_bytes, TempFile};

/// A deterministic test signal covering the whole i16 range, including both extremes.
fn pattern(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| match i % 7 {
            0 => i16::MIN,
            1 => i16::MAX,
            _ => ((i as i64 * 7919) % 65536 - 32768) as i16,
        })
        .collect()
}

fn drain(reader: &mut AudioReader) -> Result<Vec<f32>, DecodeError> {
    let mut out = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        assert!(!chunk.is_empty(), "chunks are never empty");
        out.extend_from_slice(chunk);
    }
    Ok(out)
}

/// A recording shipped in `apps/audio/assets/`; panics (fails the test) when it is missing.
fn asset(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("apps/audio/assets")
        .join(name);
    assert!(
        p.is_file(),
        "shipped recording {} is missing: restore apps/audio/assets/ from the repository",
        p.display()
    );
    p
}

/// The shipped FLAC recording: 44.1 kHz stereo drum loop.
fn flac_path() -> PathBuf {
    asset("loop_amen_full.flac")
}

/// The shipped Ogg Vorbis fixture: 6 s (96,000 samples) at 16 kHz, mono, in 6 pages.
fn ogg_path() -> PathBuf {
    asset("tone_noise_silence.ogg")
}

/// Byte offsets of every Ogg page (capture pattern `OggS`) in `bytes`.
fn ogg_pages(bytes: &[u8]) -> Vec<usize> {
    bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == b"OggS")
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn mono_wav_reads_back_exactly() {
    let input = pattern(10_000);
    let file = TempFile::new("mono.wav", &wav_bytes(1, 8000, &input, None));
    let mut reader = AudioReader::open(file.path()).unwrap();
    assert_eq!(reader.sample_rate(), 8000);
    assert_eq!(reader.channels(), 1);
    assert_eq!(reader.duration_samples(), Some(10_000));
    assert_eq!(reader.total_samples(), Some(10_000));
    let got = drain(&mut reader).unwrap();
    assert_eq!(got.len(), input.len());
    assert_eq!(reader.samples_read(), 10_000);
    for (i, (&g, &s)) in got.iter().zip(&input).enumerate() {
        assert!(
            (g - f32::from(s) / 32768.0).abs() < 1e-7,
            "sample {i}: {g} vs {s}"
        );
    }
    // The stream is fused after its end.
    assert!(reader.next_chunk().unwrap().is_none());

    let (all, rate) = read_all(file.path()).unwrap();
    assert_eq!(rate, 8000);
    assert_eq!(all, got);
}

#[test]
fn stereo_wav_mixes_to_the_channel_mean() {
    let frames = 3000;
    let left = pattern(frames);
    let right: Vec<i16> = (0..frames).map(|i| (i as i16).wrapping_mul(13)).collect();
    let interleaved: Vec<i16> = left
        .iter()
        .zip(&right)
        .flat_map(|(&l, &r)| [l, r])
        .collect();
    let file = TempFile::new("stereo.wav", &wav_bytes(2, 22_050, &interleaved, None));
    let mut reader = AudioReader::open(file.path()).unwrap();
    assert_eq!(reader.channels(), 2);
    assert_eq!(reader.sample_rate(), 22_050);
    assert_eq!(reader.duration_samples(), Some(frames as u64));
    let got = drain(&mut reader).unwrap();
    assert_eq!(got.len(), frames);
    for i in 0..frames {
        let want = (f32::from(left[i]) + f32::from(right[i])) / 2.0 / 32768.0;
        assert!(
            (got[i] - want).abs() < 1e-6,
            "frame {i}: {} vs {want}",
            got[i]
        );
    }
}

#[test]
fn truncated_wav_reports_samples_read() {
    // The header declares 5000 frames; only 3000 frames and half a sample follow.
    let input = pattern(3000);
    let mut bytes = wav_bytes(1, 8000, &input, Some(5000));
    bytes.push(0x7f);
    let file = TempFile::new("truncated.wav", &bytes);
    let mut reader = AudioReader::open(file.path()).unwrap();
    assert_eq!(reader.duration_samples(), Some(5000));
    let mut delivered = 0u64;
    let err = loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => delivered += chunk.len() as u64,
            Ok(None) => panic!("a truncated file must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        delivered, 3000,
        "every sample present in the file is delivered"
    );
    match &err {
        DecodeError::Truncated {
            samples_read,
            expected,
            path,
        } => {
            assert_eq!(*samples_read, 3000);
            assert_eq!(*expected, Some(5000));
            assert_eq!(path, file.path());
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("read 3000 samples"), "{msg}");
    assert!(msg.contains("declares 5000"), "{msg}");
    assert!(
        msg.contains("re-encode") && msg.contains("download"),
        "{msg}"
    );
    // Errors are terminal.
    assert!(reader.next_chunk().unwrap().is_none());
    // read_all reports the same error.
    assert!(matches!(
        read_all(file.path()),
        Err(DecodeError::Truncated {
            samples_read: 3000,
            ..
        })
    ));
}

#[test]
fn wav_cut_inside_its_header_is_truncated() {
    let bytes = wav_bytes(1, 8000, &pattern(100), None);
    let file = TempFile::new("header_cut.wav", &bytes[..30]);
    let err = AudioReader::open(file.path()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Truncated {
                samples_read: 0,
                expected: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn zero_length_audio_is_empty() {
    let file = TempFile::new("empty.wav", &wav_bytes(1, 8000, &[], None));
    let err = AudioReader::open(file.path()).unwrap_err();
    assert!(matches!(err, DecodeError::Empty { .. }), "{err:?}");
    assert!(err.to_string().contains("no audio samples"), "{err}");

    let file = TempFile::new("zero_bytes.wav", &[]);
    let err = AudioReader::open(file.path()).unwrap_err();
    assert!(matches!(err, DecodeError::Empty { .. }), "{err:?}");
}

#[test]
fn garbage_with_wav_extension_is_unsupported() {
    let garbage = b"this is definitely not audio data, just text\n".repeat(200);
    let file = TempFile::new("garbage.wav", &garbage);
    let err = AudioReader::open(file.path()).unwrap_err();
    assert!(matches!(err, DecodeError::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in ["garbage.wav", "WAV", "FLAC", "Ogg Vorbis", "convert"] {
        assert!(
            msg.contains(needle),
            "message should mention {needle}: {msg}"
        );
    }
}

#[test]
fn missing_file_is_not_found() {
    let path = std::env::temp_dir().join("sqrtspace-no-such-dir/no-such-file.wav");
    let err = AudioReader::open(&path).unwrap_err();
    match &err {
        DecodeError::NotFound { path: p } => assert_eq!(p, &path),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(err.to_string().contains("no-such-file.wav"), "{err}");
    assert!(matches!(read_all(&path), Err(DecodeError::NotFound { .. })));
}

#[test]
fn a_directory_is_an_io_error_not_a_panic() {
    let err = AudioReader::open(std::env::temp_dir()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Io { .. } | DecodeError::Unsupported { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn repeat_zero_is_invalid() {
    let file = TempFile::new("repeat0.wav", &wav_bytes(1, 8000, &pattern(10), None));
    assert!(matches!(
        AudioReader::with_repeat(file.path(), 0),
        Err(DecodeError::InvalidRepeat)
    ));
}

#[test]
fn repeat_two_gives_exactly_twice_the_samples() {
    let input = pattern(5000);
    let file = TempFile::new("repeat.wav", &wav_bytes(1, 16_000, &input, None));
    let once = drain(&mut AudioReader::open(file.path()).unwrap()).unwrap();
    let mut reader = AudioReader::with_repeat(file.path(), 2).unwrap();
    assert_eq!(reader.repeat(), 2);
    assert_eq!(reader.total_samples(), Some(10_000));
    let twice = drain(&mut reader).unwrap();
    assert_eq!(twice.len(), 2 * once.len());
    assert_eq!(reader.samples_read(), 10_000);
    assert_eq!(&twice[..once.len()], &once[..]);
    assert_eq!(&twice[once.len()..], &once[..]);
}

#[test]
fn repeated_truncated_file_fails_in_the_first_pass() {
    let file = TempFile::new(
        "repeat_trunc.wav",
        &wav_bytes(1, 8000, &pattern(100), Some(200)),
    );
    let mut reader = AudioReader::with_repeat(file.path(), 3).unwrap();
    let err = drain(&mut reader).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Truncated {
                samples_read: 100,
                expected: Some(200),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn flac_recording_decodes_fully() {
    let path = flac_path();
    let mut reader = AudioReader::open(&path).unwrap();
    assert_eq!(reader.sample_rate(), 44_100);
    assert_eq!(reader.channels(), 2);
    let declared = reader
        .duration_samples()
        .expect("FLAC STREAMINFO declares the length");
    let samples = drain(&mut reader).unwrap();
    assert_eq!(samples.len() as u64, declared);
    let seconds = samples.len() as f64 / 44_100.0;
    assert!((seconds - 6.9).abs() < 0.1, "duration {seconds} s");
    assert!(samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
    assert!(samples.iter().any(|&s| s != 0.0));
}

#[test]
fn flac_repeat_two_gives_exactly_twice_the_samples() {
    let path = flac_path();
    let once = drain(&mut AudioReader::open(&path).unwrap()).unwrap();
    let twice = drain(&mut AudioReader::with_repeat(&path, 2).unwrap()).unwrap();
    assert_eq!(twice.len(), 2 * once.len());
    assert_eq!(&twice[once.len()..], &once[..]);
}

/// The first 40 % of the bytes of the FLAC recording, then 4 KiB of junk; with `keep_tail`
/// the rest of the file follows the junk (damage in the middle), otherwise the file ends.
fn damaged_flac(path: &Path, keep_tail: bool) -> Vec<u8> {
    let mut bytes = fs::read(path).unwrap();
    let cut = bytes.len() * 2 / 5;
    for (i, b) in bytes[cut..cut + 4096].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    if !keep_tail {
        bytes.truncate(cut + 4096);
    }
    bytes
}

fn drain_counting(reader: &mut AudioReader) -> (u64, DecodeError) {
    let mut delivered = 0u64;
    loop {
        match reader.next_chunk() {
            Ok(Some(chunk)) => delivered += chunk.len() as u64,
            Ok(None) => panic!("a damaged file must not end cleanly"),
            Err(e) => return (delivered, e),
        }
    }
}

#[test]
fn flac_damaged_in_the_middle_is_corrupt_before_the_gap() {
    let path = flac_path();
    let declared = AudioReader::open(&path)
        .unwrap()
        .duration_samples()
        .unwrap();
    let file = TempFile::new("damaged_middle.flac", &damaged_flac(&path, true));
    let mut reader = AudioReader::open(file.path()).unwrap();
    let (delivered, err) = drain_counting(&mut reader);
    match &err {
        DecodeError::Corrupt {
            samples_read,
            detail,
            ..
        } => {
            assert_eq!(*samples_read, delivered);
            assert!(delivered > 0 && delivered < declared, "{delivered}");
            assert!(detail.contains("missing"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("re-encode") && msg.contains(&format!("after {delivered} samples")),
        "{msg}"
    );
}

#[test]
fn flac_cut_short_is_truncated() {
    let path = flac_path();
    let declared = AudioReader::open(&path)
        .unwrap()
        .duration_samples()
        .unwrap();
    let file = TempFile::new("damaged_end.flac", &damaged_flac(&path, false));
    let mut reader = AudioReader::open(file.path()).unwrap();
    let (delivered, err) = drain_counting(&mut reader);
    match err {
        DecodeError::Truncated {
            samples_read,
            expected,
            ..
        } => {
            assert_eq!(samples_read, delivered);
            assert!(delivered > 0 && delivered < declared, "{delivered}");
            assert_eq!(expected, Some(declared));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn wav_declaring_sample_rate_zero_is_an_invalid_header_not_a_panic() {
    let mut bytes = wav_bytes(1, 8000, &pattern(1000), None);
    bytes[24..28].copy_from_slice(&0u32.to_le_bytes());
    let file = TempFile::new("rate0.wav", &bytes);
    let err = AudioReader::open(file.path()).unwrap_err();
    assert!(
        matches!(err, DecodeError::InvalidHeader { .. }),
        "expected InvalidHeader, got {err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("sample rate of 0 Hz"), "{msg}");
    assert!(msg.contains("re-encode"), "{msg}");
    assert!(read_all(file.path()).is_err());
}

#[test]
fn wav_declaring_zero_channels_or_zero_block_alignment_is_an_invalid_header() {
    for (name, offset, len, needle) in [
        ("channels0.wav", 22, 2, "0 channels"),
        ("align0.wav", 32, 2, "block alignment of 0"),
        ("bits0.wav", 34, 2, "0 bits per sample"),
    ] {
        let mut bytes = wav_bytes(1, 8000, &pattern(1000), None);
        bytes[offset..offset + len].fill(0);
        let file = TempFile::new(name, &bytes);
        let err = AudioReader::open(file.path()).unwrap_err();
        assert!(
            matches!(err, DecodeError::InvalidHeader { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(needle), "{name}: {err}");
    }
}

#[test]
fn wav_declaring_a_frame_wider_than_65535_bytes_is_an_invalid_header_not_a_panic() {
    // 32768 channels of 16 bits: a 65536-byte frame. symphonia 0.6's WAV reader computes the
    // expected block alignment in `u16` and overflows (a panic in debug builds), found by
    // `audio_fuzz` with 3000 cases.
    let mut bytes = wav_bytes(1, 8000, &pattern(1000), None);
    bytes[22..24].copy_from_slice(&32768u16.to_le_bytes());
    let file = TempFile::new("wide.wav", &bytes);
    let err = AudioReader::open(file.path()).unwrap_err();
    assert!(
        matches!(err, DecodeError::InvalidHeader { .. }),
        "expected InvalidHeader, got {err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("32768 channels of 16 bits"), "{msg}");
    assert!(msg.contains("65536 bytes"), "{msg}");
}

#[test]
fn ogg_decodes_exactly_the_length_its_last_granule_declares() {
    let path = ogg_path();
    let mut reader = AudioReader::open(&path).unwrap();
    assert_eq!(reader.sample_rate(), 16_000);
    assert_eq!(reader.channels(), 1);
    let declared = reader
        .duration_samples()
        .expect("the Ogg demuxer derives the length from the last granule position");
    assert_eq!(declared, 96_000, "the fixture holds 6 s at 16 kHz");
    let samples = drain(&mut reader).unwrap();
    assert_eq!(samples.len() as u64, declared);
    assert_eq!(reader.samples_read(), declared);
    // The first third is a 0.5-amplitude 440 Hz tone: the encoder's delay was trimmed, so the
    // signal starts at the start (a delay would leave near-silence there).
    let head_rms = (samples[..4000].iter().map(|s| s * s).sum::<f32>() / 4000.0).sqrt();
    assert!((head_rms - 0.354).abs() < 0.03, "rms {head_rms}");
    // Two passes are exactly twice one pass.
    let twice = drain(&mut AudioReader::with_repeat(&path, 2).unwrap()).unwrap();
    assert_eq!(twice.len(), 2 * samples.len());
}

#[test]
fn ogg_cut_inside_a_page_is_truncated() {
    let bytes = fs::read(ogg_path()).unwrap();
    let cut = bytes.len() * 3 / 5;
    let file = TempFile::new("cut_in_page.ogg", &bytes[..cut]);
    // The demuxer may notice the cut page while opening; then nothing was delivered.
    let (delivered, err) = match AudioReader::open(file.path()) {
        Ok(mut reader) => drain_counting(&mut reader),
        Err(e) => (0, e),
    };
    match &err {
        DecodeError::Truncated { samples_read, .. } => {
            assert_eq!(*samples_read, delivered);
            assert!(delivered < 96_000, "{delivered}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn ogg_cut_at_a_page_boundary_is_truncated() {
    let bytes = fs::read(ogg_path()).unwrap();
    let pages = ogg_pages(&bytes);
    assert!(pages.len() >= 4, "{} pages", pages.len());
    // Drop the last page (the one with the end-of-stream flag): every remaining page is whole,
    // and the length the demuxer derives is that of what is left.
    let cut = pages[pages.len() - 1];
    let file = TempFile::new("cut_at_page.ogg", &bytes[..cut]);
    let mut reader = AudioReader::open(file.path()).unwrap();
    let (delivered, err) = drain_counting(&mut reader);
    assert!(
        matches!(err, DecodeError::Truncated { .. }),
        "expected Truncated, got {err:?}"
    );
    assert!(delivered > 0 && delivered < 96_000, "{delivered}");
    assert!(err.to_string().contains("truncated"), "{err}");
}
