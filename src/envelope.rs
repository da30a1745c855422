//! JS ⇄ core conversion: arguments to JSON values, results to `{ code, msg?, data? }`.

use napi::bindgen_prelude::*;
use serde_json::Value;

use imsync_core::{codes, ImError, ImResult};

/// Deeper arguments are refused: it bounds the work and the stack, and turns a cyclic
/// object into a clear error instead of a crash.
pub const MAX_DEPTH: usize = 32;

/// Converts one argument to JSON. `undefined` becomes `null` (absent); values JSON cannot
/// hold (functions, symbols, BigInt, NaN, Infinity, cycles) are a 33003 naming the exact
/// place, e.g. `messages[3].content.size`.
pub fn to_json(v: Unknown<'_>, name: &str) -> std::result::Result<Value, ImError> {
    let mut path = name.to_string();
    convert(v, &mut path, 0)
}

fn unreadable(path: &str, e: Error) -> ImError {
    ImError::invalid(format!("{path} cannot be read: {}", e.reason))
}

fn convert(v: Unknown<'_>, path: &mut String, depth: usize) -> std::result::Result<Value, ImError> {
    let t = v.get_type().map_err(|e| unreadable(path, e))?;
    // SAFETY: every cast below matches the type napi just reported.
    unsafe {
        match t {
            ValueType::Undefined | ValueType::Null => Ok(Value::Null),
            ValueType::Boolean => v
                .cast::<bool>()
                .map(Value::Bool)
                .map_err(|e| unreadable(path, e)),
            ValueType::String => v
                .cast::<String>()
                .map(Value::String)
                .map_err(|e| unreadable(path, e)),
            ValueType::Number => {
                let f = v.cast::<f64>().map_err(|e| unreadable(path, e))?;
                if !f.is_finite() {
                    return Err(ImError::invalid(format!(
                        "{path} must be a finite number, got {f}"
                    )));
                }
                if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                    Ok(Value::from(f as i64))
                } else {
                    Ok(serde_json::Number::from_f64(f)
                        .map(Value::Number)
                        .unwrap_or(Value::Null))
                }
            }
            ValueType::Object => {
                if depth >= MAX_DEPTH {
                    return Err(ImError::invalid(format!(
                        "{path} is nested more than {MAX_DEPTH} levels deep (or refers to itself)"
                    )));
                }
                let obj = v.cast::<Object>().map_err(|e| unreadable(path, e))?;
                let base = path.len();
                if obj.is_array().map_err(|e| unreadable(path, e))? {
                    let len = obj.get_array_length().map_err(|e| unreadable(path, e))?;
                    let mut out = Vec::with_capacity(len as usize);
                    for i in 0..len {
                        let item: Unknown = obj.get_element(i).map_err(|e| unreadable(path, e))?;
                        path.push_str(&format!("[{i}]"));
                        out.push(convert(item, path, depth + 1)?);
                        path.truncate(base);
                    }
                    return Ok(Value::Array(out));
                }
                let names = obj.get_property_names().map_err(|e| unreadable(path, e))?;
                let len = names.get_array_length().map_err(|e| unreadable(path, e))?;
                let mut out = serde_json::Map::new();
                for i in 0..len {
                    let key: String = names.get_element(i).map_err(|e| unreadable(path, e))?;
                    let item: Unknown = obj
                        .get_named_property(&key)
                        .map_err(|e| unreadable(path, e))?;
                    path.push('.');
                    path.push_str(&key);
                    let value = convert(item, path, depth + 1)?;
                    path.truncate(base);
                    // JSON.stringify drops undefined members; so does this.
                    if !value.is_null() || item.get_type().ok() == Some(ValueType::Null) {
                        out.insert(key, value);
                    }
                }
                Ok(Value::Object(out))
            }
            ValueType::BigInt => Err(ImError::invalid(format!(
                "{path} must be a number, got a BigInt"
            ))),
            other => Err(ImError::invalid(format!("{path} cannot be a {other:?}"))),
        }
    }
}

pub fn args_or_invalid(args: &[(&str, Unknown<'_>)]) -> std::result::Result<Vec<Value>, ImError> {
    args.iter()
        .map(|(name, v)| to_json(*v, &camel(name)))
        .collect()
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

/// The result envelope. Built by moving `data` in: `json!` would serialize it once more.
pub fn envelope(result: ImResult<Value>) -> Value {
    let mut out = serde_json::Map::with_capacity(3);
    match result {
        Ok(data) => {
            out.insert("code".into(), Value::from(codes::SUCCESS));
            if !data.is_null() {
                out.insert("data".into(), data);
            }
        }
        Err(e) => {
            out.insert("code".into(), Value::from(e.code));
            out.insert("msg".into(), Value::String(e.msg));
            if let Some(data) = e.data {
                out.insert("data".into(), data);
            }
        }
    }
    Value::Object(out)
}

/// A JSON document that reaches JavaScript through one `JSON.parse` call. Results and
/// event payloads are serialized off the JS thread and parsed on it: V8's parser builds a
/// 500-message page in a fraction of the time that setting each property through napi
/// takes, and the JS thread is what an Electron app can least spare.
pub struct JsonText(pub String);

impl JsonText {
    pub fn of(v: &Value) -> Self {
        // Serializing a `Value` cannot fail: its map keys are strings.
        Self(serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
    }
}

impl ToNapiValue for JsonText {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let mut global = std::ptr::null_mut();
        check_status!(unsafe { sys::napi_get_global(env, &mut global) })?;
        let mut json = std::ptr::null_mut();
        check_status!(unsafe {
            sys::napi_get_named_property(env, global, c"JSON".as_ptr(), &mut json)
        })?;
        let mut parse = std::ptr::null_mut();
        check_status!(unsafe {
            sys::napi_get_named_property(env, json, c"parse".as_ptr(), &mut parse)
        })?;
        let text = unsafe { String::to_napi_value(env, val.0) }?;
        let mut out = std::ptr::null_mut();
        check_status!(unsafe { sys::napi_call_function(env, json, parse, 1, &text, &mut out) })?;
        Ok(out)
    }
}

impl TypeName for JsonText {
    fn type_name() -> &'static str {
        "unknown"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

/// Runs a core call on the tokio runtime and resolves its envelope. The call runs in its
/// own task so a panic becomes a 35005 result instead of a promise that never settles.
pub fn run<'e, F>(env: &'e Env, call: F) -> Result<PromiseRaw<'e, JsonText>>
where
    F: std::future::Future<Output = ImResult<Value>> + Send + 'static,
{
    env.spawn_future(async move {
        let result = match tokio::spawn(call).await {
            Ok(r) => r,
            Err(e) => Err(ImError::internal(format!("internal error: {e}"))),
        };
        Ok(JsonText::of(&envelope(result)))
    })
}

/// [`run`] for a call that answers JSON text already: the envelope is put around it
/// without parsing it.
pub fn run_text<'e, F>(env: &'e Env, call: F) -> Result<PromiseRaw<'e, JsonText>>
where
    F: std::future::Future<Output = ImResult<imsync_core::json_text::RawJson>> + Send + 'static,
{
    env.spawn_future(async move {
        let result = match tokio::spawn(call).await {
            Ok(r) => r,
            Err(e) => Err(ImError::internal(format!("internal error: {e}"))),
        };
        Ok(match result {
            Ok(data) => JsonText(format!(
                r#"{{"code":{},"data":{}}}"#,
                codes::SUCCESS,
                data.0
            )),
            Err(e) => JsonText::of(&envelope(Err(e))),
        })
    })
}
