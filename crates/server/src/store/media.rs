//! Media metadata (migration 8): uploads in progress and finished files. The bytes are in
//! the file store ([`crate::media::store`]); how many an upload holds so far is asked of
//! it, not kept here, so the two can never disagree about an offset. Written against
//! [`Db`], so the same code runs on SQLite and PostgreSQL.

use super::sql::{Db, Row};
use crate::args;
use crate::error::ApiError;

/// What a file is served as; shared by an upload and the file it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// The file name (UTF-8, no path separators).
    pub name: String,
    /// The MIME type served as Content-Type.
    pub mime: String,
    /// `inline` or `attachment`.
    pub disposition: String,
}

/// An upload, in progress or complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// 32 lowercase hex digits.
    pub id: String,
    /// The user whose token created it; nobody else may see or extend it.
    pub owner: String,
    /// Name, type and disposition of the file to be.
    pub described: Described,
    /// The length declared at creation, bytes.
    pub length: u64,
    /// Unix ms.
    pub created_at: i64,
    /// The finished file, once complete.
    pub file_id: Option<String>,
}

/// A finished file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// 32 lowercase hex digits (not the upload id: an upload id is a
    /// credential of its owner, a file id is shared with everyone sent the URL).
    pub id: String,
    /// The user who uploaded it.
    pub owner: String,
    /// Name, type and disposition.
    pub described: Described,
    /// Bytes.
    pub size: u64,
    /// Unix ms.
    pub created_at: i64,
}

/// Lengths are at most `--max-file-size`, which fits an i64 (config checks it);
/// a stored value that does not fit is a corrupt row.
fn to_u64(n: i64) -> Result<u64, ApiError> {
    u64::try_from(n).map_err(|_| ApiError::internal(format!("stored length {n} is negative")))
}

fn to_i64(n: u64) -> Result<i64, ApiError> {
    i64::try_from(n).map_err(|_| ApiError::internal(format!("length {n} does not fit the store")))
}

/// Records a new upload.
pub fn insert_upload(db: &dyn Db, u: &Upload) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO media_uploads
             (upload_id, owner, name, mime, disposition, length, created_at, file_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        args![
            u.id,
            u.owner,
            u.described.name,
            u.described.mime,
            u.described.disposition,
            to_i64(u.length)?,
            u.created_at,
            u.file_id,
        ],
    )?;
    Ok(())
}

/// Name, type and disposition from columns 2, 3 and 4 (both tables keep them there).
fn described(r: &Row<'_>) -> Result<Described, ApiError> {
    Ok(Described {
        name: r.get(2)?,
        mime: r.get(3)?,
        disposition: r.get(4)?,
    })
}

fn upload_from_row(r: &Row<'_>) -> Result<Upload, ApiError> {
    Ok(Upload {
        id: r.get(0)?,
        owner: r.get(1)?,
        described: described(r)?,
        length: to_u64(r.get(5)?)?,
        created_at: r.get(6)?,
        file_id: r.get(7)?,
    })
}

/// The upload `id`, if it exists.
pub fn upload(db: &dyn Db, id: &str) -> Result<Option<Upload>, ApiError> {
    db.optional(
        "SELECT upload_id, owner, name, mime, disposition, length, created_at, file_id
         FROM media_uploads WHERE upload_id = ?1",
        args![id],
        upload_from_row,
    )
}

/// Records the finished `file` and marks `upload_id` complete with it.
pub fn complete(db: &dyn Db, upload_id: &str, file: &File) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO media_files (file_id, owner, name, mime, disposition, size, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            file.id,
            file.owner,
            file.described.name,
            file.described.mime,
            file.described.disposition,
            to_i64(file.size)?,
            file.created_at,
        ],
    )?;
    let changed = db.execute(
        "UPDATE media_uploads SET file_id = ?2 WHERE upload_id = ?1",
        args![upload_id, file.id],
    )?;
    if changed != 1 {
        // Swept while its last bytes were being written: the caller's
        // savepoint rolls the file row back too.
        return Err(ApiError::internal(format!(
            "upload {upload_id} vanished while completing"
        )));
    }
    Ok(())
}

/// The file `id`, if it exists.
pub fn file(db: &dyn Db, id: &str) -> Result<Option<File>, ApiError> {
    db.optional(
        "SELECT file_id, owner, name, mime, disposition, size, created_at
         FROM media_files WHERE file_id = ?1",
        args![id],
        |r| {
            Ok(File {
                id: r.get(0)?,
                owner: r.get(1)?,
                described: described(r)?,
                size: to_u64(r.get(5)?)?,
                created_at: r.get(6)?,
            })
        },
    )
}

/// Up to `limit` uploads created before `cutoff` (Unix ms): `(upload id,
/// whether it completed)`. A complete one has no bytes left to delete.
pub fn created_before(
    db: &dyn Db,
    cutoff: i64,
    limit: usize,
) -> Result<Vec<(String, bool)>, ApiError> {
    db.all(
        "SELECT upload_id, file_id IS NOT NULL FROM media_uploads
         WHERE created_at < ?1 ORDER BY created_at LIMIT ?2",
        args![cutoff, limit as i64],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Forgets the upload `id` (its bytes are the caller's to delete).
pub fn delete_upload(db: &dyn Db, id: &str) -> Result<(), ApiError> {
    db.execute("DELETE FROM media_uploads WHERE upload_id = ?1", args![id])?;
    Ok(())
}
