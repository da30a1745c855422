//! JavaScript arguments to JSON values, bounded.
//!
//! Arguments come from code the engine cannot trust: a renderer window over IPC (structured
//! clone keeps a sparse array's declared length), or app code passing whatever it holds. The
//! conversion runs on the JS thread, so it must finish quickly, allocate only in proportion
//! to what is really there, never leave a JS exception pending (that would make the call
//! throw instead of resolving its envelope) and never panic. Hence:
//! - an array's or object's length is checked before anything is reserved or read;
//! - one call's arguments share a budget of values and of string bytes;
//! - binary and exotic objects (typed arrays, ArrayBuffer, DataView, Date, Promise, boxed
//!   strings — whose every character is a key) are refused at once instead of being walked
//!   key by key;
//! - each element or member walked gets its own handle scope, so the handles of a large
//!   argument do not pile up until the call returns;
//! - a getter or Proxy trap that throws becomes a 33003 naming the place;
//! - text must be valid Unicode: a lone surrogate is refused, not stored as U+FFFD.
//!
//! Raw napi calls are used throughout because each one's status must be checked and a
//! pending exception cleared where it happens.

use std::ffi::c_char;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use serde_json::Value;

use imsync_core::ImError;

/// Deeper arguments are refused: it bounds the work and the stack, and turns a cyclic
/// object into a clear error instead of a crash.
pub const MAX_DEPTH: usize = 32;
/// Elements of one array, or keys of one object. The largest legitimate list of the API is
/// far below (batchInsertMessage takes 500, tag calls 1,000).
pub const MAX_ITEMS: u32 = 100_000;
/// Values in all the arguments of one call, counting every element, member (`undefined`
/// ones too: each is a property read) and every visit of a shared object. A 500-message
/// batch uses a few ten thousand.
pub const MAX_VALUES: usize = 200_000;
/// UTF-8 bytes of text in all the arguments of one call (a batch of 500 messages of the
/// 128 KB content limit fits).
pub const MAX_TEXT_BYTES: usize = 64 << 20;
/// Elements reserved ahead: a declared length is only a promise, so the vector grows with
/// what is really read beyond this.
const RESERVE_AHEAD: usize = 1024;
/// Longest object key shown in an error's path.
const PATH_KEY_CHARS: usize = 64;

/// Converts the positional arguments of one call, in order, sharing one budget.
pub fn args_or_invalid(args: &[(&str, Unknown<'_>)]) -> std::result::Result<Vec<Value>, ImError> {
    let Some((_, first)) = args.first() else {
        return Ok(Vec::new());
    };
    let mut reader = Reader::new(first.value().env);
    args.iter()
        .map(|(name, v)| reader.argument(v.raw(), &camel(name)))
        .collect()
}

/// Converts one argument (the constructor's options).
pub fn to_json(v: Unknown<'_>, name: &str) -> std::result::Result<Value, ImError> {
    Reader::new(v.value().env).argument(v.raw(), name)
}

struct Reader {
    env: sys::napi_env,
    /// The global `String` constructor, to recognise boxed strings (null if unreadable).
    string_ctor: sys::napi_value,
    values_left: usize,
    bytes_left: usize,
    /// Where the value being read sits, e.g. `messages[3].content.size`.
    path: String,
}

type Res<T> = std::result::Result<T, ImError>;

impl Reader {
    fn new(env: sys::napi_env) -> Self {
        let mut string_ctor = ptr::null_mut();
        // SAFETY: env is the live env of the current call; out-pointers are locals. The
        // global object's `String` is a plain data property of the realm.
        unsafe {
            let mut global = ptr::null_mut();
            if sys::napi_get_global(env, &mut global) != sys::Status::napi_ok
                || sys::napi_get_named_property(env, global, c"String".as_ptr(), &mut string_ctor)
                    != sys::Status::napi_ok
            {
                string_ctor = ptr::null_mut();
            }
        }
        let mut reader = Self {
            env,
            string_ctor,
            values_left: MAX_VALUES,
            bytes_left: MAX_TEXT_BYTES,
            path: String::new(),
        };
        reader.clear_exception();
        reader
    }

    fn argument(&mut self, v: sys::napi_value, name: &str) -> Res<Value> {
        self.path.clear();
        self.path.push_str(name);
        let out = self.spend_values(1).and_then(|()| self.value(v, 0));
        // Whatever happened above, no exception may stay pending: the call must resolve.
        if out.is_err() {
            self.clear_exception();
        }
        out
    }

    fn invalid(&self, rule: impl std::fmt::Display) -> ImError {
        ImError::invalid(format!("{} {rule}", self.path))
    }

    /// Turns a napi status into a result; a thrown exception is cleared and quoted.
    fn check(&mut self, status: sys::napi_status, doing: &str) -> Res<()> {
        if status == sys::Status::napi_ok {
            return Ok(());
        }
        // Node reports a throwing getter or Proxy trap as a generic failure with the
        // exception pending, so the pending exception decides, not the status.
        let mut pending = false;
        // SAFETY: env is the live env of the current call.
        unsafe { sys::napi_is_exception_pending(self.env, &mut pending) };
        if pending {
            let thrown = self.take_exception();
            return Err(self.invalid(format!("cannot be read: {doing} threw {thrown}")));
        }
        Err(self.invalid(format!(
            "cannot be read: {doing} failed (napi status {status})"
        )))
    }

    fn clear_exception(&mut self) {
        let mut pending = false;
        // SAFETY: env is the live env of the current call; out-pointers are locals.
        unsafe {
            sys::napi_is_exception_pending(self.env, &mut pending);
            if pending {
                let mut e = ptr::null_mut();
                sys::napi_get_and_clear_last_exception(self.env, &mut e);
            }
        }
    }

    /// Clears the pending exception and describes it: a thrown string, or an Error's
    /// `message` when that reads as a string (a `message` getter that throws too is cleared
    /// and the exception described generically).
    fn take_exception(&mut self) -> String {
        let mut e = ptr::null_mut();
        // SAFETY: as in clear_exception.
        unsafe {
            if sys::napi_get_and_clear_last_exception(self.env, &mut e) != sys::Status::napi_ok
                || e.is_null()
            {
                return "an exception".into();
            }
            let mut is_error = false;
            sys::napi_is_error(self.env, e, &mut is_error);
            let text = if is_error {
                let mut msg = ptr::null_mut();
                let status =
                    sys::napi_get_named_property(self.env, e, c"message".as_ptr(), &mut msg);
                if status == sys::Status::napi_ok {
                    self.short_text(msg)
                } else {
                    self.clear_exception();
                    None
                }
            } else {
                self.short_text(e)
            };
            match text {
                Some(t) => format!("{t:?}"),
                None => "an exception".into(),
            }
        }
    }

    /// The first 200 characters of a JS string value, or None when it is not a string.
    fn short_text(&self, v: sys::napi_value) -> Option<String> {
        let mut buf = [0u8; 801];
        let mut written = 0usize;
        // SAFETY: buf is writable for its length; napi writes at most len - 1 bytes + NUL.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                self.env,
                v,
                buf.as_mut_ptr() as *mut c_char,
                buf.len(),
                &mut written,
            )
        };
        if status != sys::Status::napi_ok {
            return None;
        }
        let text = String::from_utf8_lossy(&buf[..written]);
        Some(text.chars().take(200).collect())
    }

    fn spend_values(&mut self, n: usize) -> Res<()> {
        if n > self.values_left {
            return Err(self.invalid(format!(
                "makes the call's arguments hold more than {MAX_VALUES} values (elements and members, counting every visit of a shared object)"
            )));
        }
        self.values_left -= n;
        Ok(())
    }

    /// Runs `f` in its own handle scope: the handles it makes die with the scope, and what
    /// it returns is Rust data.
    fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> Res<T>) -> Res<T> {
        let mut scope = ptr::null_mut();
        // SAFETY: env is the live env of the current call.
        if unsafe { sys::napi_open_handle_scope(self.env, &mut scope) } != sys::Status::napi_ok {
            return f(self);
        }
        let out = f(self);
        // SAFETY: scope was opened above and nothing opened inside it is still open.
        unsafe { sys::napi_close_handle_scope(self.env, scope) };
        out
    }

    /// Converts `v`, whose cost the caller has already spent from the budget.
    fn value(&mut self, v: sys::napi_value, depth: usize) -> Res<Value> {
        let mut t = 0;
        // SAFETY: v is a value of the current call's handle scope.
        let status = unsafe { sys::napi_typeof(self.env, v, &mut t) };
        self.check(status, "typeof")?;
        match t {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(Value::Null),
            sys::ValueType::napi_boolean => {
                let mut b = false;
                // SAFETY: v is a boolean, as napi just reported.
                let status = unsafe { sys::napi_get_value_bool(self.env, v, &mut b) };
                self.check(status, "reading a boolean")?;
                Ok(Value::Bool(b))
            }
            sys::ValueType::napi_number => self.number(v),
            sys::ValueType::napi_string => self.string(v).map(Value::String),
            sys::ValueType::napi_object => {
                if depth >= MAX_DEPTH {
                    return Err(self.invalid(format!(
                        "is nested more than {MAX_DEPTH} levels deep (or refers to itself)"
                    )));
                }
                if let Some(kind) = self.exotic(v)? {
                    return Err(self.invalid(format!(
                        "must be plain data (objects, arrays, strings, numbers, booleans), got {kind}"
                    )));
                }
                let mut is_array = false;
                // SAFETY: v is an object.
                let status = unsafe { sys::napi_is_array(self.env, v, &mut is_array) };
                self.check(status, "Array.isArray")?;
                if is_array {
                    self.array(v, depth)
                } else {
                    self.object(v, depth)
                }
            }
            sys::ValueType::napi_bigint => Err(self.invalid("must be a number, got a BigInt")),
            sys::ValueType::napi_function => Err(self.invalid("cannot be a function")),
            sys::ValueType::napi_symbol => Err(self.invalid("cannot be a symbol")),
            _ => Err(self.invalid("cannot be an external value")),
        }
    }

    fn number(&mut self, v: sys::napi_value) -> Res<Value> {
        let mut f = 0f64;
        // SAFETY: v is a number.
        let status = unsafe { sys::napi_get_value_double(self.env, v, &mut f) };
        self.check(status, "reading a number")?;
        if !f.is_finite() {
            // As JavaScript spells them, not Rust's `inf`.
            let got = if f.is_nan() {
                "NaN"
            } else if f > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            return Err(self.invalid(format!("must be a finite number, got {got}")));
        }
        if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            Ok(Value::from(f as i64))
        } else {
            Ok(serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null))
        }
    }

    /// A binary or otherwise non-plain object JSON cannot carry meaningfully.
    fn exotic(&mut self, v: sys::napi_value) -> Res<Option<&'static str>> {
        type Probe =
            unsafe extern "C" fn(sys::napi_env, sys::napi_value, *mut bool) -> sys::napi_status;
        let probes: [(Probe, &'static str); 5] = [
            (
                sys::napi_is_typedarray,
                "a typed array (Buffer, Uint8Array, …)",
            ),
            (sys::napi_is_arraybuffer, "an ArrayBuffer"),
            (sys::napi_is_dataview, "a DataView"),
            (
                sys::napi_is_date,
                "a Date (pass its getTime() for a timestamp)",
            ),
            (sys::napi_is_promise, "a Promise (await it first)"),
        ];
        for (probe, kind) in probes {
            let mut yes = false;
            // SAFETY: v is an object; the probes only inspect it.
            let status = unsafe { probe(self.env, v, &mut yes) };
            self.check(status, "inspecting the object")?;
            if yes {
                return Ok(Some(kind));
            }
        }
        // A boxed string (`new String(s)`, which structured clone keeps) lists one key per
        // character: refused before its keys are listed.
        if !self.string_ctor.is_null() {
            let mut yes = false;
            // SAFETY: v is an object and string_ctor a function of this realm.
            let status = unsafe { sys::napi_instanceof(self.env, v, self.string_ctor, &mut yes) };
            self.check(status, "inspecting the object")?;
            if yes {
                return Ok(Some("a String object (pass the string itself)"));
            }
        }
        Ok(None)
    }

    fn array(&mut self, v: sys::napi_value, depth: usize) -> Res<Value> {
        let mut len = 0u32;
        // SAFETY: v is an array.
        let status = unsafe { sys::napi_get_array_length(self.env, v, &mut len) };
        self.check(status, "reading the length")?;
        if len > MAX_ITEMS {
            return Err(self.invalid(format!(
                "has {len} elements; at most {MAX_ITEMS} are accepted"
            )));
        }
        self.spend_values(len as usize)?;
        let mut out = Vec::with_capacity((len as usize).min(RESERVE_AHEAD));
        let base = self.path.len();
        for i in 0..len {
            self.path.truncate(base);
            self.path.push_str(&format!("[{i}]"));
            let item = self.scoped(|r| {
                let mut item = ptr::null_mut();
                // SAFETY: v is an array; i is below its length.
                let status = unsafe { sys::napi_get_element(r.env, v, i, &mut item) };
                r.check(status, "reading the element")?;
                // A hole or undefined element is null, as in JSON.stringify.
                r.value(item, depth + 1)
            })?;
            out.push(item);
        }
        self.path.truncate(base);
        Ok(Value::Array(out))
    }

    fn object(&mut self, v: sys::napi_value, depth: usize) -> Res<Value> {
        let mut names = ptr::null_mut();
        // Own enumerable string keys, as JSON.stringify reads them: nothing inherited, so a
        // polluted Object.prototype cannot add members.
        // SAFETY: v is an object.
        let status = unsafe {
            sys::napi_get_all_property_names(
                self.env,
                v,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut names,
            )
        };
        self.check(status, "listing its keys")?;
        let mut len = 0u32;
        // SAFETY: names is the array napi just made.
        let status = unsafe { sys::napi_get_array_length(self.env, names, &mut len) };
        self.check(status, "listing its keys")?;
        if len > MAX_ITEMS {
            return Err(self.invalid(format!("has {len} keys; at most {MAX_ITEMS} are accepted")));
        }
        // Every member costs a read, `undefined` ones included.
        self.spend_values(len as usize)?;
        let mut out = serde_json::Map::new();
        let base = self.path.len();
        for i in 0..len {
            self.path.truncate(base);
            let member = self.scoped(|r| {
                let mut key_value = ptr::null_mut();
                // SAFETY: names is an array of `len` strings.
                let status = unsafe { sys::napi_get_element(r.env, names, i, &mut key_value) };
                r.check(status, "listing its keys")?;
                r.path.push_str(" key");
                let key = r.string(key_value)?;
                r.path.truncate(base);
                push_key(&mut r.path, &key);
                let mut item = ptr::null_mut();
                // SAFETY: v is an object and key_value one of its keys.
                let status = unsafe { sys::napi_get_property(r.env, v, key_value, &mut item) };
                r.check(status, "reading it")?;
                let mut t = 0;
                // SAFETY: item was just read.
                let status = unsafe { sys::napi_typeof(r.env, item, &mut t) };
                r.check(status, "typeof")?;
                // JSON.stringify drops undefined members; so does this.
                if t == sys::ValueType::napi_undefined {
                    return Ok(None);
                }
                Ok(Some((key, r.value(item, depth + 1)?)))
            })?;
            if let Some((key, value)) = member {
                out.insert(key, value);
            }
        }
        self.path.truncate(base);
        Ok(Value::Object(out))
    }

    /// A JS string as UTF-8, its size checked before it is copied. V8 writes a lone
    /// surrogate as U+FFFD, so text holding U+FFFD is looked at again in UTF-16 to tell a
    /// real replacement character from a lone surrogate.
    fn string(&mut self, v: sys::napi_value) -> Res<String> {
        let mut len = 0usize;
        // SAFETY: v is a string; a null buffer asks for the length only.
        let status =
            unsafe { sys::napi_get_value_string_utf8(self.env, v, ptr::null_mut(), 0, &mut len) };
        self.check(status, "reading a string")?;
        if len > self.bytes_left {
            return Err(self.invalid(format!(
                "is {len} bytes of text, past what is left of the call's budget: the arguments of one call may hold at most {} MiB of text",
                MAX_TEXT_BYTES >> 20
            )));
        }
        self.bytes_left -= len;
        let mut buf: Vec<u8> = Vec::with_capacity(len + 1);
        let mut written = 0usize;
        // SAFETY: buf has room for len bytes and the NUL napi appends.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                self.env,
                v,
                buf.as_mut_ptr() as *mut c_char,
                len + 1,
                &mut written,
            )
        };
        self.check(status, "reading a string")?;
        // SAFETY: napi initialised `written` (≤ len) bytes.
        unsafe { buf.set_len(written.min(len)) };
        let text = String::from_utf8(buf).map_err(|_| self.invalid("is not valid text"))?;
        if text.contains('\u{FFFD}') {
            self.refuse_lone_surrogate(v)?;
        }
        Ok(text)
    }

    fn refuse_lone_surrogate(&mut self, v: sys::napi_value) -> Res<()> {
        let mut len = 0usize;
        // SAFETY: as in `string`, in UTF-16 code units.
        let status =
            unsafe { sys::napi_get_value_string_utf16(self.env, v, ptr::null_mut(), 0, &mut len) };
        self.check(status, "reading a string")?;
        let mut units: Vec<u16> = Vec::with_capacity(len + 1);
        let mut written = 0usize;
        // SAFETY: units has room for len code units and the NUL.
        let status = unsafe {
            sys::napi_get_value_string_utf16(self.env, v, units.as_mut_ptr(), len + 1, &mut written)
        };
        self.check(status, "reading a string")?;
        // SAFETY: napi initialised `written` (≤ len) code units.
        unsafe { units.set_len(written.min(len)) };
        let mut index = 0usize;
        for decoded in char::decode_utf16(units.iter().copied()) {
            match decoded {
                Ok(c) => index += c.len_utf16(),
                Err(e) => {
                    return Err(self.invalid(format!(
                        "contains a lone surrogate (code unit {:#06X} at index {index}); text must be valid Unicode",
                        e.unpaired_surrogate()
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Appends `.key` to an error path, or `["key"]` (quoted, escaped, shortened) when the key
/// is not a plain identifier, so a key cannot forge or garble the message.
fn push_key(path: &mut String, key: &str) {
    let plain = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && key.len() <= PATH_KEY_CHARS;
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        let shown: String = key.chars().take(PATH_KEY_CHARS).collect();
        let more = if shown.len() < key.len() { "…" } else { "" };
        path.push_str(&format!("[{:?}{more}]", shown));
    }
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
