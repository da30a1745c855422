//! Time and identifiers.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A new message uid in the vendor's shape (`XXXX-XXXX-XXXX-XXXX`, 80 random
/// bits): unique without coordination, and recognisable in logs.
pub fn new_message_uid() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    out
}

/// A new session id (64 random bits, hex).
pub fn new_session_id() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}
