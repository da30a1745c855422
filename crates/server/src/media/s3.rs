//! [`FileStore`] on an S3-compatible object store (`--object-store
//! s3://bucket[/prefix]`), through apache arrow-rs's `object_store` crate.
//!
//! Several server nodes may share one bucket and any of them may serve any
//! request, so nothing about an upload lives on a node's disk or in its
//! memory between requests. The layout under the prefix:
//!
//! * `partials/<upload id>/open`: an empty marker; the partial exists while
//!   it does ([`FileStore::create_partial`]).
//! * `partials/<upload id>/<offset as 20 digits>`: the bytes of the upload
//!   from that offset, one object per chunk an append wrote (at most
//!   [`S3FileStore::chunk_size`] bytes each). S3 has no append, and an object
//!   is written whole or not at all, so an append that stops midway (dropped
//!   request, lost connection, node killed) leaves whole chunks only: what
//!   the listing shows is what is stored.
//! * `files/<file id>`: finished files, one object each.
//!
//! The partial's length is the contiguous run of chunks from offset 0
//! (20-digit names list in offset order). A chunk beyond a gap, or one off
//! that chain, can only come from a write that raced another (requests on
//! one upload reaching two nodes at once) or an interrupted one; it is
//! ignored, and deleted by the next append, which only ever writes at the
//! end of the chain.
//!
//! Memory per append is bounded by one chunk (buffered until it is whole,
//! then put); per finalize by one multipart part, or by the file when it is
//! small enough for a single put.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};

use super::store::{bad_id, is_id, AppendError, BoxFuture, ByteStream, Chunks, FileStore};

/// Default bytes per chunk object an append writes: the memory an append in
/// progress holds, and the most a dropped append loses (the client resends it).
pub const CHUNK_SIZE: usize = 8 * 1024 * 1024;
/// Bytes per part of the multipart upload that assembles a large file (S3
/// wants at least 5 MiB per part but the last); files up to this size are
/// put in one request.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one file uploaded at once while it is assembled.
const PART_CONCURRENCY: usize = 2;
/// Name of the marker object of a partial.
const MARKER: &str = "open";
/// Most time one request to the bucket (not a download) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Time the startup check may take to reach the bucket.
const STARTUP_CHECK: Duration = Duration::from_secs(20);

/// Where and how to reach the bucket (from the `--object-store` and
/// `--s3-*` flags).
#[derive(Clone)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// Key prefix: empty, or ending in `/`.
    pub prefix: String,
    /// Endpoint URL (e.g. `http://127.0.0.1:9000`); None = AWS.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Static credentials; None = the builder's own sources (instance
    /// metadata and the like).
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("S3Options")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field(
                "access_key_id",
                &self.credentials.as_ref().map(|(id, _)| id),
            )
            .finish()
    }
}

/// Files in a bucket.
pub struct S3FileStore {
    /// For everything but downloads.
    store: Arc<dyn ObjectStore>,
    /// For downloads (no timeouts).
    reads: Arc<dyn ObjectStore>,
    prefix: String,
    chunk_size: usize,
}

impl std::fmt::Debug for S3FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's own Debug would show the credentials.
        f.debug_struct("S3FileStore")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .field("chunk_size", &self.chunk_size)
            .finish()
    }
}

fn io_err(e: object_store::Error) -> io::Error {
    io::Error::from(e)
}

fn not_found(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, what)
}

/// A partial as listed.
struct Listing {
    /// Whether the marker exists.
    open: bool,
    /// Chunks of the contiguous run from 0: (offset, size, path).
    chain: Vec<(u64, u64, Path)>,
    /// Other chunks (beyond a gap or overlapping the chain).
    stray: Vec<Path>,
}

impl Listing {
    fn len(&self) -> u64 {
        self.chain.last().map_or(0, |(at, size, _)| at + size)
    }
}

/// HTTPS to the store is rustls with ring (Cargo.toml says why). The HTTP client panics
/// when it is built without a process-wide provider, so one is installed before any store
/// is; one already installed (a second store, a test) stays.
fn use_ring_for_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl S3FileStore {
    /// Connects to the bucket and checks it answers (a list request), so a
    /// wrong endpoint, bucket or credentials fail at startup, not on the
    /// first upload.
    pub async fn open(opts: &S3Options) -> Result<S3FileStore, String> {
        use_ring_for_tls();
        let build = |client: ClientOptions| {
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(&opts.bucket)
                .with_region(&opts.region)
                .with_retry(RetryConfig {
                    retry_timeout: Duration::from_secs(30),
                    ..RetryConfig::default()
                })
                .with_client_options(client.with_connect_timeout(Duration::from_secs(5)));
            if let Some(endpoint) = &opts.endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some((id, secret)) = &opts.credentials {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            builder
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                .map_err(|e| format!("--object-store s3://{}: {e}", opts.bucket))
        };
        // Every request the server waits for is bounded in time...
        let store = build(ClientOptions::new().with_timeout(REQUEST_TIMEOUT))?;
        // ...but a download is paced by its client (a video paused, played
        // in real time): no total or between-reads timeout may cut it.
        let reads = build(
            ClientOptions::new()
                .with_timeout_disabled()
                .with_read_timeout_disabled(),
        )?;
        let s3 = S3FileStore {
            store,
            reads,
            prefix: opts.prefix.clone(),
            chunk_size: CHUNK_SIZE,
        };
        let probe = async {
            let root = s3.path("")?;
            let mut listing = s3.store.list(Some(&root));
            listing.next().await.transpose().map(|_| ())
        };
        let where_ = match &opts.endpoint {
            Some(e) => format!("s3://{} at {e}", opts.bucket),
            None => format!("s3://{} (region {})", opts.bucket, opts.region),
        };
        match tokio::time::timeout(STARTUP_CHECK, probe).await {
            Ok(Ok(())) => Ok(s3),
            Ok(Err(e)) => Err(format!(
                "--object-store: cannot reach the bucket {where_}: {e}"
            )),
            Err(_) => Err(format!(
                "--object-store: the bucket {where_} did not answer within {STARTUP_CHECK:?}"
            )),
        }
    }

    /// The same store writing chunk objects of at most `bytes` (default
    /// [`CHUNK_SIZE`]; tests use small ones to get many).
    pub fn with_chunk_size(mut self, bytes: usize) -> S3FileStore {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Bytes per chunk object.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    fn path(&self, rest: &str) -> object_store::Result<Path> {
        let full = format!("{}{rest}", self.prefix);
        Ok(Path::parse(full.trim_end_matches('/'))?)
    }

    fn partial_dir(&self, upload: &str) -> io::Result<Path> {
        if !is_id(upload) {
            return Err(bad_id(upload));
        }
        self.path(&format!("partials/{upload}")).map_err(io_err)
    }

    fn file_path(&self, file: &str) -> io::Result<Path> {
        if !is_id(file) {
            return Err(bad_id(file));
        }
        self.path(&format!("files/{file}")).map_err(io_err)
    }

    /// Lists the objects of a partial; NotFound when there are none at all.
    async fn list(&self, upload: &str) -> io::Result<Listing> {
        let dir = self.partial_dir(upload)?;
        let mut open = false;
        let mut chunks = Vec::new();
        let mut stray = Vec::new();
        let mut objects = self.store.list(Some(&dir));
        let mut any = false;
        while let Some(meta) = objects.try_next().await.map_err(io_err)? {
            any = true;
            let name = meta.location.filename().unwrap_or_default();
            if name == MARKER {
                open = true;
            } else if let Some(at) = (name.len() == 20)
                .then(|| name.parse::<u64>().ok())
                .flatten()
            {
                chunks.push((at, meta.size, meta.location));
            } else {
                stray.push(meta.location);
            }
        }
        if !any {
            return Err(not_found(format!("no partial for upload {upload}")));
        }
        chunks.sort_by_key(|c| c.0);
        let mut chain = Vec::new();
        let mut end = 0u64;
        for (at, size, path) in chunks {
            if at == end && size > 0 {
                end += size;
                chain.push((at, size, path));
            } else {
                stray.push(path);
            }
        }
        Ok(Listing { open, chain, stray })
    }

    /// The listing of an open partial; NotFound when it is not open (no
    /// marker: never created, or being deleted).
    async fn open_partial(&self, upload: &str) -> io::Result<Listing> {
        let listing = self.list(upload).await?;
        if !listing.open {
            return Err(not_found(format!("no partial for upload {upload}")));
        }
        Ok(listing)
    }

    async fn delete_all(&self, paths: Vec<Path>) -> io::Result<()> {
        if paths.is_empty() {
            return Ok(());
        }
        let locations = futures_util::stream::iter(paths.into_iter().map(Ok)).boxed();
        let mut deleted = self.store.delete_stream(locations);
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(())
    }

    /// Deletes a listed partial: chunks first, the marker last, so a
    /// deletion cut short leaves a partial shorter than it was (a client
    /// resumes from there), never chunks that look like a partial's bytes
    /// without the partial.
    async fn delete_listing(&self, upload: &str, listing: Listing) -> io::Result<()> {
        let mut paths: Vec<Path> = listing.chain.into_iter().map(|c| c.2).collect();
        paths.reverse();
        paths.extend(listing.stray);
        self.delete_all(paths).await?;
        if listing.open {
            let marker = self.partial_dir(upload)?.join(MARKER);
            self.delete_all(vec![marker]).await?;
        }
        Ok(())
    }

    /// Puts one chunk object of an append.
    async fn put_chunk(&self, dir: &Path, at: u64, parts: Vec<Bytes>) -> io::Result<()> {
        let path = dir.clone().join(format!("{at:020}").as_str());
        self.store
            .put(&path, parts.into_iter().collect::<PutPayload>())
            .await
            .map_err(io_err)?;
        Ok(())
    }

    /// The bytes of one chunk of the chain, checked against the listed size
    /// (a chunk rewritten by a racing append since the listing is refused,
    /// not silently mixed in).
    async fn chunk_stream(&self, path: &Path, size: u64) -> io::Result<ByteStream> {
        let got = self
            .store
            .get_opts(
                path,
                GetOptions {
                    range: Some(GetRange::Bounded(0..size)),
                    ..GetOptions::default()
                },
            )
            .await
            .map_err(io_err)?;
        if got.range.end - got.range.start != size || got.meta.size != size {
            return Err(io::Error::other(format!(
                "{path} changed while the file was assembled"
            )));
        }
        Ok(Box::pin(got.into_stream().map_err(io_err)))
    }

    async fn finalize_listing(&self, listing: &Listing, dest: &Path) -> io::Result<()> {
        let total = listing.len();
        if total <= PART_SIZE as u64 {
            let mut parts = Vec::new();
            for (_, size, path) in &listing.chain {
                let mut s = self.chunk_stream(path, *size).await?;
                while let Some(b) = s.try_next().await? {
                    parts.push(b);
                }
            }
            self.store
                .put(dest, parts.into_iter().collect::<PutPayload>())
                .await
                .map_err(io_err)?;
            return Ok(());
        }
        let upload = self.store.put_multipart(dest).await.map_err(io_err)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let copied: io::Result<()> = async {
            for (_, size, path) in &listing.chain {
                let mut s = self.chunk_stream(path, *size).await?;
                while let Some(b) = s.try_next().await? {
                    writer
                        .wait_for_capacity(PART_CONCURRENCY)
                        .await
                        .map_err(io_err)?;
                    writer.put(b);
                }
            }
            Ok(())
        }
        .await;
        match copied {
            Ok(()) => {
                writer.finish().await.map_err(io_err)?;
                Ok(())
            }
            Err(e) => {
                // Parts of an unfinished multipart upload are billed until
                // aborted.
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }
}

impl FileStore for S3FileStore {
    fn create_partial<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match self.list(upload).await {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("upload {upload} already has a partial"),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let marker = self.partial_dir(upload)?.join(MARKER);
            self.store
                .put(&marker, PutPayload::new())
                .await
                .map_err(io_err)?;
            Ok(())
        })
    }

    fn partial_len<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move { Ok(self.open_partial(upload).await?.len()) })
    }

    fn append<'a>(
        &'a self,
        upload: &'a str,
        offset: u64,
        mut chunks: Chunks<'a>,
    ) -> BoxFuture<'a, Result<u64, AppendError>> {
        Box::pin(async move {
            let dir = self.partial_dir(upload)?;
            let listing = self.open_partial(upload).await?;
            let current = listing.len();
            if current != offset {
                return Err(AppendError::Offset { current });
            }
            // Nothing off the chain may later be taken for bytes of it.
            self.delete_all(listing.stray).await?;
            let mut at = offset;
            let mut parts: Vec<Bytes> = Vec::new();
            let mut pending = 0usize;
            while let Some(mut bytes) = chunks.next().await {
                while pending + bytes.len() >= self.chunk_size {
                    let head = bytes.split_to(self.chunk_size - pending);
                    parts.push(head);
                    self.put_chunk(&dir, at, std::mem::take(&mut parts)).await?;
                    at += self.chunk_size as u64;
                    pending = 0;
                }
                if !bytes.is_empty() {
                    pending += bytes.len();
                    parts.push(bytes);
                }
            }
            if pending > 0 {
                self.put_chunk(&dir, at, parts).await?;
                at += pending as u64;
            }
            Ok(at)
        })
    }

    fn finalize<'a>(&'a self, upload: &'a str, file: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let dest = self.file_path(file)?;
            let listing = self.open_partial(upload).await?;
            self.finalize_listing(&listing, &dest).await?;
            // The file is complete (an S3 put is durable once answered);
            // the partial goes, marker last: cut short, it is still whole and
            // a retry finalizes it again.
            self.delete_listing(upload, listing).await
        })
    }

    fn read_range<'a>(
        &'a self,
        file: &'a str,
        start: u64,
        len: u64,
    ) -> BoxFuture<'a, io::Result<ByteStream>> {
        Box::pin(async move {
            let path = self.file_path(file)?;
            if len == 0 {
                // S3 refuses empty ranges; the file must still exist.
                self.store.head(&path).await.map_err(io_err)?;
                let empty: ByteStream = Box::pin(futures_util::stream::empty());
                return Ok(empty);
            }
            let got = self
                .reads
                .get_opts(
                    &path,
                    GetOptions {
                        range: Some(GetRange::Bounded(start..start + len)),
                        ..GetOptions::default()
                    },
                )
                .await
                .map_err(io_err)?;
            let stream: ByteStream = Box::pin(got.into_stream().map_err(io_err));
            Ok(stream)
        })
    }

    fn delete_partial<'a>(&'a self, upload: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let listing = self.list(upload).await?;
            self.delete_listing(upload, listing).await
        })
    }

    fn delete_file<'a>(&'a self, file: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = self.file_path(file)?;
            // S3 deletes answer success for missing keys; the trait tells.
            self.store.head(&path).await.map_err(io_err)?;
            self.store.delete(&path).await.map_err(io_err)
        })
    }
}

#[cfg(test)]
mod tests {
    /// Without a provider, building the HTTPS client the store uses panics (it would take
    /// the server down at the first `--object-store` start).
    #[test]
    fn the_https_client_builds_once_ring_is_installed() {
        super::use_ring_for_tls();
        assert!(reqwest::Client::builder().https_only(true).build().is_ok());
    }
}
