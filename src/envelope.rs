//! JS ⇄ core conversion: arguments to JSON values, results to `{ code, msg?, data? }`.

use napi::bindgen_prelude::*;
use serde_json::{json, Value};

use imsync_core::{codes, ImError, ImResult};

/// Converts one argument; `undefined` becomes `null` (absent), values JSON cannot hold
/// (functions, symbols, BigInt) are a 33003 naming the argument.
pub fn to_json(env: &Env, v: Unknown<'_>, name: &str) -> std::result::Result<Value, ImError> {
    match v.get_type() {
        Ok(ValueType::Undefined) | Ok(ValueType::Null) => Ok(Value::Null),
        Ok(_) => env
            .from_js_value::<Value, _>(v)
            .map_err(|e| ImError::invalid(format!("{name} cannot be read: {}", e.reason))),
        Err(e) => Err(ImError::invalid(format!(
            "{name} cannot be read: {}",
            e.reason
        ))),
    }
}

pub fn args_or_invalid(
    env: &Env,
    args: &[(&str, Unknown<'_>)],
) -> std::result::Result<Vec<Value>, ImError> {
    args.iter()
        .map(|(name, v)| to_json(env, *v, &camel(name)))
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

pub fn envelope(result: ImResult<Value>) -> Value {
    match result {
        Ok(Value::Null) => json!({ "code": codes::SUCCESS }),
        Ok(data) => json!({ "code": codes::SUCCESS, "data": data }),
        Err(e) => json!({ "code": e.code, "msg": e.msg }),
    }
}

/// Runs a core call on the tokio runtime and resolves its envelope. The call runs in its
/// own task so a panic becomes a 35005 result instead of a promise that never settles.
pub fn run<'e, F>(env: &'e Env, call: F) -> Result<PromiseRaw<'e, Value>>
where
    F: std::future::Future<Output = ImResult<Value>> + Send + 'static,
{
    env.spawn_future(async move {
        let result = match tokio::spawn(call).await {
            Ok(r) => r,
            Err(e) => Err(ImError::internal(format!("internal error: {e}"))),
        };
        Ok(envelope(result))
    })
}
