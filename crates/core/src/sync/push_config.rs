//! `IPushConfig` between the API and the wire (seed 002 L3738-3746: pushTitle,
//! pushContent, pushData, iOSConfig, androidConfig, disablePushTitle,
//! forceShowDetailContent, templateId). The vendor-specific iOS and Android objects grow
//! with every SDK release (5.7.3 Huawei/Xiaomi fields, 5.7.7 vivo, …), so they travel as
//! JSON text and come back exactly as given, whatever keys they hold.

use imsync_protocol as pb;
use serde_json::{json, Map, Value};

use crate::error::{ImError, ImResult};

fn text(p: &Map<String, Value>, key: &str, at: &str) -> ImResult<String> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ImError::invalid(format!("{at}.{key} must be a string"))),
    }
}

fn flag(p: &Map<String, Value>, key: &str, at: &str) -> ImResult<bool> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ImError::invalid(format!("{at}.{key} must be a boolean"))),
    }
}

fn object(p: &Map<String, Value>, key: &str, at: &str) -> ImResult<String> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(v @ Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(ImError::invalid(format!("{at}.{key} must be an object"))),
    }
}

/// The wire form of the `pushConfig` object found at `at` (its name in error messages).
pub fn to_wire(p: &Map<String, Value>, at: &str) -> ImResult<pb::PushConfig> {
    let config = pb::PushConfig {
        push_title: text(p, "pushTitle", at)?,
        push_content: text(p, "pushContent", at)?,
        push_data: text(p, "pushData", at)?,
        disable_push_title: flag(p, "disablePushTitle", at)?,
        force_show_detail_content: flag(p, "forceShowDetailContent", at)?,
        template_id: text(p, "templateId", at)?,
        ios_config_json: object(p, "iOSConfig", at)?,
        android_config_json: object(p, "androidConfig", at)?,
    };
    // The server refuses more with 30016; saying so here names the argument.
    let size = pb::prost::Message::encoded_len(&config);
    if size > pb::MAX_CONTENT_BYTES {
        return Err(ImError::new(
            pb::codes::RC_MSG_CONTENT_EXCEED_LIMIT,
            format!(
                "{at} is {size} bytes; the limit is {} bytes",
                pb::MAX_CONTENT_BYTES
            ),
        ));
    }
    Ok(config)
}

/// The API form of a received push configuration.
pub fn to_json(p: &pb::PushConfig) -> Value {
    let mut v = json!({
        "pushTitle": p.push_title,
        "pushContent": p.push_content,
        "pushData": p.push_data,
        "disablePushTitle": p.disable_push_title,
        "forceShowDetailContent": p.force_show_detail_content,
        "templateId": p.template_id,
    });
    for (key, text) in [
        ("iOSConfig", &p.ios_config_json),
        ("androidConfig", &p.android_config_json),
    ] {
        if let Ok(obj @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
            v[key] = obj;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips() {
        let given = json!({
            "pushTitle": "t", "pushContent": "c", "pushData": "d",
            "disablePushTitle": true, "forceShowDetailContent": true, "templateId": "tpl",
            "iOSConfig": { "threadId": "th", "apnsCollapseId": "ap", "category": "cat",
                           "richMediaUri": "https://x/y.png", "interruptionLevel": "active" },
            "androidConfig": { "notificationId": "n1", "channelIdMi": "mi", "channelIdHW": "hw",
                               "channelIdOPPO": "op", "typeVivo": "1", "categoryHW": "IM",
                               "googleConfig": { "collapseKey": "k", "imageUrl": "u" } },
        });
        let wire = to_wire(given.as_object().unwrap(), "options.pushConfig").unwrap();
        assert_eq!(to_json(&wire), given);
    }

    #[test]
    fn wrong_types_name_the_field() {
        for (bad, field) in [
            (json!({ "pushTitle": 1 }), "options.pushConfig.pushTitle"),
            (
                json!({ "disablePushTitle": "yes" }),
                "options.pushConfig.disablePushTitle",
            ),
            (json!({ "iOSConfig": "x" }), "options.pushConfig.iOSConfig"),
        ] {
            let e = to_wire(bad.as_object().unwrap(), "options.pushConfig").unwrap_err();
            assert_eq!(e.code, 33003);
            assert!(e.msg.contains(field), "{}", e.msg);
        }
        let huge = json!({ "pushData": "x".repeat(pb::MAX_CONTENT_BYTES) });
        assert_eq!(
            to_wire(huge.as_object().unwrap(), "options.pushConfig")
                .unwrap_err()
                .code,
            30016
        );
    }
}
