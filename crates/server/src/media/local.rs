//! [`FileStore`] on the local disk, under `<data-dir>/media/`:
//!
//! * `partial/<upload id>`: bytes of uploads in progress;
//! * `files/<first two hex digits>/<file id>`: finished files (spread over
//!   256 directories so none grows huge).
//!
//! A finished file is synced and then renamed into place, and the directory
//! entry synced, so a file the database knows survives a power cut.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;

use super::store::{bad_id, is_id, AppendError, BoxFuture, ByteStream, Chunks, FileStore};

/// Bytes gathered before each write to disk.
const WRITE_BUFFER: usize = 256 * 1024;
/// Bytes per chunk read for a download.
const READ_CHUNK: usize = 64 * 1024;

/// Files under one directory.
#[derive(Debug)]
pub struct LocalDisk {
    partial: PathBuf,
    files: PathBuf,
}

impl LocalDisk {
    /// Uses `root` (creating it and its subdirectories).
    pub fn open(root: &Path) -> Result<LocalDisk, String> {
        let disk = LocalDisk {
            partial: root.join("partial"),
            files: root.join("files"),
        };
        for dir in [&disk.partial, &disk.files] {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Ok(disk)
    }

    fn partial_path(&self, upload: &str) -> io::Result<PathBuf> {
        if !is_id(upload) {
            return Err(bad_id(upload));
        }
        Ok(self.partial.join(upload))
    }

    fn file_dir(&self, file: &str) -> io::Result<PathBuf> {
        if !is_id(file) {
            return Err(bad_id(file));
        }
        Ok(self.files.join(&file[..2]))
    }

    fn file_path(&self, file: &str) -> io::Result<PathBuf> {
        Ok(self.file_dir(file)?.join(file))
    }
}

/// Syncs a directory, so entries created or renamed in it are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl FileStore for LocalDisk {
    fn create_partial<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = self.partial_path(upload)?;
            tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .await?;
            Ok(())
        })
    }

    fn partial_len<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move {
            let path = self.partial_path(upload)?;
            Ok(tokio::fs::metadata(path).await?.len())
        })
    }

    fn append<'a>(
        &'a self,
        upload: &'a str,
        offset: u64,
        mut chunks: Chunks<'a>,
    ) -> BoxFuture<'a, Result<u64, AppendError>> {
        Box::pin(async move {
            let path = self.partial_path(upload)?;
            let mut file = tokio::fs::OpenOptions::new().write(true).open(path).await?;
            let current = file.metadata().await?.len();
            if current != offset {
                return Err(AppendError::Offset { current });
            }
            file.seek(SeekFrom::Start(offset)).await?;
            let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
            let mut written = 0u64;
            while let Some(chunk) = chunks.next().await {
                if let Err(e) = out.write_all(&chunk).await {
                    // Keep what fits: the client resumes from there.
                    let _ = out.flush().await;
                    return Err(e.into());
                }
                written += chunk.len() as u64;
            }
            // Also waits for the write in flight to finish.
            out.flush().await?;
            Ok(offset + written)
        })
    }

    fn finalize<'a>(&'a self, upload: &'a str, file: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let from = self.partial_path(upload)?;
            let dir = self.file_dir(file)?;
            let to = dir.join(file);
            let partial_dir = self.partial.clone();
            tokio::task::spawn_blocking(move || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&from)?
                    .sync_all()?;
                std::fs::create_dir_all(&dir)?;
                std::fs::rename(&from, &to)?;
                sync_dir(&dir)?;
                sync_dir(&partial_dir)
            })
            .await
            .map_err(io::Error::other)?
        })
    }

    fn read_range<'a>(
        &'a self,
        file: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<ByteStream>> {
        Box::pin(async move {
            let mut f = tokio::fs::File::open(self.file_path(file)?).await?;
            f.seek(SeekFrom::Start(start)).await?;
            let stream: ByteStream = Box::pin(ReaderStream::with_capacity(f.take(len), READ_CHUNK));
            Ok(stream)
        })
    }

    fn delete_partial<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move { tokio::fs::remove_file(self.partial_path(upload)?).await })
    }

    fn delete_file<'a>(&'a self, file: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move { tokio::fs::remove_file(self.file_path(file)?).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::store::new_id;
    use axum::body::Bytes;

    fn chunks(parts: &[&'static [u8]]) -> Chunks<'static> {
        let owned: Vec<Bytes> = parts.iter().map(|p| Bytes::from_static(p)).collect();
        Box::pin(futures_util::stream::iter(owned))
    }

    async fn read_all(disk: &LocalDisk, file: &str, start: u64, len: u64) -> Vec<u8> {
        let mut s = disk.read_range(file, start, len).await.unwrap();
        let mut out = Vec::new();
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn append_at_offset_finalize_and_read_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let disk = LocalDisk::open(&dir.path().join("media")).unwrap();
        let (u, f) = (new_id(), new_id());
        disk.create_partial(&u).await.unwrap();
        assert!(disk.create_partial(&u).await.is_err(), "ids are not reused");
        assert_eq!(disk.partial_len(&u).await.unwrap(), 0);
        assert_eq!(
            disk.append(&u, 0, chunks(&[b"hel", b"lo"])).await.unwrap(),
            5
        );
        match disk.append(&u, 3, chunks(&[b"x"])).await {
            Err(AppendError::Offset { current: 5 }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(disk.append(&u, 5, chunks(&[b" world"])).await.unwrap(), 11);
        disk.finalize(&u, &f).await.unwrap();
        assert_eq!(
            disk.partial_len(&u).await.unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(read_all(&disk, &f, 0, 11).await, b"hello world");
        assert_eq!(read_all(&disk, &f, 6, 5).await, b"world");
        assert_eq!(read_all(&disk, &f, 10, 1).await, b"d");
        disk.delete_file(&f).await.unwrap();
        assert!(disk.read_range(&f, 0, 1).await.is_err());
    }

    #[tokio::test]
    async fn ids_that_are_not_ids_never_touch_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let disk = LocalDisk::open(&dir.path().join("media")).unwrap();
        for bad in ["../x", "", "ABC"] {
            assert_eq!(
                disk.create_partial(bad).await.unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
            assert!(disk.read_range(bad, 0, 1).await.is_err());
        }
    }
}
