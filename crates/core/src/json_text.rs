//! Rows written straight to JSON text. Pages of messages and conversations are the largest
//! answers the API gives; building a `serde_json::Value` per row (re-parsing each stored
//! content document, one allocation per key) and then serializing it cost more than the
//! query itself. Stored content and expansion are JSON already and are copied as they are.

use std::io::Write;

use serde::de::IgnoredAny;

/// JSON text that is ready to hand to JavaScript (`JSON.parse` on the JS thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(pub String);

impl RawJson {
    pub fn parse(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }
}

/// An append-only writer of one JSON document; it places the commas.
pub struct JsonWriter {
    buf: Vec<u8>,
    /// The next item opens its container (no comma before it).
    first: bool,
}

impl Default for JsonWriter {
    fn default() -> Self {
        Self::with_capacity(256)
    }
}

impl JsonWriter {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
            first: true,
        }
    }

    fn item(&mut self) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
    }

    pub fn begin_object(&mut self) -> &mut Self {
        self.item();
        self.buf.push(b'{');
        self.first = true;
        self
    }

    pub fn end_object(&mut self) -> &mut Self {
        self.buf.push(b'}');
        self.first = false;
        self
    }

    pub fn begin_array(&mut self) -> &mut Self {
        self.item();
        self.buf.push(b'[');
        self.first = true;
        self
    }

    pub fn end_array(&mut self) -> &mut Self {
        self.buf.push(b']');
        self.first = false;
        self
    }

    /// A member name; the next call writes its value.
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.item();
        self.escaped(k);
        self.buf.push(b':');
        self.first = true;
        self
    }

    fn escaped(&mut self, s: &str) {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.item();
        self.escaped(s);
        self
    }

    pub fn int(&mut self, i: i64) -> &mut Self {
        self.item();
        let _ = write!(self.buf, "{i}");
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.item();
        self.buf
            .extend_from_slice(if b { b"true" } else { b"false" });
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.item();
        self.buf.extend_from_slice(b"null");
        self
    }

    /// A stored JSON document, copied as is; `null` if it is not valid JSON (so one damaged
    /// row can never make the whole answer unparsable).
    pub fn raw(&mut self, json: Option<&str>) -> &mut Self {
        match json {
            Some(j) if serde_json::from_str::<IgnoredAny>(j).is_ok() => {
                self.item();
                self.buf.extend_from_slice(j.trim().as_bytes());
                self
            }
            _ => self.null(),
        }
    }

    /// A value already held as a `serde_json::Value`.
    pub fn value(&mut self, v: &serde_json::Value) -> &mut Self {
        self.item();
        let _ = serde_json::to_writer(&mut self.buf, v);
        self
    }

    pub fn finish(self) -> RawJson {
        // Only UTF-8 was written: escaped strings, digits, stored JSON (a Rust `str`).
        RawJson(String::from_utf8(self.buf).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_nesting_escapes_and_damaged_documents() {
        let mut w = JsonWriter::default();
        w.begin_array();
        w.begin_object()
            .key("a")
            .int(-3)
            .key("s\"")
            .str("x\u{1}y")
            .key("o")
            .begin_object()
            .key("t")
            .bool(true)
            .end_object()
            .key("raw")
            .raw(Some(r#" {"k":[1,2]} "#))
            .key("bad")
            .raw(Some("{oops"))
            .key("none")
            .raw(None)
            .end_object();
        w.begin_array().end_array().null().end_array();
        let text = w.finish().0;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{ "a": -3, "s\"": "x\u{1}y", "o": { "t": true },
                                 "raw": { "k": [1, 2] }, "bad": null, "none": null }, [], null])
        );
    }
}
