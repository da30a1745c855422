//! `downloadMediaMessage(messageId, options?)`: fetches a media message's file into the
//! user's media folder (`<dbpath>/media/<userId>/`), resumable (a `.part` file and an HTTP
//! Range request), with `MEDIA_PROGRESS` events, and records the file's path on the message
//! (`localPath`, `receivedStatusInfo.isDownload`) so it opens offline afterwards.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};

use super::content::Kind;
use super::transfer;
use super::upload::{new_transfer_id, progress_events};
use crate::args;
use crate::codes::DOWNLOAD_FAIL;
use crate::engine::{message_id, no_such_message, Engine};
use crate::error::{ImError, ImResult};
use crate::model::received_status;

/// The most bytes of a saved file's name taken from the message: file systems allow 255
/// (bytes on Linux and APFS, UTF-16 units on Windows), and the `<messageId>-` prefix and
/// the `.part` suffix need room too.
const MAX_NAME_BYTES: usize = 200;

/// The longest start of `s` that is at most `max` bytes, cut on a character boundary.
fn head_within(s: &str, max: usize) -> &str {
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() > max {
            break;
        }
        end = i + c.len_utf8();
    }
    &s[..end]
}

/// `name` within [`MAX_NAME_BYTES`], keeping its extension when it has a short one.
fn bounded(name: &str) -> String {
    if name.len() <= MAX_NAME_BYTES {
        return name.to_owned();
    }
    if let Some((stem, ext)) = name.rsplit_once('.') {
        if !stem.is_empty() && !ext.is_empty() && ext.len() <= 16 {
            let stem = head_within(stem, MAX_NAME_BYTES - ext.len() - 1);
            return format!("{stem}.{ext}");
        }
    }
    head_within(name, MAX_NAME_BYTES).to_owned()
}

/// A file name that is safe on every platform: path separators, control and reserved
/// characters become '_', and the length is bounded in bytes (a name of 120 Chinese
/// characters is 360 bytes: too long for any file system).
fn safe_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    let mut out = bounded(trimmed);
    if out.is_empty() {
        out = "file".into();
    }
    out
}

/// The name to save under: the content's `name`, else the URL's last path segment.
fn file_name(content: &Value, url: &str) -> String {
    if let Some(n) = content
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        return safe_file_name(n);
    }
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let decoded = percent_decode(last);
    safe_file_name(&decoded)
}

/// Decodes %XX escapes (invalid ones are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Engine {
    /// The folder media files of the open user are kept in.
    pub(crate) fn media_dir(&self) -> ImResult<PathBuf> {
        let user = self.db()?.user_id.clone();
        Ok(Path::new(&self.options().dbpath).join("media").join(user))
    }

    /// `downloadMediaMessage(messageId, { transferId? })`: resolves `{ localPath, message }`.
    /// A message whose file is already on this device (its sender's copy, or an earlier
    /// download still in place) answers at once.
    pub async fn download_media_message(
        &self,
        message_id: Value,
        options: Value,
    ) -> ImResult<Value> {
        let id = self::message_id(Some(&message_id), "messageId")?;
        let opts = args::optional_object(Some(&options), "options")?
            .cloned()
            .unwrap_or_default();
        let transfer_id = args::string(opts.get("transferId"), "options.transferId")?
            .map(str::to_owned)
            .unwrap_or_else(new_transfer_id);
        let db = self.db()?;
        let row = db
            .store
            .read(move |c| {
                Ok(c.prepare_cached(
                    "SELECT object_name, content, json_extract(extra, '$.localPath') FROM messages WHERE id = ?1",
                )?
                .query_row([id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .optional()?)
            })
            .await?;
        let Some((object_name, content, local)) = row else {
            return Err(no_such_message("messageId", id));
        };
        let kind = Kind::from_object_name(&object_name).ok_or_else(|| {
            ImError::invalid(format!(
                "messageId {id} is a {object_name} message, not a media message (image, GIF, file, HQ voice or sight)"
            ))
        })?;
        let content: Value = serde_json::from_str(&content).unwrap_or(Value::Null);
        if let Some(p) = local.filter(|p| Path::new(p).is_file()) {
            return Ok(json!({ "localPath": p, "message": self.stored_message(id).await? }));
        }
        let url = content
            .get(kind.url_field())
            .and_then(Value::as_str)
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .ok_or_else(|| {
                ImError::invalid(format!(
                    "messageId {id} has no file URL to download ({} is not an http(s) URL)",
                    kind.url_field()
                ))
            })?
            .to_owned();
        let origin = crate::options::origin_of(&url).unwrap_or_default();
        if !self.options().media_origins.contains(&origin) {
            return Err(ImError::invalid(format!(
                "messageId {id}'s file URL is on {origin}, which is not one of options.mediaOrigins ({}); files are downloaded only from the IM server's origins",
                self.options().media_origins.join(", ")
            )));
        }
        let dir = self.media_dir()?;
        let dest = dir.join(format!("{id}-{}", file_name(&content, &url)));
        let Some(registration) = self.media.register(&transfer_id, id) else {
            return Err(ImError::invalid(format!(
                "message {id} (or transfer {transfer_id}) is already transferring"
            )));
        };
        tokio::fs::create_dir_all(&dir).await.map_err(|e| {
            ImError::new(
                DOWNLOAD_FAIL,
                format!("cannot create the media folder {}: {e}", dir.display()),
            )
        })?;
        let progress = progress_events(self, &transfer_id, id, "download");
        transfer::download(&url, &dest, progress, &registration.cancel)
            .await
            .map_err(|e| {
                ImError::new(
                    DOWNLOAD_FAIL,
                    format!("download of message {id} failed: {e}"),
                )
            })?;
        drop(registration);
        let path = dest.to_string_lossy().into_owned();
        let recorded = path.clone();
        db.store
            .write(move |tx| {
                tx.execute(
                    "UPDATE messages SET extra = json_set(coalesce(extra, '{}'), '$.localPath', ?2), \
                     received_status = received_status | ?3 WHERE id = ?1",
                    params![id, recorded, received_status::DOWNLOADED],
                )?;
                Ok(())
            })
            .await?;
        Ok(json!({ "localPath": path, "message": self.stored_message(id).await? }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_names_are_safe_and_come_from_the_content_or_the_url() {
        assert_eq!(
            file_name(&json!({ "name": "a/b:c.txt" }), "http://x/y"),
            "a_b_c.txt"
        );
        assert_eq!(
            file_name(
                &json!({}),
                "http://h/media/file/ab12/%E5%9B%BE%20one.png?expires=1"
            ),
            "图 one.png"
        );
        assert_eq!(file_name(&json!({ "name": ".." }), "http://h/"), "file");
        // Bounded in bytes, not characters, keeping the extension: 150 Chinese characters
        // are 450 bytes.
        let long = format!("{}.pdf", "报".repeat(150));
        let saved = file_name(&json!({ "name": long }), "http://h/");
        assert!(saved.len() <= MAX_NAME_BYTES, "{} bytes", saved.len());
        assert_eq!(saved, format!("{}.pdf", "报".repeat(65)));
        let saved = file_name(&json!({ "name": "x".repeat(300) }), "http://h/");
        assert_eq!(saved, "x".repeat(MAX_NAME_BYTES));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%图"), "%图");
    }
}
