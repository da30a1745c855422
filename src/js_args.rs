//! JavaScript arguments to JSON values, bounded.
//!
//! Arguments come from code the engine cannot trust: a renderer window over IPC (structured
//! clone keeps a sparse array's declared length), or app code passing whatever it holds. The
//! conversion runs on the JS thread, so it must finish quickly, allocate only in proportion
//! to what is really there, never leave a JS exception pending (that would make the call
//! throw instead of resolving its envelope) and never panic. Hence, in `js_args.js`:
//! - an array's or object's length is checked before anything is read (a sparse
//!   `new Array(2 ** 31)` is refused at once);
//! - one call's arguments share a budget of values and of string bytes;
//! - binary and exotic objects (typed arrays, ArrayBuffer, DataView, Date, Promise, boxed
//!   strings — whose every character is a key) are refused instead of being walked;
//! - a getter or Proxy trap that throws becomes a 33003 naming the place;
//! - text must be valid Unicode: a lone surrogate is refused, not stored as U+FFFD.
//!
//! The walk is JavaScript, compiled once per env, because reading a message object through
//! napi took about 75 calls into V8 (5 ms of JS-thread time for a 500-message batch), while
//! plain JavaScript reads it at JIT speed and V8's own JSON.stringify writes the copy it
//! made. Rust takes the one string it returns and parses it off the JS thread.
//!
//! What JavaScript cannot tell apart, and so is read as the plain object it looks like: a
//! napi external (no own members), and a Date, Promise or ArrayBuffer whose
//! Symbol.toStringTag was rewritten (no own members to cost anything). A Proxy of an array
//! is read as an array, as JSON.stringify reads it.

use std::ffi::c_char;
use std::ptr;

use napi::bindgen_prelude::*;
use napi::sys;
use serde_json::Value;

use imsync_core::ImError;

/// The converter's source: its value is the function `convert(...args)`.
const CONVERTER: &str = include_str!("js_args.js");
/// Integers JavaScript holds exactly; JSON text writes `2 ** 53` as an integer, but the
/// caller passed a float beyond them, which the core refuses where it wants an integer.
const MAX_SAFE: u64 = (1 << 53) - 1;

/// One call's arguments as JSON text, copied on the JS thread and parsed where the call
/// runs. The copy is UTF-16, as V8 holds the text: a plain copy, where asking V8 for UTF-8
/// (a character-by-character conversion) took as long as the walk itself.
#[derive(Default)]
pub struct JsonArgs(Vec<u16>);

impl JsonArgs {
    /// The arguments in order. The text is V8's JSON.stringify output (which escapes lone
    /// surrogates), so a failure here is a bug, not a bad argument.
    pub fn into_values(self) -> std::result::Result<Vec<Value>, ImError> {
        if self.0.is_empty() {
            return Ok(Vec::new());
        }
        let bug = |e: &dyn std::fmt::Display| {
            ImError::internal(format!("the arguments could not be parsed: {e}"))
        };
        let text = String::from_utf16(&self.0).map_err(|e| bug(&e))?;
        let mut values: Vec<Value> = serde_json::from_str(&text).map_err(|e| bug(&e))?;
        values.iter_mut().for_each(unsafe_integers_as_floats);
        Ok(values)
    }
}

/// Converts the positional arguments of one call, in order, sharing one budget.
pub fn args_or_invalid(args: &[(&str, Unknown<'_>)]) -> std::result::Result<JsonArgs, ImError> {
    let Some((_, first)) = args.first() else {
        return Ok(JsonArgs::default());
    };
    let raw: Vec<sys::napi_value> = args.iter().map(|(_, v)| v.raw()).collect();
    convert(first.value().env, &raw).map_err(|refusal| refusal.naming(|i| args[i].0))
}

/// Converts one argument (the constructor's options).
pub fn to_json(v: Unknown<'_>, name: &str) -> std::result::Result<Value, ImError> {
    let args = convert(v.value().env, &[v.raw()]).map_err(|refusal| refusal.naming(|_| name))?;
    Ok(args.into_values()?.pop().unwrap_or(Value::Null))
}

/// Why the converter refused: the index of the argument and the message after its name.
enum Refusal {
    Argument(usize, String),
    Failed(ImError),
}

impl Refusal {
    fn naming<'a>(self, name: impl Fn(usize) -> &'a str) -> ImError {
        match self {
            Refusal::Argument(index, rest) => {
                ImError::invalid(format!("{}{rest}", camel(name(index))))
            }
            Refusal::Failed(e) => e,
        }
    }
}

fn convert(env: sys::napi_env, args: &[sys::napi_value]) -> std::result::Result<JsonArgs, Refusal> {
    let failed = |doing: &str| {
        clear_exception(env);
        Refusal::Failed(ImError::internal(format!(
            "the arguments could not be read: {doing} failed"
        )))
    };
    let converter = converter(env).ok_or_else(|| failed("compiling the converter"))?;
    let mut out = ptr::null_mut();
    // SAFETY: env is the live env of the current call; converter and args are values of its
    // handle scope. The converter catches everything it runs, so a failure here is the stack
    // or the isolate giving out; its exception is cleared below.
    let status = unsafe {
        let mut undefined = ptr::null_mut();
        sys::napi_get_undefined(env, &mut undefined);
        sys::napi_call_function(
            env,
            undefined,
            converter,
            args.len(),
            args.as_ptr(),
            &mut out,
        )
    };
    if status != sys::Status::napi_ok {
        // Named after the first argument, as the converter names what it cannot place.
        clear_exception(env);
        return Err(Refusal::Argument(
            0,
            " cannot be read: the converter failed".into(),
        ));
    }
    let text = utf16(env, out).ok_or_else(|| failed("copying the converter's result"))?;
    if text.first() == Some(&u16::from(b'[')) {
        return Ok(JsonArgs(text));
    }
    let text = String::from_utf16_lossy(&text);
    match text
        .split_once(':')
        .map(|(i, rest)| (i.parse::<usize>(), rest))
    {
        Some((Ok(index), rest)) if index < args.len() => {
            Err(Refusal::Argument(index, rest.to_string()))
        }
        _ => Err(failed("reading the converter's answer")),
    }
}

/// The converter function of this env, compiled on first use and kept in the env's instance
/// data (one env per JS thread: the main thread and each worker have their own).
fn converter(env: sys::napi_env) -> Option<sys::napi_value> {
    let napi_env = Env::from_raw(env);
    let kept = napi_env.get_instance_data::<Converter>();
    if let Ok(Some(kept)) = kept {
        let mut f = ptr::null_mut();
        // SAFETY: the reference was made in this env and lives as long as it.
        let status = unsafe { sys::napi_get_reference_value(env, kept.0, &mut f) };
        return (status == sys::Status::napi_ok && !f.is_null()).then_some(f);
    }
    let f = compile(env)?;
    // Another user of the instance-data slot (there is none today) keeps it: compile per call.
    if matches!(kept, Ok(None)) {
        let mut reference = ptr::null_mut();
        // SAFETY: f is a live function value; the reference keeps it for the env's life. It is
        // never deleted: the env frees its references when it is torn down.
        if unsafe { sys::napi_create_reference(env, f, 1, &mut reference) } == sys::Status::napi_ok
        {
            let _ = napi_env.set_instance_data(Converter(reference), (), |_| {});
        }
    }
    Some(f)
}

struct Converter(sys::napi_ref);

fn compile(env: sys::napi_env) -> Option<sys::napi_value> {
    let mut source = ptr::null_mut();
    let mut f = ptr::null_mut();
    let mut kind = 0;
    // SAFETY: env is the live env of the current call; the source is valid UTF-8 of the
    // given length; out-pointers are locals.
    let ok = unsafe {
        sys::napi_create_string_utf8(
            env,
            CONVERTER.as_ptr() as *const c_char,
            CONVERTER.len() as isize,
            &mut source,
        ) == sys::Status::napi_ok
            && sys::napi_run_script(env, source, &mut f) == sys::Status::napi_ok
            && sys::napi_typeof(env, f, &mut kind) == sys::Status::napi_ok
    };
    (ok && kind == sys::ValueType::napi_function).then_some(f)
}

/// A JS string's UTF-16 code units. None when `v` is not a string.
fn utf16(env: sys::napi_env, v: sys::napi_value) -> Option<Vec<u16>> {
    let mut len = 0usize;
    // SAFETY: a null buffer asks for the length only.
    let status = unsafe { sys::napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut len) };
    if status != sys::Status::napi_ok {
        return None;
    }
    let mut units: Vec<u16> = Vec::with_capacity(len + 1);
    let mut written = 0usize;
    // SAFETY: units has room for len code units and the NUL napi appends.
    let status = unsafe {
        sys::napi_get_value_string_utf16(env, v, units.as_mut_ptr(), len + 1, &mut written)
    };
    if status != sys::Status::napi_ok {
        return None;
    }
    // SAFETY: napi initialised `written` (≤ len) code units.
    unsafe { units.set_len(written.min(len)) };
    Some(units)
}

fn clear_exception(env: sys::napi_env) {
    let mut pending = false;
    // SAFETY: env is the live env of the current call; out-pointers are locals.
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            let mut e = ptr::null_mut();
            sys::napi_get_and_clear_last_exception(env, &mut e);
        }
    }
}

/// Integers beyond what a JS number holds exactly become floats again, as they were in
/// JavaScript (the converter's depth bound bounds the recursion).
fn unsafe_integers_as_floats(v: &mut Value) {
    match v {
        Value::Number(n)
            if !n.is_f64() && !matches!(n.as_i64(), Some(i) if i.unsigned_abs() <= MAX_SAFE) =>
        {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unsafe_integers_as_floats),
        Value::Object(members) => members.values_mut().for_each(unsafe_integers_as_floats),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_beyond_the_safe_range_are_floats_again() {
        let mut v: Value = serde_json::from_str(
            r#"[9007199254740991, 9007199254740992, -9007199254740992, 18446744073709551615, {"a": [1, 2.5]}]"#,
        )
        .unwrap();
        v.as_array_mut()
            .unwrap()
            .iter_mut()
            .for_each(unsafe_integers_as_floats);
        let a = v.as_array().unwrap();
        assert_eq!(a[0].as_i64(), Some(9_007_199_254_740_991));
        assert!(a[1].is_f64() && a[2].is_f64() && a[3].is_f64());
        assert_eq!(a[4]["a"][0].as_i64(), Some(1));
    }

    #[test]
    fn camel_case_names() {
        assert_eq!(camel("message_u_id"), "messageUId");
        assert_eq!(camel("options"), "options");
    }
}
