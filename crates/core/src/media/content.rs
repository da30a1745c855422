//! The vendor's media message contents (seed 002 L3765-3868) built from a local file: what
//! is known before the upload (thumbnail, dimensions, size, name) is in the message stored
//! while it uploads; the field holding the remote URL is filled once the upload is done.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::thumbnail;
use crate::args;
use crate::error::{ImError, ImResult};

/// The media message types, by the vendor's object names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Gif,
    File,
    HqVoice,
    Sight,
}

impl Kind {
    pub fn from_object_name(name: &str) -> Option<Kind> {
        Some(match name {
            "RC:ImgMsg" => Kind::Image,
            "RC:GIFMsg" => Kind::Gif,
            "RC:FileMsg" => Kind::File,
            "RC:HQVCMsg" => Kind::HqVoice,
            "RC:SightMsg" => Kind::Sight,
            _ => return None,
        })
    }

    /// The content field that carries the uploaded file's URL.
    pub fn url_field(self) -> &'static str {
        match self {
            Kind::Image => "imageUri",
            Kind::Gif | Kind::HqVoice => "remoteUrl",
            Kind::File => "fileUrl",
            Kind::Sight => "sightUrl",
        }
    }

    fn default_disposition(self) -> &'static str {
        match self {
            Kind::File => "attachment",
            _ => "inline",
        }
    }
}

/// A media argument, checked.
#[derive(Debug, Clone)]
pub struct Media {
    pub kind: Kind,
    pub object_name: String,
    /// The file to upload; `None` on a resend that reuses the message's `localPath`.
    pub path: Option<PathBuf>,
    pub name: Option<String>,
    pub mime: Option<String>,
    pub disposition: Option<String>,
    /// Content fields given by the caller (user, extra, duration, a sight's cover…).
    pub content: Map<String, Value>,
    pub transfer_id: Option<String>,
}

/// The most seconds an HQ voice message may last (seed 002 L3803-3819).
pub const MAX_VOICE_SECONDS: f64 = 60.0;

/// Parses `media` (`{ messageType, path, name?, mimeType?, contentDisposition?, content?,
/// transferId? }`); `path` may be absent only when `resend`.
pub fn parse(media: &Value, resend: bool) -> ImResult<Media> {
    let m = args::object(Some(media), "media")?;
    let object_name = args::id(m.get("messageType"), "media.messageType")?;
    let kind = Kind::from_object_name(&object_name).ok_or_else(|| {
        ImError::invalid(format!(
            "media.messageType must be RC:ImgMsg, RC:GIFMsg, RC:FileMsg, RC:HQVCMsg or RC:SightMsg, got '{object_name}'"
        ))
    })?;
    let path = match args::string(m.get("path"), "media.path")? {
        Some("") | None if resend => None,
        Some("") | None => {
            return Err(ImError::invalid(
                "media.path is required: the file to send (an absolute path)",
            ))
        }
        Some(p) if !Path::new(p).is_absolute() => {
            return Err(ImError::invalid(format!(
                "media.path must be an absolute path, got '{p}'"
            )))
        }
        Some(p) => Some(PathBuf::from(p)),
    };
    let name = args::string(m.get("name"), "media.name")?
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if let Some(n) = &name {
        if n.len() > 255 || n.contains(['/', '\\', '\0']) {
            return Err(ImError::invalid(format!(
                "media.name must be a file name (at most 255 bytes, no '/', '\\\\' or NUL), got '{n}'"
            )));
        }
    }
    let mime = args::string(m.get("mimeType"), "media.mimeType")?
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    if let Some(t) = &mime {
        let ok = t.len() <= 127
            && t.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && t.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"/.+-_".contains(&c))
            });
        if !ok {
            return Err(ImError::invalid(format!(
                "media.mimeType must be a MIME type like image/png, got '{t}'"
            )));
        }
    }
    let disposition = match args::string(m.get("contentDisposition"), "media.contentDisposition")? {
        None => None,
        Some(d @ ("inline" | "attachment")) => Some(d.to_owned()),
        Some(d) => {
            return Err(ImError::invalid(format!(
                "media.contentDisposition must be 'inline' or 'attachment', got '{d}'"
            )))
        }
    };
    let content = args::optional_object(m.get("content"), "media.content")?
        .cloned()
        .unwrap_or_default();
    let duration = content.get("duration");
    match kind {
        Kind::HqVoice | Kind::Sight => {
            let d = duration.and_then(Value::as_f64).filter(|d| *d > 0.0);
            let Some(d) = d else {
                return Err(ImError::invalid(format!(
                    "media.content.duration is required for {object_name}: the length in seconds (a number above 0), got {}",
                    duration.map_or("nothing".to_string(), Value::to_string)
                )));
            };
            if kind == Kind::HqVoice && d > MAX_VOICE_SECONDS {
                return Err(ImError::invalid(format!(
                    "media.content.duration is {d} s; an HQ voice message lasts at most 60 s"
                )));
            }
        }
        _ => {}
    }
    let transfer_id = args::string(m.get("transferId"), "media.transferId")?.map(str::to_owned);
    if let Some(t) = &transfer_id {
        let ok = !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !ok {
            return Err(ImError::invalid(format!(
                "media.transferId must be 1-64 letters, digits, '-' or '_', got '{t}'"
            )));
        }
    }
    Ok(Media {
        kind,
        object_name,
        path,
        name,
        mime,
        disposition,
        content,
        transfer_id,
    })
}

/// The size of the file at `path`, or 33003 naming what is wrong with it (nothing is stored
/// for a file that cannot be sent).
pub fn check_file(path: &Path) -> ImResult<u64> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| ImError::invalid(format!("media.path '{shown}' cannot be read: {e}")))?;
    if meta.is_dir() {
        return Err(ImError::invalid(format!(
            "media.path '{shown}' is a directory, not a file"
        )));
    }
    if !meta.is_file() {
        return Err(ImError::invalid(format!(
            "media.path '{shown}' is not a regular file"
        )));
    }
    if meta.len() == 0 {
        return Err(ImError::invalid(format!(
            "media.path '{shown}' is empty: there is nothing to send"
        )));
    }
    std::fs::File::open(path)
        .map_err(|e| ImError::invalid(format!("media.path '{shown}' cannot be opened: {e}")))?;
    Ok(meta.len())
}

/// What the upload needs besides the file: the name and type the server keeps.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub content: Map<String, Value>,
    pub name: String,
    pub mime: String,
    pub disposition: String,
}

/// The content stored while uploading (the URL field empty). CPU work for images (decode
/// and thumbnail): run it off the async threads.
pub fn prepare(media: &Media, path: &Path, size: u64) -> ImResult<Prepared> {
    let name = media.name.clone().unwrap_or_else(|| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into())
    });
    let mime = media
        .mime
        .clone()
        .unwrap_or_else(|| imsync_protocol::media_types::from_name(&name).to_owned());
    let extension = Path::new(&name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut content = media.content.clone();
    let not_image = |e: String| {
        ImError::invalid(format!(
            "media.path '{}' is not an image this engine can read: {e}",
            path.display()
        ))
    };
    match media.kind {
        Kind::Image => {
            let facts = thumbnail::image_facts(path).map_err(not_image)?;
            // The caller's own thumbnail wins (the seed lets apps build it).
            content
                .entry("content")
                .or_insert_with(|| json!(facts.thumbnail));
        }
        Kind::Gif => {
            let (width, height) = thumbnail::image_size(path).map_err(not_image)?;
            content.insert("width".into(), json!(width));
            content.insert("height".into(), json!(height));
            content.insert("gifDataSize".into(), json!(size));
        }
        Kind::File => {
            content.insert("name".into(), json!(name));
            content.insert("size".into(), json!(size));
            content.insert("type".into(), json!(extension));
        }
        Kind::HqVoice => {
            if !content.contains_key("type") && !extension.is_empty() {
                content.insert("type".into(), json!(extension));
            }
        }
        Kind::Sight => {
            content.insert("name".into(), json!(name));
            content.insert("size".into(), json!(size));
            content.entry("content").or_insert_with(|| json!(""));
        }
    }
    content.insert(media.kind.url_field().into(), json!(""));
    let disposition = media
        .disposition
        .clone()
        .unwrap_or_else(|| media.kind.default_disposition().to_owned());
    Ok(Prepared {
        content,
        name,
        mime,
        disposition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_arguments_are_checked_with_their_names() {
        let bad = [
            (
                json!({ "messageType": "RC:TxtMsg", "path": "/a" }),
                "media.messageType",
            ),
            (
                json!({ "messageType": "RC:FileMsg" }),
                "media.path is required",
            ),
            (
                json!({ "messageType": "RC:FileMsg", "path": "rel/a" }),
                "absolute",
            ),
            (
                json!({ "messageType": "RC:FileMsg", "path": "/a", "name": "a/b" }),
                "media.name",
            ),
            (
                json!({ "messageType": "RC:FileMsg", "path": "/a", "mimeType": "png" }),
                "media.mimeType",
            ),
            (
                json!({ "messageType": "RC:FileMsg", "path": "/a", "contentDisposition": "x" }),
                "media.contentDisposition",
            ),
            (
                json!({ "messageType": "RC:HQVCMsg", "path": "/a" }),
                "media.content.duration",
            ),
            (
                json!({ "messageType": "RC:HQVCMsg", "path": "/a", "content": { "duration": 61 } }),
                "60 s",
            ),
            (
                json!({ "messageType": "RC:SightMsg", "path": "/a", "content": { "duration": 0 } }),
                "media.content.duration",
            ),
            (
                json!({ "messageType": "RC:FileMsg", "path": "/a", "transferId": "a b" }),
                "media.transferId",
            ),
        ];
        for (media, says) in bad {
            let e = parse(&media, false).unwrap_err();
            assert_eq!(e.code, 33003, "{media}");
            assert!(e.msg.contains(says), "{media}: {}", e.msg);
        }
        let ok = parse(&json!({ "messageType": "RC:FileMsg" }), true).unwrap();
        assert!(ok.path.is_none());
    }

    #[test]
    fn files_that_cannot_be_sent_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, b"").unwrap();
        for (path, says) in [
            (dir.path().join("missing"), "cannot be read"),
            (dir.path().to_path_buf(), "is a directory"),
            (empty, "is empty"),
        ] {
            let e = check_file(&path).unwrap_err();
            assert_eq!(e.code, 33003);
            assert!(e.msg.contains(says), "{}", e.msg);
        }
    }

    #[test]
    fn a_file_message_carries_name_size_and_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Report.PDF");
        std::fs::write(&path, b"%PDF-1.4").unwrap();
        let media = parse(
            &json!({ "messageType": "RC:FileMsg", "path": path.to_str().unwrap(), "content": { "extra": "x" } }),
            false,
        )
        .unwrap();
        let p = prepare(&media, &path, 8).unwrap();
        assert_eq!(
            Value::Object(p.content),
            json!({ "name": "Report.PDF", "size": 8, "type": "pdf", "fileUrl": "", "extra": "x" })
        );
        assert_eq!(
            (p.mime.as_str(), p.disposition.as_str()),
            ("application/pdf", "attachment")
        );
    }
}
