//! What an upload says about its file: the name (percent-encoded UTF-8 in
//! `X-Upload-Name`), the MIME type (`X-Upload-Type`, else guessed from the
//! name) and whether it is shown or saved (`X-Upload-Disposition`), and how
//! the name goes back out in URLs and `Content-Disposition`.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Longest file name, in bytes of UTF-8 (what common file systems allow).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest MIME type, `type/subtype` (RFC 6838 allows 127 + 1 + 127).
const MAX_TYPE_BYTES: usize = 255;

/// Everything but RFC 3986's unreserved characters is encoded: the result
/// is safe as a URL path segment and as an RFC 8187 `filename*` value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `text` for a URL path segment or `filename*`.
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// Decodes and checks an `X-Upload-Name` value.
pub fn decode_name(raw: &str) -> Result<String, String> {
    let bytes: Vec<u8> = percent_decode_str(raw).collect();
    let name = String::from_utf8(bytes)
        .map_err(|_| "X-Upload-Name must be percent-encoded UTF-8".to_owned())?;
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "X-Upload-Name must be 1..={MAX_NAME_BYTES} bytes of UTF-8 once decoded (it is {})",
            name.len()
        ));
    }
    if name.contains(['/', '\\', '\0']) {
        return Err("X-Upload-Name must not contain '/', '\\' or NUL".into());
    }
    // A URL path segment of "." or ".." is removed by every URL parser, so
    // the file URL would not reach the file.
    if name == "." || name == ".." {
        return Err("X-Upload-Name must not be \".\" or \"..\"".into());
    }
    Ok(name)
}

/// RFC 9110 `tchar`: what a MIME type and subtype are made of.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Checks an `X-Upload-Type` value: `type/subtype`, both tokens, no
/// parameters; returned in lower case (MIME types are case-insensitive).
pub fn parse_type(raw: &str) -> Result<String, String> {
    let t = raw.trim();
    let plausible = t.len() <= MAX_TYPE_BYTES
        && matches!(t.split_once('/'), Some((ty, sub)) if is_token(ty) && is_token(sub));
    if !plausible {
        return Err(
            "X-Upload-Type must be a MIME type like image/png (type/subtype, no parameters)".into(),
        );
    }
    Ok(t.to_ascii_lowercase())
}

/// Shown in place (`inline`) or saved (`attachment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Rendered by the browser (an `<img>`, a player).
    Inline,
    /// Offered as a download.
    Attachment,
}

impl Disposition {
    /// The header (and database) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Inline => "inline",
            Disposition::Attachment => "attachment",
        }
    }

    /// Inline for media a chat shows in place, attachment for the rest.
    pub fn default_for(mime: &str) -> Disposition {
        if ["image/", "video/", "audio/"]
            .iter()
            .any(|p| mime.starts_with(p))
        {
            Disposition::Inline
        } else {
            Disposition::Attachment
        }
    }

    /// Checks an `X-Upload-Disposition` value.
    pub fn parse(raw: &str) -> Result<Disposition, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "inline" => Ok(Disposition::Inline),
            "attachment" => Ok(Disposition::Attachment),
            _ => Err("X-Upload-Disposition must be inline or attachment".into()),
        }
    }
}

/// `Content-Disposition` for a stored disposition and name (RFC 6266, the
/// name as RFC 8187 `filename*`).
pub fn content_disposition(disposition: &str, name: &str) -> String {
    let kind = if disposition == Disposition::Inline.as_str() {
        "inline"
    } else {
        "attachment"
    };
    format!("{kind}; filename*=UTF-8''{}", encode(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_encoding() {
        for name in [
            "photo 1.jpg",
            "报告 (final).pdf",
            "a%b&c?d#e.txt",
            "naïve—ü.png",
        ] {
            let encoded = encode(name);
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
                "{encoded}"
            );
            assert_eq!(decode_name(&encoded).unwrap(), name);
        }
        assert_eq!(decode_name("plain.txt").unwrap(), "plain.txt");
    }

    #[test]
    fn bad_names() {
        let long = "a".repeat(256);
        for bad in [
            "",
            "a%2Fb",
            "a/b",
            "a%5Cb",
            "a%00b",
            "%FF%FE",
            "..",
            ".",
            long.as_str(),
        ] {
            assert!(decode_name(bad).is_err(), "{bad}");
        }
        assert!(decode_name(&"a".repeat(255)).is_ok());
        // 85 three-byte characters are 255 bytes; 86 are too many.
        assert!(decode_name(&encode(&"报".repeat(85))).is_ok());
        assert!(decode_name(&encode(&"报".repeat(86))).is_err());
    }

    #[test]
    fn types() {
        assert_eq!(parse_type("Image/PNG").unwrap(), "image/png");
        assert_eq!(
            parse_type("application/vnd.api+json").unwrap(),
            "application/vnd.api+json"
        );
        for bad in [
            "",
            "image",
            "image/",
            "/png",
            "image/png; charset=x",
            "text/html\r\nX-Evil: 1",
            "a/b/c",
            "image /png",
        ] {
            assert!(parse_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dispositions() {
        assert_eq!(Disposition::default_for("image/png"), Disposition::Inline);
        assert_eq!(Disposition::default_for("audio/amr"), Disposition::Inline);
        assert_eq!(
            Disposition::default_for("application/pdf"),
            Disposition::Attachment
        );
        assert_eq!(
            Disposition::parse("Attachment"),
            Ok(Disposition::Attachment)
        );
        assert!(Disposition::parse("download").is_err());
        assert_eq!(
            content_disposition("inline", "a b.png"),
            "inline; filename*=UTF-8''a%20b.png"
        );
        assert_eq!(
            content_disposition("attachment", "\"x\";.txt"),
            "attachment; filename*=UTF-8''%22x%22%3B.txt"
        );
    }
}
