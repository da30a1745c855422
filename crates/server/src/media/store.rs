//! Where the bytes of uploads and files live. The trait is about bytes only
//! (metadata is in the database), so a local directory and an S3-compatible
//! object store can stand behind the same HTTP handlers.
//!
//! Ids reaching a store have been checked by [`is_id`]: 32 lowercase hex
//! digits, safe as file or object names.

use std::future::Future;
use std::io;
use std::pin::Pin;

use axum::body::Bytes;
use futures_util::Stream;

/// A boxed future borrowing the store.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Bytes to append; the stream ends where the caller wants the append to
/// end (end of body, size limit, interrupted request), so it never fails.
pub type Chunks<'a> = Pin<Box<dyn Stream<Item = Bytes> + Send + 'a>>;

/// A file's bytes as read; errors are the storage's.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// Why an append wrote nothing or stopped.
#[derive(Debug)]
pub enum AppendError {
    /// The partial does not hold `offset` bytes; it holds `current`.
    Offset {
        /// Bytes stored.
        current: u64,
    },
    /// The storage failed (bytes written before the failure may remain).
    Io(io::Error),
}

impl From<io::Error> for AppendError {
    fn from(e: io::Error) -> AppendError {
        AppendError::Io(e)
    }
}

/// Storage of upload bytes (partials, named by upload id) and finished
/// files (named by file id).
pub trait FileStore: Send + Sync + 'static {
    /// Creates the empty partial of `upload`.
    fn create_partial<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<()>>;

    /// Bytes the partial of `upload` holds (`NotFound` when there is none).
    fn partial_len<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<u64>>;

    /// Appends `chunks` to the partial of `upload`, which must hold exactly
    /// `offset` bytes; returns the bytes it holds afterwards. What was
    /// appended is handed to the operating system (survives the process)
    /// before this returns; if the future is dropped midway, whatever
    /// reached storage stays, and [`FileStore::partial_len`] tells how much.
    fn append<'a>(
        &'a self,
        upload: &'a str,
        offset: u64,
        chunks: Chunks<'a>,
    ) -> BoxFuture<'a, Result<u64, AppendError>>;

    /// Makes the partial of `upload` the file `file`, durably (synced to
    /// disk); the partial is gone afterwards.
    fn finalize<'a>(&'a self, upload: &'a str, file: &'a str) -> BoxFuture<'a, io::Result<()>>;

    /// `len` bytes of `file` from `start` (the caller keeps the range within
    /// the file's size).
    fn read_range<'a>(
        &'a self,
        file: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<ByteStream>>;

    /// Deletes the partial of `upload` (`NotFound` when there is none).
    fn delete_partial<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<()>>;

    /// Deletes the file `file` (`NotFound` when there is none).
    fn delete_file<'a>(&'a self, file: &'a str) -> BoxFuture<'a, io::Result<()>>;
}

/// Whether `id` has the shape of an upload or file id: 32 lowercase hex
/// digits (128 random bits).
pub fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The error of a store handed something that is not an id ([`is_id`]).
pub fn bad_id(id: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{id:?} is not a media id"),
    )
}

/// A new id: 128 random bits as 32 lowercase hex digits.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let a = new_id();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, new_id());
        for bad in [
            "",
            "../../etc/passwd",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(!is_id(bad), "{bad}");
        }
    }
}
