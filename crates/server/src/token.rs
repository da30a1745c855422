//! User tokens: `t1.<hex(user id)>.<expiry ms>.<hex(HMAC-SHA256)>`.
//!
//! The server keeps no token table: a token is valid when its MAC, computed
//! with the app secret over everything before it, matches. Expiry 0 means the
//! token never expires (the vendor's default); a token whose expiry has
//! passed is refused with 31020, any other defect with 31004.

use hmac::{Hmac, Mac};
use imsync_protocol::codes;
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "t1";

fn mac(secret: &str, payload: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts any key");
    mac.update(b"imsync-token\0");
    mac.update(payload.as_bytes());
    mac
}

/// Issues a token for `user_id` expiring at `expires_at_ms` (0 = never).
pub fn issue(secret: &str, user_id: &str, expires_at_ms: i64) -> String {
    let payload = format!("{PREFIX}.{}.{}", hex::encode(user_id), expires_at_ms);
    let sig = hex::encode(mac(secret, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// Verifies `token` at time `now_ms`; returns its user id.
pub fn verify(secret: &str, token: &str, now_ms: i64) -> Result<String, ApiError> {
    let bad = || ApiError::new(codes::RC_CONN_TOKEN_INCORRECT, "token invalid");
    let (payload, sig_hex) = token.rsplit_once('.').ok_or_else(bad)?;
    let sig = hex::decode(sig_hex).map_err(|_| bad())?;
    mac(secret, payload).verify_slice(&sig).map_err(|_| bad())?;
    let mut parts = payload.split('.');
    let (Some(PREFIX), Some(user_hex), Some(exp), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let user_id = hex::decode(user_hex)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let exp: i64 = exp.parse().map_err(|_| bad())?;
    if exp != 0 && exp <= now_ms {
        return Err(ApiError::new(codes::RC_CONN_TOKEN_EXPIRED, "token expired"));
    }
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failures() {
        let t = issue("s", "alice", 0);
        assert_eq!(verify("s", &t, 5).unwrap(), "alice");
        assert_eq!(
            verify("other", &t, 5).unwrap_err().code,
            codes::RC_CONN_TOKEN_INCORRECT
        );
        let exp = issue("s", "bob", 1000);
        assert_eq!(verify("s", &exp, 999).unwrap(), "bob");
        assert_eq!(
            verify("s", &exp, 1000).unwrap_err().code,
            codes::RC_CONN_TOKEN_EXPIRED
        );
        for junk in ["", ".", "t1..0.", "t1.zz.0.00", &t[..t.len() - 1]] {
            assert_eq!(
                verify("s", junk, 0).unwrap_err().code,
                codes::RC_CONN_TOKEN_INCORRECT
            );
        }
        // Changing the user id invalidates the MAC.
        let forged = t.replacen(&hex::encode("alice"), &hex::encode("mallory"), 1);
        assert_eq!(
            verify("s", &forged, 0).unwrap_err().code,
            codes::RC_CONN_TOKEN_INCORRECT
        );
    }
}
