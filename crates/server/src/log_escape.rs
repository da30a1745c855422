//! Client text in the log cannot forge lines or fields.
//!
//! Every string a client controls (sdk version, device id, anything from an
//! admin body, error text that may quote them) is logged through
//! [`Escaped`]: quoted, with control characters, quotes, backslashes, line
//! separators and bidi overrides escaped, and cut at [`MAX_LOGGED_CHARS`]. A
//! `\n` in a client string therefore shows as the two characters `\n` inside
//! one quoted field value instead of starting a line of its own, and a `"`
//! cannot end the field early to fake a `key=value`.
//!
//! [`OneLinePerEvent`] is the second line of defence, at the writer: a log
//! event is written as exactly one line whatever a future log call forgets
//! to escape.

use std::fmt::{self, Display, Write as _};
use std::io::{self, Write};

/// Longest client text logged, in characters; the rest is summarised.
pub const MAX_LOGGED_CHARS: usize = 200;

/// Logs `T`'s text quoted and escaped (see the module doc):
/// `tracing::info!(sdk = %Escaped(&req.sdk_version), ...)`.
pub struct Escaped<T>(pub T);

impl<T: Display> Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let mut out = EscapingWriter {
            out: f,
            written: 0,
            dropped: 0,
        };
        write!(out, "{}", self.0)?;
        let dropped = out.dropped;
        f.write_char('"')?;
        if dropped > 0 {
            write!(f, "(+{dropped} chars)")?;
        }
        Ok(())
    }
}

/// Whether `c` could break a log line or mislead its reader.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '"' | '\\'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

struct EscapingWriter<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    written: usize,
    dropped: usize,
}

impl fmt::Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.written >= MAX_LOGGED_CHARS {
                self.dropped += 1;
                continue;
            }
            self.written += 1;
            if !needs_escape(c) {
                self.out.write_char(c)?;
            } else if c.is_ascii() {
                // \n, \r, \t, \", \\ and \u{1b} style.
                write!(self.out, "{}", c.escape_default())?;
            } else {
                write!(self.out, "{}", c.escape_unicode())?;
            }
        }
        Ok(())
    }
}

/// A `tracing_subscriber` writer that keeps every event on one line: any
/// line break inside an event (all but its final newline) is written as the
/// two characters `\n` / `\r`.
///
/// The fmt layer formats a whole event into one buffer and hands it over in
/// a single `write_all`, so every `write` call here is one event.
#[derive(Debug, Clone, Copy, Default)]
pub struct OneLinePerEvent;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for OneLinePerEvent {
    type Writer = OneLineWriter<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter(io::stderr())
    }
}

/// The writer [`OneLinePerEvent`] hands out.
pub struct OneLineWriter<W>(pub W);

impl<W: Write> Write for OneLineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (buf, &b""[..]),
        };
        if !body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
            self.0.write_all(buf)?;
            return Ok(buf.len());
        }
        let mut line = Vec::with_capacity(buf.len() + 16);
        for &b in body {
            match b {
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                _ => line.push(b),
            }
        }
        line.extend_from_slice(end);
        self.0.write_all(&line)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_a_line_or_field() {
        assert_eq!(
            Escaped("sdk/1\nFORGED x=\"y\"\r\t\\").to_string(),
            r#""sdk/1\nFORGED x=\"y\"\r\t\\""#
        );
        assert_eq!(Escaped("\u{1b}[2J").to_string(), r#""\u{1b}[2J""#);
        assert_eq!(
            Escaped("a\u{2028}b\u{202E}c").to_string(),
            r#""a\u{2028}b\u{202e}c""#
        );
        // Ordinary text, including non-ASCII, is kept as is.
        assert_eq!(Escaped("Zoë 你好 ok").to_string(), "\"Zoë 你好 ok\"");
        // Any Display value, e.g. an error quoting client text.
        assert_eq!(
            Escaped(format_args!("bad {}", "x\ny")).to_string(),
            r#""bad x\ny""#
        );
    }

    #[test]
    fn long_text_is_cut() {
        let long = "a".repeat(MAX_LOGGED_CHARS + 50);
        assert_eq!(
            Escaped(&long).to_string(),
            format!("\"{}\"(+50 chars)", "a".repeat(MAX_LOGGED_CHARS))
        );
    }

    #[test]
    fn writer_keeps_one_event_on_one_line() {
        let mut w = OneLineWriter(Vec::new());
        w.write_all(b"INFO connected sdk=x\nFORGED line\r\n")
            .unwrap();
        w.write_all(b"INFO plain\n").unwrap();
        assert_eq!(
            String::from_utf8(w.0).unwrap(),
            "INFO connected sdk=x\\nFORGED line\\r\nINFO plain\n"
        );
    }
}
