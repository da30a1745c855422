//! The `FileStore` contract, one suite run against both backends: the local
//! disk and the S3-compatible object store (on a moto server the test
//! starts on loopback).

use std::io;
use std::sync::Arc;

use axum::body::Bytes;
use futures_util::StreamExt;
use imsync_server::media::local::LocalDisk;
use imsync_server::media::s3::{S3FileStore, S3Options};
use imsync_server::media::store::{new_id, AppendError, Chunks, FileStore};

use crate::common::moto::{Moto, ACCESS_KEY_ID, SECRET_ACCESS_KEY};

/// Chunk objects of the S3 store under test: small, so a few MiB make many.
const S3_CHUNK: usize = 256 * 1024;

/// A backend under test.
struct Backend {
    name: &'static str,
    store: Arc<dyn FileStore>,
    /// Bytes per chunk object for S3 (what a dropped append keeps is whole
    /// chunks); None for the local disk.
    s3_chunk: Option<usize>,
}

fn chunks(parts: Vec<Vec<u8>>) -> Chunks<'static> {
    Box::pin(futures_util::stream::iter(
        parts.into_iter().map(Bytes::from),
    ))
}

/// `bytes` in pieces of `piece` bytes.
fn pieces(bytes: &[u8], piece: usize) -> Chunks<'static> {
    chunks(bytes.chunks(piece).map(<[u8]>::to_vec).collect())
}

/// Deterministic bytes that are not all alike.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn read(store: &dyn FileStore, file: &str, start: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut s = store.read_range(file, start, len).await?;
    let mut out = Vec::new();
    while let Some(b) = s.next().await {
        out.extend_from_slice(&b?);
    }
    Ok(out)
}

fn kind<T>(r: io::Result<T>) -> io::ErrorKind {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.kind(),
    }
}

async fn append_checks_offsets_and_len(b: &Backend) {
    let s = &*b.store;
    let n = b.name;
    let u = new_id();
    s.create_partial(&u).await.unwrap();
    assert!(
        s.create_partial(&u).await.is_err(),
        "{n}: a partial is created once"
    );
    assert_eq!(s.partial_len(&u).await.unwrap(), 0, "{n}");
    let to = s
        .append(&u, 0, chunks(vec![b"hel".to_vec(), b"lo".to_vec()]))
        .await
        .unwrap();
    assert_eq!(to, 5, "{n}");
    assert_eq!(s.partial_len(&u).await.unwrap(), 5, "{n}");
    for wrong in [0, 3, 6, 100] {
        match s.append(&u, wrong, chunks(vec![b"x".to_vec()])).await {
            Err(AppendError::Offset { current: 5 }) => {}
            other => panic!("{n}: append at {wrong} of 5 bytes: {other:?}"),
        }
    }
    assert_eq!(
        s.partial_len(&u).await.unwrap(),
        5,
        "{n}: refusals write nothing"
    );
    assert_eq!(s.append(&u, 5, chunks(vec![])).await.unwrap(), 5, "{n}");
    let to = s
        .append(
            &u,
            5,
            chunks(vec![b" ".to_vec(), vec![], b"world".to_vec()]),
        )
        .await
        .unwrap();
    assert_eq!(to, 11, "{n}");
    assert_eq!(s.partial_len(&u).await.unwrap(), 11, "{n}");

    let f = new_id();
    s.finalize(&u, &f).await.unwrap();
    assert_eq!(
        kind(s.partial_len(&u).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    assert_eq!(read(s, &f, 0, 11).await.unwrap(), b"hello world", "{n}");
    assert_eq!(read(s, &f, 6, 5).await.unwrap(), b"world", "{n}");
    assert_eq!(read(s, &f, 10, 1).await.unwrap(), b"d", "{n}");
    assert_eq!(read(s, &f, 3, 0).await.unwrap(), b"", "{n}");
    s.delete_file(&f).await.unwrap();
}

async fn missing_things_are_not_found(b: &Backend) {
    let s = &*b.store;
    let n = b.name;
    let (u, f) = (new_id(), new_id());
    assert_eq!(
        kind(s.partial_len(&u).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    assert_eq!(
        kind(s.delete_partial(&u).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    assert_eq!(
        kind(s.finalize(&u, &f).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    match s.append(&u, 0, chunks(vec![b"x".to_vec()])).await {
        Err(AppendError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {}
        other => panic!("{n}: append to no partial: {other:?}"),
    }
    assert_eq!(
        kind(s.read_range(&f, 0, 1).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    assert_eq!(
        kind(s.read_range(&f, 0, 0).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    assert_eq!(
        kind(s.delete_file(&f).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    // Nothing was created by asking.
    assert_eq!(
        kind(s.partial_len(&u).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
}

async fn deletes_remove_and_then_say_not_found(b: &Backend) {
    let s = &*b.store;
    let n = b.name;
    let u = new_id();
    s.create_partial(&u).await.unwrap();
    let bytes = data(3 * S3_CHUNK + 17, 5);
    s.append(&u, 0, pieces(&bytes, 70_001)).await.unwrap();
    s.delete_partial(&u).await.unwrap();
    assert_eq!(
        kind(s.partial_len(&u).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    assert_eq!(
        kind(s.delete_partial(&u).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    // An emptied partial is one a new create may not mistake for its own.
    s.create_partial(&u).await.unwrap();
    assert_eq!(
        s.partial_len(&u).await.unwrap(),
        0,
        "{n}: nothing left over"
    );
    s.delete_partial(&u).await.unwrap();

    let (u, f) = (new_id(), new_id());
    s.create_partial(&u).await.unwrap();
    s.append(&u, 0, chunks(vec![b"abc".to_vec()]))
        .await
        .unwrap();
    s.finalize(&u, &f).await.unwrap();
    assert_eq!(read(s, &f, 0, 3).await.unwrap(), b"abc", "{n}");
    s.delete_file(&f).await.unwrap();
    assert_eq!(
        kind(s.read_range(&f, 0, 3).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
    assert_eq!(
        kind(s.delete_file(&f).await),
        io::ErrorKind::NotFound,
        "{n}"
    );
}

async fn an_empty_file(b: &Backend) {
    let s = &*b.store;
    let n = b.name;
    let (u, f) = (new_id(), new_id());
    s.create_partial(&u).await.unwrap();
    assert_eq!(s.append(&u, 0, chunks(vec![])).await.unwrap(), 0, "{n}");
    s.finalize(&u, &f).await.unwrap();
    assert_eq!(read(s, &f, 0, 0).await.unwrap(), b"", "{n}");
    s.delete_file(&f).await.unwrap();
}

/// 10.5 MiB in three appends of odd-sized pieces: many chunk objects on S3,
/// assembled by a multipart upload (over its 8 MiB single-put size).
async fn a_large_file_in_several_appends(b: &Backend) {
    let s = &*b.store;
    let n = b.name;
    let bytes = data(10 * 1024 * 1024 + 512 * 1024 + 3, 9);
    let (u, f) = (new_id(), new_id());
    s.create_partial(&u).await.unwrap();
    let cuts = [0, 1_000_003, 6_000_000, bytes.len()];
    for w in cuts.windows(2) {
        let to = s
            .append(&u, w[0] as u64, pieces(&bytes[w[0]..w[1]], 65_537))
            .await
            .unwrap();
        assert_eq!(to, w[1] as u64, "{n}");
        assert_eq!(s.partial_len(&u).await.unwrap(), w[1] as u64, "{n}");
    }
    s.finalize(&u, &f).await.unwrap();
    let whole = read(s, &f, 0, bytes.len() as u64).await.unwrap();
    assert!(
        whole == bytes,
        "{n}: the file differs from what was appended"
    );
    let len = bytes.len() as u64;
    for (start, l) in [
        (0u64, 1u64),
        (S3_CHUNK as u64 - 1, 2),
        (1_000_000, 10),
        (8 * 1024 * 1024 - 5, 10),
        (len - 1, 1),
        (123_457, 3_000_001),
    ] {
        let got = read(s, &f, start, l).await.unwrap();
        assert!(
            got == bytes[start as usize..(start + l) as usize],
            "{n}: range {start}+{l}"
        );
    }
    s.delete_file(&f).await.unwrap();
}

/// An append whose future is dropped midway (the request handler gone)
/// leaves a partial that is a prefix of what was sent, from which the
/// upload resumes to the right file. On S3 that prefix is the whole chunks
/// put before the drop.
async fn a_dropped_append_leaves_a_prefix_to_resume_from(b: &Backend) {
    let s = &*b.store;
    let n = b.name;
    let bytes = data(1024 * 1024 + 300_000, 13);
    let sent = 2 * S3_CHUNK + S3_CHUNK / 2;
    let (u, f) = (new_id(), new_id());
    s.create_partial(&u).await.unwrap();

    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let head: Vec<Bytes> = bytes[..sent]
        .chunks(10_000)
        .map(Bytes::copy_from_slice)
        .collect();
    // Then the body goes quiet: the stream says so and never ends.
    let stalled: Chunks<'static> = Box::pin(futures_util::stream::iter(head).chain(
        futures_util::stream::once(async move {
            let _ = drained_tx.send(());
            std::future::pending::<Bytes>().await
        }),
    ));
    {
        let append = s.append(&u, 0, stalled);
        tokio::select! {
            r = append => panic!("{n}: the append ended on a stalled stream: {r:?}"),
            _ = drained_rx => {}
        }
    }

    let mut held = s.partial_len(&u).await.unwrap();
    assert!(held <= sent as u64, "{n}: holds {held} of {sent} sent");
    if let Some(chunk) = b.s3_chunk {
        assert_eq!(held, 2 * chunk as u64, "{n}: the two whole chunks put");
    }
    // Resume as a client does: from what is held (HEAD), again from what
    // a refusal reports (the local disk may still be finishing a write the
    // dropped append started).
    let mut tries = 0;
    loop {
        let rest = pieces(&bytes[held as usize..], 50_000);
        match s.append(&u, held, rest).await {
            Ok(to) => {
                assert_eq!(to, bytes.len() as u64, "{n}");
                break;
            }
            Err(AppendError::Offset { current }) if tries < 3 && b.s3_chunk.is_none() => {
                tries += 1;
                held = current;
            }
            Err(e) => panic!("{n}: resuming at {held}: {e:?}"),
        }
    }
    s.finalize(&u, &f).await.unwrap();
    let whole = read(s, &f, 0, bytes.len() as u64).await.unwrap();
    assert!(whole == bytes, "{n}: the resumed file differs");
    s.delete_file(&f).await.unwrap();
}

async fn ids_that_are_not_ids_are_refused(b: &Backend) {
    let s = &*b.store;
    let n = b.name;
    for bad in ["../x", "", "ABC", "0123456789abcdef0123456789abcde/"] {
        assert_eq!(
            kind(s.create_partial(bad).await),
            io::ErrorKind::InvalidInput,
            "{n}: {bad:?}"
        );
        assert_eq!(
            kind(s.partial_len(bad).await),
            io::ErrorKind::InvalidInput,
            "{n}"
        );
        assert_eq!(
            kind(s.read_range(bad, 0, 1).await),
            io::ErrorKind::InvalidInput,
            "{n}"
        );
        assert_eq!(
            kind(s.delete_file(bad).await),
            io::ErrorKind::InvalidInput,
            "{n}"
        );
    }
}

async fn contract(b: Backend) {
    append_checks_offsets_and_len(&b).await;
    missing_things_are_not_found(&b).await;
    deletes_remove_and_then_say_not_found(&b).await;
    an_empty_file(&b).await;
    a_large_file_in_several_appends(&b).await;
    a_dropped_append_leaves_a_prefix_to_resume_from(&b).await;
    ids_that_are_not_ids_are_refused(&b).await;
}

/// Options for the bucket `bucket` on `moto`.
pub fn s3_options(moto: &Moto, bucket: &str, prefix: &str) -> S3Options {
    S3Options {
        bucket: bucket.to_owned(),
        prefix: prefix.to_owned(),
        endpoint: Some(moto.endpoint()),
        region: "us-east-1".to_owned(),
        credentials: Some((ACCESS_KEY_ID.to_owned(), SECRET_ACCESS_KEY.to_owned())),
    }
}

#[tokio::test]
async fn the_local_disk_keeps_the_file_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Backend {
        name: "local disk",
        store: Arc::new(LocalDisk::open(&dir.path().join("media")).unwrap()),
        s3_chunk: None,
    })
    .await;
}

#[tokio::test]
async fn the_s3_store_keeps_the_file_store_contract() {
    let Some(moto) = Moto::start("the_s3_store_keeps_the_file_store_contract") else {
        return;
    };
    moto.create_bucket("contract");
    let store = S3FileStore::open(&s3_options(&moto, "contract", "node-a/media/"))
        .await
        .unwrap()
        .with_chunk_size(S3_CHUNK);
    contract(Backend {
        name: "s3",
        store: Arc::new(store),
        s3_chunk: Some(S3_CHUNK),
    })
    .await;
    // Everything the suite created it also deleted, and only under the
    // prefix.
    let left = moto.keys("contract", "");
    assert!(
        left.iter().all(|k| k.starts_with("node-a/media/")),
        "keys outside the prefix: {left:?}"
    );
    let partials: Vec<_> = left.iter().filter(|k| k.contains("/partials/")).collect();
    assert!(partials.is_empty(), "partials left over: {partials:?}");
    let files: Vec<_> = left.iter().filter(|k| k.contains("/files/")).collect();
    assert!(files.is_empty(), "files left over: {files:?}");
}

/// Two stores on one bucket (two nodes): an upload started through one
/// continues and finishes through the other, and a chunk written beyond a
/// gap (an interrupted, raced write) is not counted and is cleared by the
/// next append.
#[tokio::test]
async fn nodes_sharing_a_bucket_share_uploads_and_ignore_stray_chunks() {
    let Some(moto) = Moto::start("nodes_sharing_a_bucket_share_uploads_and_ignore_stray_chunks")
    else {
        return;
    };
    moto.create_bucket("shared");
    let opts = s3_options(&moto, "shared", "");
    let a = S3FileStore::open(&opts)
        .await
        .unwrap()
        .with_chunk_size(1000);
    let b = S3FileStore::open(&opts)
        .await
        .unwrap()
        .with_chunk_size(1000);
    let bytes = data(5_500, 21);
    let (u, f) = (new_id(), new_id());
    a.create_partial(&u).await.unwrap();
    assert_eq!(
        a.append(&u, 0, pieces(&bytes[..2_500], 700)).await.unwrap(),
        2_500
    );
    assert_eq!(b.partial_len(&u).await.unwrap(), 2_500);

    // A stray chunk beyond a gap: at 4,000 while the partial holds 2,500.
    let stray = format!("partials/{u}/{:020}", 4_000);
    let (status, _) = moto_put(&moto, "shared", &stray, &bytes[4_000..4_500]);
    assert_eq!(status, 200);
    assert_eq!(
        b.partial_len(&u).await.unwrap(),
        2_500,
        "beyond a gap: not counted"
    );
    match b.append(&u, 4_500, pieces(b"x", 1)).await {
        Err(AppendError::Offset { current: 2_500 }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.append(&u, 2_500, pieces(&bytes[2_500..], 333))
            .await
            .unwrap(),
        5_500
    );
    let keys = moto.keys("shared", &format!("partials/{u}/"));
    assert!(
        !keys.contains(&stray),
        "the stray chunk is cleared: {keys:?}"
    );
    assert_eq!(a.partial_len(&u).await.unwrap(), 5_500);
    a.finalize(&u, &f).await.unwrap();
    assert_eq!(read(&b, &f, 0, 5_500).await.unwrap(), bytes);
    assert_eq!(kind(b.partial_len(&u).await), io::ErrorKind::NotFound);
    assert!(moto.keys("shared", "partials/").is_empty());
}

/// PUT of one object with a body (moto checks no signature).
fn moto_put(moto: &Moto, bucket: &str, key: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(moto.addr).unwrap();
    write!(
        s,
        "PUT /{bucket}/{key} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        moto.addr,
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}
