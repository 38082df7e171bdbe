//! Counters the store keeps itself (`increment`): the lease values
//! ([`crate::lease`]) and the run history's sequence ([`crate::history`]).
//!
//! The backend keeps a counter in its own form — 8 bytes little-endian on
//! Spin's SQLite store, decimal text on its Redis store (spin-host.md §6,
//! §10) — so a counter key is written only through `increment`, or through
//! a compare-and-swap in the form it was read in ([`Form`]). Anything else
//! written there would make Spin's SQLite host panic on the next increment.

/// How the backend keeps a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Spin's SQLite store: 8 bytes, little-endian.
    LittleEndian,
    /// Spin's Redis store (`INCRBY`): decimal text.
    Decimal,
}

impl Form {
    pub fn read(bytes: &[u8]) -> Option<(Form, i64)> {
        if let Ok(raw) = <[u8; 8]>::try_from(bytes) {
            return Some((Form::LittleEndian, i64::from_le_bytes(raw)));
        }
        let value = std::str::from_utf8(bytes).ok()?.parse().ok()?;
        Some((Form::Decimal, value))
    }

    pub fn write(self, value: i64) -> Vec<u8> {
        match self {
            Form::LittleEndian => value.to_le_bytes().to_vec(),
            Form::Decimal => value.to_string().into_bytes(),
        }
    }
}

/// The value of a counter as read, in either form.
pub fn value(bytes: &[u8]) -> Option<i64> {
    Form::read(bytes).map(|(_, v)| v)
}
