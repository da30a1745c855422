//! The MIME type of a media file from its name, shared by the client (what it declares when
//! it uploads) and the server (what it serves when the client declared nothing), so both
//! sides agree. Types a browser would render as a page or run (HTML, SVG, XML) are left
//! out: those files are served as `application/octet-stream`, a download.

/// The type of the file named `name` (a bare name or a path, either separator), from its
/// extension; `application/octet-stream` for anything not listed.
pub fn from_name(name: &str) -> &'static str {
    const UNKNOWN: &str = "application/octet-stream";
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return UNKNOWN;
    };
    if stem.is_empty() {
        // ".bashrc" is a name, not an extension.
        return UNKNOWN;
    }
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" | "jpe" | "jfif" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "tif" | "tiff" => "image/tiff",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "3gp" => "video/3gpp",
        "aac" => "audio/aac",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "flac" => "audio/flac",
        "amr" => "audio/amr",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "rar" => "application/vnd.rar",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "apk" => "application/vnd.android.package-archive",
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::from_name;

    #[test]
    fn types_come_from_the_extension_and_pages_are_downloads() {
        for (name, mime) in [
            ("IMG_0001.JPG", "image/jpeg"),
            ("voice.amr", "audio/amr"),
            ("clip.mov", "video/quicktime"),
            ("C:\\Users\\me\\report.PDF", "application/pdf"),
            ("archive.tar.gz", "application/gzip"),
            ("page.html", "application/octet-stream"),
            ("logo.svg", "application/octet-stream"),
            ("Makefile", "application/octet-stream"),
            (".bashrc", "application/octet-stream"),
            ("dir.png/file", "application/octet-stream"),
            ("", "application/octet-stream"),
        ] {
            assert_eq!(from_name(name), mime, "{name}");
        }
    }
}
