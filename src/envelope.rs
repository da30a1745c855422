//! Core results to `{ code, msg?, data? }` and their hop to JavaScript as JSON text.

use napi::bindgen_prelude::*;
use serde_json::Value;

use imsync_core::{codes, ImError, ImResult};

/// What a successful call's `null` result means.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NullData {
    /// The call has no result: the envelope carries no `data`.
    Omitted,
    /// The call looks something up and found nothing: `data: null`, as the seed documents
    /// for getConversation and getFirstUnreadMessageInfo.
    Kept,
}

/// The result envelope. Built by moving `data` in: `json!` would serialize it once more.
pub fn envelope(result: ImResult<Value>, null_data: NullData) -> Value {
    let mut out = serde_json::Map::with_capacity(3);
    match result {
        Ok(data) => {
            out.insert("code".into(), Value::from(codes::SUCCESS));
            if !data.is_null() || null_data == NullData::Kept {
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
pub fn run<'e, F>(env: &'e Env, null_data: NullData, call: F) -> Result<PromiseRaw<'e, JsonText>>
where
    F: std::future::Future<Output = ImResult<Value>> + Send + 'static,
{
    env.spawn_future(async move {
        let result = match tokio::spawn(call).await {
            Ok(r) => r,
            Err(e) => Err(ImError::internal(format!("internal error: {e}"))),
        };
        Ok(JsonText::of(&envelope(result, null_data)))
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
            Err(e) => JsonText::of(&envelope(Err(e), NullData::Omitted)),
        })
    })
}
