//! Test fixtures shared by the workspace's tests (the root package's `tests/` and
//! `apps/cli/tests/`): crafted PCM WAV files and temporary files that are removed on drop.

use std::fs;
use std::path::{Path, PathBuf};

/// A canonical 44-byte-header PCM WAV (RIFF/WAVE, `fmt ` chunk of 16 bytes, format 1,
/// 16-bit little-endian) holding `samples` interleaved over `channels` at `sample_rate` Hz.
/// The header declares `declared_frames` frames (default: the frames actually written), so a
/// larger value makes a truncated file.
///
/// # Panics
/// If `channels` is 0.
#[must_use]
pub fn wav_bytes(
    channels: u16,
    sample_rate: u32,
    samples: &[i16],
    declared_frames: Option<u32>,
) -> Vec<u8> {
    assert!(channels > 0, "a WAV file has at least one channel");
    let block_align = 2 * channels;
    let frames = declared_frames.unwrap_or((samples.len() / usize::from(channels)) as u32);
    let data_len = frames * u32::from(block_align);
    let mut b = Vec::with_capacity(44 + 2 * samples.len());
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVE");
    b.extend_from_slice(b"fmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&sample_rate.to_le_bytes());
    b.extend_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes()); // byte rate
    b.extend_from_slice(&block_align.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

/// A 16-bit mono PCM WAV: [`wav_bytes`] with one channel.
#[must_use]
pub fn wav(sample_rate: u32, samples: &[i16], declared_frames: Option<u32>) -> Vec<u8> {
    wav_bytes(1, sample_rate, samples, declared_frames)
}

/// A file holding given bytes, alone in a fresh temporary directory (so parallel tests never
/// share one); the directory is removed when this is dropped.
#[derive(Debug)]
pub struct TempFile {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl TempFile {
    /// Writes `bytes` to a file named `name` in a new temporary directory.
    ///
    /// # Panics
    /// If the directory or the file cannot be created.
    #[must_use]
    pub fn new(name: &str, bytes: &[u8]) -> Self {
        let dir = TempDir::new();
        let path = dir.file(name, bytes);
        TempFile { _dir: dir.0, path }
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A fresh temporary directory, removed (with its contents) when this is dropped.
#[derive(Debug)]
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    /// Creates the directory.
    ///
    /// # Panics
    /// If it cannot be created.
    #[must_use]
    pub fn new() -> Self {
        TempDir(
            tempfile::Builder::new()
                .prefix("sqrtspace-test-")
                .tempdir()
                .expect("create a temporary directory"),
        )
    }

    /// The directory's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `bytes` to the file `name` in the directory and returns its path.
    ///
    /// # Panics
    /// If the file cannot be written.
    #[must_use]
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.path().join(name);
        fs::write(&path, bytes).expect("write a test fixture");
        path
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}
