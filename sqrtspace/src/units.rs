//! Byte counts formatted for people (reports, plans, the CLI).

/// Bytes in binary units for people, one decimal (`512 B`, `64.0 MiB`), by the `bytesize`
/// crate's IEC display.
#[must_use]
pub fn human(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
}
