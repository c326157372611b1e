//! Mutation fuzzing of the decoders: bit flips, truncations, header-field overwrites, inserted
//! and deleted bytes applied to the recordings shipped in `apps/audio/assets/` (WAV PCM, FLAC, Ogg
//! Vorbis). Every mutated file must open and decode to samples or to a typed
//! [`DecodeError`], never panic, never hang.
//!
//! The case count is bounded for CI: `SQRTSPACE_FUZZ_CASES` (default 64 per format); e.g.
//! `SQRTSPACE_FUZZ_CASES=5000 cargo test --release --test audio_fuzz` for a long run.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use sqrtspace_audio::decode::{AudioReader, DecodeError};

fn asset(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("apps/audio/assets")
        .join(name);
    fs::read(&p).unwrap_or_else(|e| panic!("shipped recording {} is missing: {e}", p.display()))
}

/// The first 16 KiB of audio of the shipped WAV, as a valid WAV (its `data` size patched):
/// small enough to decode thousands of mutants quickly.
fn small_wav() -> Vec<u8> {
    let bytes = asset("ve9qrp.wav");
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("the WAV has a data chunk");
    let keep = 16 << 10;
    let mut out = bytes[..data + 8 + keep].to_vec();
    out[data + 4..data + 8].copy_from_slice(&(keep as u32).to_le_bytes());
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    out
}

/// One mutation of a file.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `bit` of byte `at` (positions are taken modulo the length).
    Flip { at: usize, bit: u8 },
    /// Keep only the first `len` bytes.
    Truncate { len: usize },
    /// Overwrite 1, 2 or 4 bytes at `at` (in the first 128 bytes: header fields) with an extreme
    /// or random value.
    Field { at: usize, width: u8, value: u32 },
    /// Insert `n` copies of `byte` at `at`.
    Insert { at: usize, n: usize, byte: u8 },
    /// Delete `n` bytes at `at`.
    Delete { at: usize, n: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => (0usize..2048, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        3 => (
            0usize..128,
            prop::sample::select(vec![1u8, 2, 4]),
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(u32::MAX),
                Just(0x7fff_ffff),
                Just(0x8000),
                any::<u32>()
            ]
        )
            .prop_map(|(at, width, value)| Mutation::Field { at, width, value }),
        1 => (any::<usize>(), 1usize..64, any::<u8>())
            .prop_map(|(at, n, byte)| Mutation::Insert { at, n, byte }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete { at, n }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len().max(1);
    match *m {
        Mutation::Flip { at, bit } => {
            if !bytes.is_empty() {
                bytes[at % len] ^= 1 << bit;
            }
        }
        Mutation::Truncate { len: keep } => bytes.truncate(keep % len),
        Mutation::Field { at, width, value } => {
            let w = usize::from(width);
            if at + w <= bytes.len() {
                bytes[at..at + w].copy_from_slice(&value.to_le_bytes()[..w]);
            }
        }
        Mutation::Insert { at, n, byte } => {
            let at = at % len;
            bytes.splice(at..at, std::iter::repeat_n(byte, n));
        }
        Mutation::Delete { at, n } => {
            let at = at % len;
            let end = (at + n).min(bytes.len());
            bytes.drain(at..end);
        }
    }
}

/// Opens and drains `path`: the samples, or the typed error. Panics are caught by the caller.
/// Decoding stops at `limit` samples (a mutated header must not make the reader run away).
fn decode(path: &Path, limit: u64) -> Result<u64, DecodeError> {
    let mut reader = AudioReader::open(path)?;
    let mut n = 0u64;
    while let Some(chunk) = reader.next_chunk()? {
        assert!(!chunk.is_empty(), "chunks are never empty");
        n += chunk.len() as u64;
        assert!(
            n <= limit,
            "decoded {n} samples, more than {limit}: runaway"
        );
    }
    Ok(n)
}

fn cases() -> u32 {
    std::env::var("SQRTSPACE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

/// Runs `cases()` mutants of `seed` (1 to 4 mutations each) through the decoder.
fn fuzz(name: &str, ext: &str, seed: &[u8]) {
    let dir = std::env::temp_dir().join(format!("sqrtspace-fuzz-{}-{name}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(format!("mutant.{ext}"));
    // Generous: every sample of the original, mixed to mono, played ~4 times over.
    let limit = seed.len() as u64 * 4 + (1 << 20);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let (ok, errors) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let result = runner.run(&prop::collection::vec(mutation(), 1..5), |ms| {
        let mut bytes = seed.to_vec();
        for m in &ms {
            apply(&mut bytes, m);
        }
        fs::write(&path, &bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| decode(&path, limit));
        match outcome {
            Err(_) => return Err(TestCaseError::fail(format!("decoding panicked on {ms:?}"))),
            Ok(Ok(_)) => ok.set(ok.get() + 1),
            Ok(Err(e)) => {
                errors.set(errors.get() + 1);
                // A typed error with a message that says what to change, never a decoder
                // panic turned into an error.
                let msg = e.to_string();
                prop_assert!(
                    !matches!(e, DecodeError::DecoderPanic { .. }),
                    "the decoder panicked (caught) on {ms:?}: {msg}"
                );
                prop_assert!(
                    msg.contains(&path.display().to_string()) || msg.contains("repeat"),
                    "{msg}"
                );
            }
        }
        Ok(())
    });
    let _ = fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    println!(
        "{name}: {} mutants decoded, {} typed errors",
        ok.get(),
        errors.get()
    );
}

#[test]
fn mutated_wav_files_decode_or_fail_with_typed_errors() {
    fuzz("wav", "wav", &small_wav());
}

#[test]
fn mutated_flac_files_decode_or_fail_with_typed_errors() {
    fuzz("flac", "flac", &asset("loop_amen_full.flac"));
}

#[test]
fn mutated_ogg_files_decode_or_fail_with_typed_errors() {
    fuzz("ogg", "ogg", &asset("tone_noise_silence.ogg"));
}
