//! The `Range` request header (RFC 9110 §14), single byte ranges only: what
//! `<video>` elements and resuming downloads send.

/// What to answer for a file of some size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// 200, the whole file: no Range, or one this server ignores (another
    /// unit, several ranges, malformed), as RFC 9110 allows.
    Full,
    /// 206, bytes `start..=end`.
    Part {
        /// First byte.
        start: u64,
        /// Last byte (inclusive, within the file).
        end: u64,
    },
    /// 416: no byte of the range is in the file.
    Unsatisfiable,
}

/// One side of `first-last`: empty, a number, or neither (malformed).
enum Side {
    Empty,
    At(u64),
    Bad,
}

fn side(text: &str) -> Side {
    let t = text.trim();
    if t.is_empty() {
        Side::Empty
    } else if t.bytes().all(|b| b.is_ascii_digit()) {
        // All digits but past u64: beyond any file.
        Side::At(t.parse().unwrap_or(u64::MAX))
    } else {
        Side::Bad
    }
}

/// Reads `header` (the Range value, if any) for a file of `size` bytes.
pub fn parse(header: Option<&str>, size: u64) -> Ranged {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ranged::Full;
    };
    let (start, end) = match (side(first), side(last)) {
        // The last n bytes.
        (Side::Empty, Side::At(n)) => {
            if n == 0 || size == 0 {
                return Ranged::Unsatisfiable;
            }
            (size.saturating_sub(n), size - 1)
        }
        (Side::At(start), Side::Empty) => (start, u64::MAX),
        (Side::At(start), Side::At(end)) => {
            if end < start {
                return Ranged::Unsatisfiable;
            }
            (start, end)
        }
        _ => return Ranged::Full,
    };
    if start >= size {
        return Ranged::Unsatisfiable;
    }
    Ranged::Part {
        start,
        end: end.min(size - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, end: u64) -> Ranged {
        Ranged::Part { start, end }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse(None, 10), Ranged::Full);
        assert_eq!(parse(Some("bytes=0-4"), 10), part(0, 4));
        assert_eq!(parse(Some("bytes=5-"), 10), part(5, 9));
        assert_eq!(parse(Some("bytes=-3"), 10), part(7, 9));
        assert_eq!(parse(Some("bytes=-30"), 10), part(0, 9));
        assert_eq!(parse(Some("bytes=8-100"), 10), part(8, 9));
        assert_eq!(parse(Some("bytes=9-9"), 10), part(9, 9));
        assert_eq!(
            parse(Some("bytes=0-99999999999999999999999"), 10),
            part(0, 9)
        );
        assert_eq!(parse(Some(" bytes= 2 - 3 "), 10), part(2, 3));
    }

    #[test]
    fn unsatisfiable() {
        for h in [
            "bytes=10-",
            "bytes=10-20",
            "bytes=-0",
            "bytes=5-4",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse(Some(h), 10), Ranged::Unsatisfiable, "{h}");
        }
    }

    #[test]
    fn ignored() {
        for h in [
            "items=0-4",
            "bytes=0-1,4-5",
            "bytes=abc",
            "bytes=-",
            "bytes=1-x",
            "bytes=-1-2",
            "bytes 0-4",
        ] {
            assert_eq!(parse(Some(h), 10), Ranged::Full, "{h}");
        }
    }
}
