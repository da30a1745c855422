//! Admin request signatures: `Signature = hex(HMAC-SHA256(secret, nonce +
//! timestamp))` over the `Nonce` and `Timestamp` (Unix ms) headers.
//!
//! This module checks the key, the freshness window and the MAC; the caller
//! records the nonce durably so a replay is refused even across restarts.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Requests whose timestamp is further than this from the server clock are
/// refused, ms (5 minutes).
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// Why an admin request's credentials were refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is absent or not text.
    #[error("missing header {0}")]
    Missing(&'static str),
    /// App-Key does not match.
    #[error("unknown App-Key")]
    WrongKey,
    /// Timestamp is not a number.
    #[error("Timestamp is not Unix milliseconds")]
    BadTimestamp,
    /// Timestamp outside the window.
    #[error("Timestamp outside the 5 minute window")]
    Stale,
    /// Nonce empty or longer than 128 characters.
    #[error("Nonce must be 1..=128 characters")]
    BadNonce,
    /// The MAC does not match.
    #[error("Signature mismatch")]
    BadSignature,
    /// The nonce was already used.
    #[error("Nonce already used")]
    ReusedNonce,
}

/// The four signature headers as text.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    /// App-Key.
    pub app_key: Option<&'a str>,
    /// Nonce.
    pub nonce: Option<&'a str>,
    /// Timestamp.
    pub timestamp: Option<&'a str>,
    /// Signature.
    pub signature: Option<&'a str>,
}

/// Computes the signature a client must send.
pub fn sign(secret: &str, nonce: &str, timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac accepts any key");
    mac.update(nonce.as_bytes());
    mac.update(timestamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks key, window and MAC. Returns the nonce and timestamp to record.
pub fn check(
    app_key: &str,
    secret: &str,
    headers: SignedHeaders<'_>,
    now_ms: i64,
) -> Result<(String, i64), SignatureError> {
    let key = headers.app_key.ok_or(SignatureError::Missing("App-Key"))?;
    let nonce = headers.nonce.ok_or(SignatureError::Missing("Nonce"))?;
    let ts_text = headers
        .timestamp
        .ok_or(SignatureError::Missing("Timestamp"))?;
    let sig = headers
        .signature
        .ok_or(SignatureError::Missing("Signature"))?;
    if key != app_key {
        return Err(SignatureError::WrongKey);
    }
    if nonce.is_empty() || nonce.chars().count() > 128 {
        return Err(SignatureError::BadNonce);
    }
    let ts: i64 = ts_text
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now_ms - ts).abs() > MAX_SKEW_MS {
        return Err(SignatureError::Stale);
    }
    let given = hex::decode(sig.trim()).map_err(|_| SignatureError::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac accepts any key");
    mac.update(nonce.as_bytes());
    mac.update(ts_text.as_bytes());
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::BadSignature)?;
    Ok((nonce.to_owned(), ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(key: &'a str, nonce: &'a str, ts: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders {
            app_key: Some(key),
            nonce: Some(nonce),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn accepts_fresh_and_refuses_bad() {
        let now = 1_700_000_000_000i64;
        let ts = now.to_string();
        let sig = sign("s", "n1", &ts);
        assert!(check("k", "s", headers("k", "n1", &ts, &sig), now).is_ok());
        assert_eq!(
            check("k", "s", headers("x", "n1", &ts, &sig), now),
            Err(SignatureError::WrongKey)
        );
        assert_eq!(
            check("k", "t", headers("k", "n1", &ts, &sig), now),
            Err(SignatureError::BadSignature)
        );
        let old = (now - MAX_SKEW_MS - 1).to_string();
        let old_sig = sign("s", "n1", &old);
        assert_eq!(
            check("k", "s", headers("k", "n1", &old, &old_sig), now),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            check("k", "s", headers("k", "n1", "abc", &sig), now),
            Err(SignatureError::BadTimestamp)
        );
    }
}
