//! Media metadata (migration 8): uploads in progress and finished files. The bytes are in
//! the file store ([`crate::media::store`]); how many an upload holds so far is asked of
//! it, not kept here, so the two can never disagree about an offset.

use rusqlite::{params, Connection, OptionalExtension, Row};

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
fn to_u64(n: i64) -> rusqlite::Result<u64> {
    u64::try_from(n).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, n))
}

fn to_i64(n: u64) -> Result<i64, ApiError> {
    i64::try_from(n).map_err(|_| ApiError::internal(format!("length {n} does not fit the store")))
}

/// Records a new upload.
pub fn insert_upload(c: &Connection, u: &Upload) -> Result<(), ApiError> {
    c.prepare_cached(
        "INSERT INTO media_uploads
             (upload_id, owner, name, mime, disposition, length, created_at, file_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        u.id,
        u.owner,
        u.described.name,
        u.described.mime,
        u.described.disposition,
        to_i64(u.length)?,
        u.created_at,
        u.file_id,
    ])?;
    Ok(())
}

fn upload_from_row(r: &Row) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: r.get(0)?,
        owner: r.get(1)?,
        described: Described {
            name: r.get(2)?,
            mime: r.get(3)?,
            disposition: r.get(4)?,
        },
        length: to_u64(r.get(5)?)?,
        created_at: r.get(6)?,
        file_id: r.get(7)?,
    })
}

/// The upload `id`, if it exists.
pub fn upload(c: &Connection, id: &str) -> Result<Option<Upload>, ApiError> {
    Ok(c.prepare_cached(
        "SELECT upload_id, owner, name, mime, disposition, length, created_at, file_id
         FROM media_uploads WHERE upload_id = ?1",
    )?
    .query_row([id], upload_from_row)
    .optional()?)
}

/// Records the finished `file` and marks `upload_id` complete with it.
pub fn complete(c: &Connection, upload_id: &str, file: &File) -> Result<(), ApiError> {
    c.prepare_cached(
        "INSERT INTO media_files (file_id, owner, name, mime, disposition, size, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        file.id,
        file.owner,
        file.described.name,
        file.described.mime,
        file.described.disposition,
        to_i64(file.size)?,
        file.created_at,
    ])?;
    let changed = c
        .prepare_cached("UPDATE media_uploads SET file_id = ?2 WHERE upload_id = ?1")?
        .execute(params![upload_id, file.id])?;
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
pub fn file(c: &Connection, id: &str) -> Result<Option<File>, ApiError> {
    Ok(c.prepare_cached(
        "SELECT file_id, owner, name, mime, disposition, size, created_at
         FROM media_files WHERE file_id = ?1",
    )?
    .query_row([id], |r| {
        Ok(File {
            id: r.get(0)?,
            owner: r.get(1)?,
            described: Described {
                name: r.get(2)?,
                mime: r.get(3)?,
                disposition: r.get(4)?,
            },
            size: to_u64(r.get(5)?)?,
            created_at: r.get(6)?,
        })
    })
    .optional()?)
}

/// Up to `limit` uploads created before `cutoff` (Unix ms): `(upload id,
/// whether it completed)`. A complete one has no bytes left to delete.
pub fn created_before(
    c: &Connection,
    cutoff: i64,
    limit: usize,
) -> Result<Vec<(String, bool)>, ApiError> {
    let mut stmt = c.prepare_cached(
        "SELECT upload_id, file_id IS NOT NULL FROM media_uploads
         WHERE created_at < ?1 ORDER BY created_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![cutoff, limit as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Forgets the upload `id` (its bytes are the caller's to delete).
pub fn delete_upload(c: &Connection, id: &str) -> Result<(), ApiError> {
    c.prepare_cached("DELETE FROM media_uploads WHERE upload_id = ?1")?
        .execute([id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        schema::prepare(&mut conn, true).unwrap();
        (dir, conn)
    }

    fn upload(id: &str, created_at: i64) -> Upload {
        Upload {
            id: id.into(),
            owner: "alice".into(),
            described: Described {
                name: "a.png".into(),
                mime: "image/png".into(),
                disposition: "inline".into(),
            },
            length: 10,
            created_at,
            file_id: None,
        }
    }

    #[test]
    fn uploads_complete_into_files_and_age_out() {
        let (_dir, c) = db();
        insert_upload(&c, &upload("u1", 100)).unwrap();
        insert_upload(&c, &upload("u2", 200)).unwrap();
        insert_upload(&c, &upload("u3", 300)).unwrap();
        assert_eq!(super::upload(&c, "u1").unwrap(), Some(upload("u1", 100)));
        assert_eq!(super::upload(&c, "nope").unwrap(), None);

        let f = File {
            id: "f1".into(),
            owner: "alice".into(),
            described: upload("u2", 0).described,
            size: 10,
            created_at: 250,
        };
        complete(&c, "u2", &f).unwrap();
        assert_eq!(file(&c, "f1").unwrap(), Some(f.clone()));
        assert_eq!(
            super::upload(&c, "u2").unwrap().unwrap().file_id.as_deref(),
            Some("f1")
        );
        // Completing an upload that is gone is refused.
        let f2 = File {
            id: "f2".into(),
            ..f
        };
        assert!(complete(&c, "gone", &f2).is_err());

        assert_eq!(
            created_before(&c, 300, 10).unwrap(),
            vec![("u1".to_owned(), false), ("u2".to_owned(), true)]
        );
        assert_eq!(created_before(&c, 300, 1).unwrap().len(), 1);
        delete_upload(&c, "u1").unwrap();
        assert_eq!(super::upload(&c, "u1").unwrap(), None);
        // The file outlives its upload row.
        delete_upload(&c, "u2").unwrap();
        assert!(file(&c, "f1").unwrap().is_some());
    }
}
