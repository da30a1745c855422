//! File URLs: `<base>/media/file/<file id>/<name>`, and with
//! `--file-url-ttl` also `?expires=<unix s>&signature=<hex>` where the
//! signature is HMAC-SHA256 with the app secret over `<file id>:<expires>`.
//! The file id alone (128 random bits) is unguessable; the signature makes a
//! leaked URL stop working.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::naming;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, file_id: &str, expires: &str) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts any key");
    mac.update(file_id.as_bytes());
    mac.update(b":");
    mac.update(expires.as_bytes());
    mac
}

/// hex(HMAC-SHA256(secret, "<file id>:<expires>")).
pub fn signature(secret: &str, file_id: &str, expires: i64) -> String {
    hex::encode(
        mac(secret, file_id, &expires.to_string())
            .finalize()
            .into_bytes(),
    )
}

/// The URL of `file_id` named `name`: under `base` (`http(s)://host[:port]`),
/// signed to expire `ttl` after `now_ms` when a TTL is set.
pub fn file_url(
    base: &str,
    file_id: &str,
    name: &str,
    ttl: Option<Duration>,
    secret: &str,
    now_ms: i64,
) -> String {
    let mut url = format!("{base}/media/file/{file_id}/{}", naming::encode(name));
    if let Some(ttl) = ttl {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        // Rounded up: a URL never expires before its TTL.
        let expires = now_ms.saturating_add(ttl_ms).saturating_add(999) / 1000;
        url.push_str(&format!(
            "?expires={expires}&signature={}",
            signature(secret, file_id, expires)
        ));
    }
    url
}

/// Why a file URL is refused (403).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    /// `expires` or `signature` is absent.
    #[error(
        "this file URL needs its expires and signature parameters (the server signs file URLs)"
    )]
    Unsigned,
    /// The signature does not match the id and expiry.
    #[error("the file URL's signature does not match")]
    BadSignature,
    /// Signed, but the expiry has passed.
    #[error(
        "the file URL expired at {0} (Unix seconds); ask for the message again for a fresh one"
    )]
    Expired(i64),
}

/// Checks the `expires` and `signature` query parameters of a request for
/// `file_id` at `now_s` (Unix seconds).
pub fn check(
    secret: &str,
    file_id: &str,
    expires: Option<&str>,
    signature: Option<&str>,
    now_s: i64,
) -> Result<(), UrlRefused> {
    let (Some(expires), Some(signature)) = (expires, signature) else {
        return Err(UrlRefused::Unsigned);
    };
    let sig = hex::decode(signature).map_err(|_| UrlRefused::BadSignature)?;
    // The MAC covers the text as sent, so "0123" and "123" differ.
    mac(secret, file_id, expires)
        .verify_slice(&sig)
        .map_err(|_| UrlRefused::BadSignature)?;
    let at: i64 = expires.parse().map_err(|_| UrlRefused::BadSignature)?;
    if now_s > at {
        return Err(UrlRefused::Expired(at));
    }
    Ok(())
}

/// The `expires` and `signature` values of a query string (undecoded: both
/// are digits and hex digits when genuine).
pub fn query_params(query: Option<&str>) -> (Option<&str>, Option<&str>) {
    let (mut expires, mut signature) = (None, None);
    for pair in query.unwrap_or("").split('&') {
        match pair.split_once('=') {
            Some(("expires", v)) => expires = Some(v),
            Some(("signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    (expires, signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn unsigned_urls() {
        assert_eq!(
            file_url("http://h:1", ID, "a b.png", None, "s", 5),
            format!("http://h:1/media/file/{ID}/a%20b.png")
        );
    }

    #[test]
    fn signed_urls_verify_until_they_expire() {
        let url = file_url(
            "https://h",
            ID,
            "x",
            Some(Duration::from_secs(60)),
            "s",
            1_000_000,
        );
        let query = url.split_once('?').unwrap().1;
        let (e, s) = query_params(Some(query));
        assert_eq!(e, Some("1060"));
        assert_eq!(check("s", ID, e, s, 1000), Ok(()));
        assert_eq!(check("s", ID, e, s, 1060), Ok(()));
        assert_eq!(check("s", ID, e, s, 1061), Err(UrlRefused::Expired(1060)));
        assert_eq!(
            check("other", ID, e, s, 1000),
            Err(UrlRefused::BadSignature)
        );
        let other_id = "f".repeat(32);
        assert_eq!(
            check("s", &other_id, e, s, 1000),
            Err(UrlRefused::BadSignature)
        );
        assert_eq!(
            check("s", ID, Some("1061"), s, 1000),
            Err(UrlRefused::BadSignature)
        );
        assert_eq!(
            check("s", ID, Some("01060"), s, 1000),
            Err(UrlRefused::BadSignature)
        );
        assert_eq!(
            check("s", ID, e, Some("zz"), 1000),
            Err(UrlRefused::BadSignature)
        );
        assert_eq!(check("s", ID, e, None, 1000), Err(UrlRefused::Unsigned));
        assert_eq!(check("s", ID, None, s, 1000), Err(UrlRefused::Unsigned));
        // The signature is the documented HMAC, so other parties can check it.
        assert_eq!(s, Some(signature("s", ID, 1060).as_str()));
    }
}
