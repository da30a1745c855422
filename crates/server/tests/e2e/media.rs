//! Media uploads and downloads over the real HTTP API, with a raw HTTP/1.1
//! client: the tests need bodies cut mid-way, chunked bodies and exact
//! headers, which a full client would hide.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::moto::Moto;
use crate::common::{Opts, Server, APP_SECRET, DEADLINE};

/// A parsed HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} answered no JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// What follows the request head.
enum Body<'a> {
    None,
    /// With Content-Length.
    Bytes(&'a [u8]),
    /// Transfer-Encoding: chunked, these chunks.
    Chunked(Vec<&'a [u8]>),
}

fn head(method: &str, path: &str, addr: SocketAddr, headers: &[(&str, &str)]) -> String {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req
}

/// Reads an answer to the end of the connection; a reset after the answer
/// (the server closing with request bytes unread) keeps what arrived.
async fn read_reply(s: &mut TcpStream, method: &str) -> Reply {
    let mut raw = Vec::new();
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("no answer before the deadline");
    parse(&raw, method)
}

fn parse(raw: &[u8], method: &str) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if method == "HEAD" {
        assert!(rest.is_empty(), "a HEAD answer has no body");
        Vec::new()
    } else if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size_text = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("hex chunk size");
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// One request on its own connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Reply {
    let mut req = head(method, path, addr, headers).into_bytes();
    match &body {
        Body::None => req.extend_from_slice(b"\r\n"),
        Body::Bytes(b) => {
            req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", b.len()).as_bytes());
            req.extend_from_slice(b);
        }
        Body::Chunked(chunks) => {
            req.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for c in chunks {
                req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                req.extend_from_slice(c);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\n\r\n");
        }
    }
    let mut s = TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before reading everything: the
    // answer is what counts.
    let _ = s.write_all(&req).await;
    read_reply(&mut s, method).await
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

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// A user's side of the upload API.
struct Uploader<'a> {
    server: &'a Server,
    token: String,
}

impl<'a> Uploader<'a> {
    async fn new(server: &'a Server, user: &str) -> Uploader<'a> {
        Uploader {
            server,
            token: server.token(user).await,
        }
    }

    /// POST /media/upload with these headers besides the token.
    async fn create_with(&self, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("X-Imsync-Token", self.token.as_str())];
        all.extend_from_slice(headers);
        send(self.server.addr, "POST", "/media/upload", &all, Body::None).await
    }

    /// Creates an upload of `len` bytes named `name` (already
    /// percent-encoded); returns its id.
    async fn create(&self, name: &str, len: usize) -> String {
        let len = len.to_string();
        let r = self
            .create_with(&[("X-Upload-Length", &len), ("X-Upload-Name", name)])
            .await;
        assert_eq!(r.status, 201, "{:?}", r.json());
        let v = r.json();
        assert_eq!(v["code"], 0);
        assert_eq!(v["offset"], 0);
        let id = v["uploadId"].as_str().expect("uploadId").to_owned();
        assert!(is_hex_id(&id), "{id}");
        id
    }

    async fn patch(&self, id: &str, offset: usize, body: Body<'_>) -> Reply {
        let offset = offset.to_string();
        send(
            self.server.addr,
            "PATCH",
            &format!("/media/upload/{id}"),
            &[("X-Imsync-Token", &self.token), ("Upload-Offset", &offset)],
            body,
        )
        .await
    }

    /// Starts a PATCH announcing `len` bytes and returns its connection once
    /// the server is reading the body: `Expect: 100-continue` makes it say
    /// so (after the checks, with the upload's turn held).
    async fn start_patch(&self, id: &str, offset: usize, len: usize) -> TcpStream {
        let mut s = TcpStream::connect(self.server.addr).await.unwrap();
        let req = head(
            "PATCH",
            &format!("/media/upload/{id}"),
            self.server.addr,
            &[
                ("X-Imsync-Token", &self.token),
                ("Upload-Offset", &offset.to_string()),
                ("Content-Length", &len.to_string()),
                ("Expect", "100-continue"),
            ],
        );
        s.write_all(format!("{req}\r\n").as_bytes()).await.unwrap();
        let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut got = vec![0u8; expected.len()];
        tokio::time::timeout(DEADLINE, s.read_exact(&mut got))
            .await
            .expect("no 100 Continue before the deadline")
            .expect("read 100 Continue");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
        s
    }

    /// HEAD: (Upload-Offset, Upload-Length).
    async fn offset(&self, id: &str) -> (u64, u64) {
        let r = send(
            self.server.addr,
            "HEAD",
            &format!("/media/upload/{id}"),
            &[("X-Imsync-Token", &self.token)],
            Body::None,
        )
        .await;
        assert_eq!(r.status, 200, "{r:?}");
        let num = |h: &str| r.header(h).expect(h).parse::<u64>().expect(h);
        (num("Upload-Offset"), num("Upload-Length"))
    }

    /// Uploads `bytes` in one PATCH; returns the answer's `file`.
    async fn upload(&self, name: &str, bytes: &[u8]) -> Value {
        let id = self.create(name, bytes.len()).await;
        let r = self.patch(&id, 0, Body::Bytes(bytes)).await;
        assert_eq!(r.status, 200, "{:?}", r.json());
        r.json()["file"].clone()
    }
}

fn is_hex_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The path (and query) of a file URL, checking its base.
fn path_of(url: &str, base: &str) -> String {
    url.strip_prefix(base)
        .unwrap_or_else(|| panic!("{url} is not under {base}"))
        .to_owned()
}

/// The path of an unsigned file URL returned by `server`.
fn local_path(server: &Server, file: &Value) -> String {
    path_of(
        file["url"].as_str().expect("file url"),
        &format!("http://{}", server.addr),
    )
}

/// The documented file URL signature, computed independently.
fn url_signature(file_id: &str, expires: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(format!("{file_id}:{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(server.addr, "GET", path, headers, Body::None).await
}

fn partial_path(server: &Server, upload_id: &str) -> PathBuf {
    server.dir.path().join("data/media/partial").join(upload_id)
}

fn partials(server: &Server) -> usize {
    std::fs::read_dir(server.dir.path().join("data/media/partial"))
        .expect("partial dir")
        .count()
}

#[tokio::test]
async fn upload_in_several_patches_then_download_is_byte_identical() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    // Over axum's 2 MB default body limit in one PATCH: bodies are streamed.
    let bytes = data(3 * 1024 * 1024 + 123, 7);
    let name = "photo 1 报告.png";
    let encoded = "photo%201%20%E6%8A%A5%E5%91%8A.png";
    let id = alice.create(encoded, bytes.len()).await;

    let r = alice.patch(&id, 0, Body::Bytes(&bytes[..100_000])).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["offset"], 100_000);
    assert!(r.json().get("file").is_none(), "not complete yet");
    // Chunked, several chunks.
    let r = alice
        .patch(
            &id,
            100_000,
            Body::Chunked(vec![&bytes[100_000..150_000], &bytes[150_000..200_000]]),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["offset"], 200_000);
    assert_eq!(alice.offset(&id).await, (200_000, bytes.len() as u64));
    let r = alice
        .patch(&id, 200_000, Body::Bytes(&bytes[200_000..]))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let v = r.json();
    assert_eq!(v["code"], 0);
    assert_eq!(v["offset"], bytes.len());
    let file = &v["file"];
    assert_eq!(file["name"], name);
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["type"], "image/png");
    let base = format!("http://{}/media/file/", server.addr);
    let url = file["url"].as_str().unwrap();
    let rest = path_of(url, &base);
    let (file_id, url_name) = rest.split_once('/').unwrap();
    assert!(is_hex_id(file_id) && file_id != id, "{url}");
    assert_eq!(url_name, encoded);

    let r = get(&server, &format!("/media/file/{file_id}/{url_name}"), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), bytes.len());
    assert_eq!(sha(&r.body), sha(&bytes));
    assert_eq!(r.header("Content-Type"), Some("image/png"));
    assert_eq!(
        r.header("Content-Disposition"),
        Some(format!("inline; filename*=UTF-8''{encoded}").as_str())
    );
    assert_eq!(
        r.header("Content-Length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(
        r.header("Cross-Origin-Resource-Policy"),
        Some("cross-origin")
    );

    // HEAD: the same headers, no body.
    let r = send(
        server.addr,
        "HEAD",
        &format!("/media/file/{file_id}/x"),
        &[],
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(r.header("Content-Type"), Some("image/png"));

    // The upload stays answerable: an empty PATCH at the end repeats the file.
    assert_eq!(
        alice.offset(&id).await,
        (bytes.len() as u64, bytes.len() as u64)
    );
    let r = alice.patch(&id, bytes.len(), Body::Bytes(b"")).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["file"]["url"], url);
    assert_eq!(partials(&server), 0, "the partial became the file");
}

#[tokio::test]
async fn types_and_dispositions_follow_the_headers_or_the_name() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;

    let pdf = alice.upload("report.pdf", b"%PDF-1.4 ...").await;
    assert_eq!(pdf["type"], "application/pdf");
    let r = get(&server, &local_path(&server, &pdf), &[]).await;
    assert_eq!(r.header("Content-Type"), Some("application/pdf"));
    assert_eq!(
        r.header("Content-Disposition"),
        Some("attachment; filename*=UTF-8''report.pdf")
    );

    let r = alice
        .create_with(&[
            ("X-Upload-Length", "5"),
            ("X-Upload-Name", "notes"),
            ("X-Upload-Type", "Text/Plain"),
            ("X-Upload-Disposition", "inline"),
        ])
        .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = r.json()["uploadId"].as_str().unwrap().to_owned();
    let r = alice.patch(&id, 0, Body::Bytes(b"hello")).await;
    let file = &r.json()["file"];
    assert_eq!(file["type"], "text/plain");
    let r = get(&server, &local_path(&server, file), &[]).await;
    assert_eq!(r.body, b"hello");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(
        r.header("Content-Disposition"),
        Some("inline; filename*=UTF-8''notes")
    );

    // No extension: served as bytes to save.
    let blob = alice.upload("Makefile", b"all:").await;
    assert_eq!(blob["type"], "application/octet-stream");
}

#[tokio::test]
async fn ranges_answer_206_and_416() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    let bytes = data(1000, 3);
    let file = alice.upload("clip.mp4", &bytes).await;
    let path = local_path(&server, &file);

    for (range, start, end) in [
        ("bytes=0-99", 0, 99),
        ("bytes=900-", 900, 999),
        ("bytes=-10", 990, 999),
        ("bytes=500-5000", 500, 999),
    ] {
        let r = get(&server, &path, &[("Range", range)]).await;
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("Content-Range"),
            Some(format!("bytes {start}-{end}/1000").as_str()),
            "{range}"
        );
        assert_eq!(r.body, &bytes[start..=end], "{range}");
        assert_eq!(
            r.header("Content-Length"),
            Some((end - start + 1).to_string().as_str())
        );
        assert_eq!(r.header("Content-Type"), Some("video/mp4"));
        assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    }
    for range in ["bytes=1000-", "bytes=-0", "bytes=5-4"] {
        let r = get(&server, &path, &[("Range", range)]).await;
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(r.header("Content-Range"), Some("bytes */1000"), "{range}");
    }
    let r = get(&server, &path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
}

#[tokio::test]
async fn a_patch_cut_mid_body_resumes_from_the_bytes_that_arrived() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    let bytes = data(200_000, 11);
    let id = alice.create("voice.amr", bytes.len()).await;

    // Announces all of it, sends 70,000 bytes, and the connection drops.
    let mut s = alice.start_patch(&id, 0, bytes.len()).await;
    s.write_all(&bytes[..70_000]).await.unwrap();
    drop(s);

    // Every byte that reached the server counts.
    assert_eq!(alice.offset(&id).await, (70_000, 200_000));
    let r = alice
        .patch(&id, 70_000, Body::Bytes(&bytes[70_000..]))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let file = r.json()["file"].clone();
    let r = get(&server, &local_path(&server, &file), &[]).await;
    assert_eq!(sha(&r.body), sha(&bytes));
    assert_eq!(file["type"], "audio/amr");
}

#[tokio::test]
async fn a_patch_on_a_silent_connection_yields_to_the_resuming_client() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    let bytes = data(100_000, 13);
    let id = alice.create("a.bin", bytes.len()).await;

    // The old connection stays open, its body unfinished (a phone that
    // changed networks: no FIN ever comes).
    let mut old = alice.start_patch(&id, 0, bytes.len()).await;
    old.write_all(&bytes[..40_000]).await.unwrap();

    // HEAD interrupts it (after a grace) and reports what it stored.
    assert_eq!(alice.offset(&id).await, (40_000, 100_000));
    let r = alice
        .patch(&id, 40_000, Body::Bytes(&bytes[40_000..]))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["offset"], 100_000);
    // The interrupted PATCH was told where the upload stood.
    let r = read_reply(&mut old, "PATCH").await;
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["offset"], 40_000);
    assert_eq!(r.json()["code"], 34011);
}

#[tokio::test]
async fn a_slow_upload_outlasts_the_request_timeout_while_bytes_keep_coming() {
    let server = Server::start(Opts {
        extra_args: vec!["--request-timeout".into(), "1s".into()],
        ..Opts::default()
    });
    let alice = Uploader::new(&server, "alice").await;
    let bytes = data(50_000, 17);
    let id = alice.create("slow.bin", bytes.len()).await;
    let mut s = alice.start_patch(&id, 0, bytes.len()).await;
    // A slow uplink: 1.5 s for the body, never 1 s without bytes.
    for piece in bytes.chunks(10_000) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(piece).await.unwrap();
    }
    let r = read_reply(&mut s, "PATCH").await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(r.json()["file"]["size"], 50_000);
}

#[tokio::test]
async fn a_stalled_upload_times_out_keeping_what_arrived() {
    let server = Server::start(Opts {
        extra_args: vec!["--request-timeout".into(), "1s".into()],
        ..Opts::default()
    });
    let alice = Uploader::new(&server, "alice").await;
    let bytes = data(100_000, 19);
    let id = alice.create("stalled.bin", bytes.len()).await;
    let mut s = alice.start_patch(&id, 0, bytes.len()).await;
    s.write_all(&bytes[..30_000]).await.unwrap();
    // Nothing more is sent: the server gives up after the request timeout.
    let r = read_reply(&mut s, "PATCH").await;
    assert_eq!(r.status, 408);
    assert_eq!(r.json()["offset"], 30_000);
    assert_eq!(alice.offset(&id).await, (30_000, 100_000));
    let r = alice
        .patch(&id, 30_000, Body::Bytes(&bytes[30_000..]))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
}

#[tokio::test]
async fn wrong_offset_is_409_with_the_offset_held() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    let id = alice.create("a.txt", 10).await;
    assert_eq!(alice.patch(&id, 0, Body::Bytes(b"0123")).await.status, 200);
    for wrong in [0, 3, 5, 10] {
        let r = alice.patch(&id, wrong, Body::Bytes(b"x")).await;
        assert_eq!(r.status, 409, "{wrong}");
        let v = r.json();
        assert_eq!(v["offset"], 4);
        assert_eq!(v["code"], 34011);
        assert!(v["msg"].as_str().unwrap().contains("Upload-Offset"), "{v}");
    }
    let r = alice.patch(&id, 4, Body::Bytes(b"456789")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["file"]["size"], 10);

    // No offset at all.
    let r = send(
        server.addr,
        "PATCH",
        &format!("/media/upload/{id}"),
        &[("X-Imsync-Token", &alice.token)],
        Body::Bytes(b"x"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["msg"].as_str().unwrap().contains("Upload-Offset"));
}

#[tokio::test]
async fn over_the_limit_is_refused_at_create_and_while_streaming() {
    let server = Server::start(Opts {
        extra_args: vec!["--max-file-size".into(), "64KB".into()],
        ..Opts::default()
    });
    let alice = Uploader::new(&server, "alice").await;

    // By length, at create: nothing is written.
    let r = alice
        .create_with(&[("X-Upload-Length", "65537"), ("X-Upload-Name", "big.bin")])
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["code"], 34011);
    assert!(r.json()["msg"]
        .as_str()
        .unwrap()
        .contains("X-Upload-Length"));
    assert_eq!(partials(&server), 0);
    for bad in ["0", "-1", "1e3", "lots", ""] {
        let r = alice
            .create_with(&[("X-Upload-Length", bad), ("X-Upload-Name", "a.bin")])
            .await;
        assert_eq!(r.status, 400, "{bad:?}");
        assert!(r.json()["msg"]
            .as_str()
            .unwrap()
            .contains("X-Upload-Length"));
    }
    let r = alice.create_with(&[("X-Upload-Name", "a.bin")]).await;
    assert_eq!(r.status, 400);
    assert_eq!(partials(&server), 0);
    let id = alice.create("max.bin", 65536).await;
    assert_eq!(partials(&server), 1);

    // By Content-Length, before the body is read.
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let mut req = head(
        "PATCH",
        &format!("/media/upload/{id}"),
        server.addr,
        &[
            ("X-Imsync-Token", &alice.token),
            ("Upload-Offset", "0"),
            ("Content-Length", "65537"),
        ],
    )
    .into_bytes();
    req.extend_from_slice(b"\r\n");
    s.write_all(&req).await.unwrap();
    let r = read_reply(&mut s, "PATCH").await;
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["offset"], 0);
    assert_eq!(
        std::fs::metadata(partial_path(&server, &id)).unwrap().len(),
        0
    );

    // A chunked body says nothing of its length: stored up to the declared
    // length, never beyond, then refused.
    let id = alice.create("small.bin", 1000).await;
    let bytes = data(1200, 5);
    let r = alice
        .patch(&id, 0, Body::Chunked(vec![&bytes[..600], &bytes[600..]]))
        .await;
    assert_eq!(r.status, 413, "{:?}", r.json());
    assert_eq!(r.json()["offset"], 1000);
    assert_eq!(
        std::fs::metadata(partial_path(&server, &id)).unwrap().len(),
        1000
    );
    assert_eq!(alice.offset(&id).await, (1000, 1000));
    // An empty PATCH at the end completes it with the bytes that fit.
    let r = alice.patch(&id, 1000, Body::Bytes(b"")).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let file = r.json()["file"].clone();
    let r = get(&server, &local_path(&server, &file), &[]).await;
    assert_eq!(r.body, &bytes[..1000]);
    // A complete upload takes no more bytes.
    let r = alice.patch(&id, 1000, Body::Chunked(vec![b"x"])).await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn a_missing_or_invalid_token_is_401() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    let id = alice.create("a.txt", 3).await;
    let other_secret = {
        // A well-formed token signed with another secret.
        let t = alice.token.clone();
        let (payload, _) = t.rsplit_once('.').unwrap();
        format!("{payload}.{}", "0".repeat(64))
    };
    let upload_path = format!("/media/upload/{id}");
    for token in [None, Some("garbage"), Some(other_secret.as_str())] {
        let mut h = vec![
            ("X-Upload-Length", "3"),
            ("X-Upload-Name", "a.txt"),
            ("Upload-Offset", "0"),
        ];
        if let Some(t) = token {
            h.push(("X-Imsync-Token", t));
        }
        for (method, path, body) in [
            ("POST", "/media/upload", Body::None),
            ("PATCH", upload_path.as_str(), Body::Bytes(b"abc")),
        ] {
            let r = send(server.addr, method, path, &h, body).await;
            assert_eq!(r.status, 401, "{method} {token:?}");
            let v = r.json();
            assert_eq!(v["code"], 31004, "{v}");
            assert!(v["msg"].as_str().unwrap().contains("X-Imsync-Token"), "{v}");
        }
        let r = send(server.addr, "HEAD", &upload_path, &h, Body::None).await;
        assert_eq!(r.status, 401);
    }
    // Never from the URL.
    let r = send(
        server.addr,
        "POST",
        &format!("/media/upload?token={}", alice.token),
        &[("X-Upload-Length", "3"), ("X-Upload-Name", "a.txt")],
        Body::None,
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(alice.offset(&id).await, (0, 3), "nothing was appended");
}

#[tokio::test]
async fn another_users_upload_is_404() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    let bob = Uploader::new(&server, "bob").await;
    let id = alice.create("a.txt", 3).await;
    let r = bob.patch(&id, 0, Body::Bytes(b"abc")).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], 34011);
    let r = send(
        server.addr,
        "HEAD",
        &format!("/media/upload/{id}"),
        &[("X-Imsync-Token", &bob.token)],
        Body::None,
    )
    .await;
    assert_eq!(r.status, 404);
    // Unknown ids answer alike.
    for unknown in ["0123456789abcdef0123456789abcdef", "nope"] {
        let r = alice.patch(unknown, 0, Body::Bytes(b"abc")).await;
        assert_eq!(r.status, 404, "{unknown}");
    }
    assert_eq!(alice.offset(&id).await, (0, 3));
}

#[tokio::test]
async fn bad_names_types_and_dispositions_are_400() {
    let server = Server::start(Opts::default());
    let alice = Uploader::new(&server, "alice").await;
    let long = "a".repeat(256);
    for name in [
        "",
        "a%2Fb.png",
        "a/b.png",
        "a%5Cb",
        "a%00b",
        "%FF%FE",
        "..",
        long.as_str(),
    ] {
        let r = alice
            .create_with(&[("X-Upload-Length", "3"), ("X-Upload-Name", name)])
            .await;
        assert_eq!(r.status, 400, "{name:?}");
        let v = r.json();
        assert_eq!(v["code"], 33003);
        assert!(v["msg"].as_str().unwrap().contains("X-Upload-Name"), "{v}");
    }
    for (header, value) in [
        ("X-Upload-Type", "text/html; charset=utf-8"),
        ("X-Upload-Type", "png"),
        ("X-Upload-Disposition", "download"),
    ] {
        let r = alice
            .create_with(&[
                ("X-Upload-Length", "3"),
                ("X-Upload-Name", "a.png"),
                (header, value),
            ])
            .await;
        assert_eq!(r.status, 400, "{header}: {value}");
        assert!(r.json()["msg"].as_str().unwrap().contains(header));
    }
    assert_eq!(partials(&server), 0);
}

#[tokio::test]
async fn expiring_urls_need_a_valid_unexpired_signature() {
    let server = Server::start(Opts {
        extra_args: vec![
            "--file-url-ttl".into(),
            "10m".into(),
            "--public-url".into(),
            "https://media.example.com/".into(),
        ],
        ..Opts::default()
    });
    let alice = Uploader::new(&server, "alice").await;
    let file = alice.upload("a b.png", b"not really a png").await;
    let url = file["url"].as_str().unwrap();
    let path = path_of(url, "https://media.example.com");
    let (file_path, query) = path.split_once('?').expect("a signed URL");
    let file_id = file_path.split('/').nth(3).unwrap();
    let expires: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("expires="))
        .unwrap()
        .parse()
        .unwrap();
    let now_s = crate::common::now_ms() / 1000;
    assert!((now_s + 590..=now_s + 601).contains(&expires), "{expires}");

    let r = get(&server, &path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"not really a png");

    let signature = query.split_once("signature=").unwrap().1;
    let flipped = format!(
        "{}{}",
        &signature[..63],
        if signature.ends_with('0') { '1' } else { '0' }
    );
    let sign = |expires: i64| url_signature(file_id, expires);
    assert_eq!(sign(expires), signature, "the documented HMAC");
    for (what, query) in [
        (
            "tampered signature",
            format!("expires={expires}&signature={flipped}"),
        ),
        (
            "extended expiry",
            format!("expires={}&signature={signature}", expires + 3600),
        ),
        ("no signature", format!("expires={expires}")),
        ("nothing", String::new()),
        // Correctly signed (the secret known), but in the past.
        (
            "expired",
            format!("expires={}&signature={}", now_s - 1, sign(now_s - 1)),
        ),
    ] {
        let r = get(&server, &format!("{file_path}?{query}"), &[]).await;
        assert_eq!(r.status, 403, "{what}");
        assert!(r.json()["msg"].as_str().unwrap().contains("URL"), "{what}");
    }
    let r = get(&server, file_path, &[]).await;
    assert_eq!(r.status, 403);

    // A valid signature for an id that names no file.
    let unknown = "0123456789abcdef0123456789abcdef";
    let r = get(
        &server,
        &format!(
            "/media/file/{unknown}/x?expires={expires}&signature={}",
            url_signature(unknown, expires)
        ),
        &[],
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn unknown_file_ids_are_404() {
    let server = Server::start(Opts::default());
    for path in [
        "/media/file/0123456789abcdef0123456789abcdef/a.png",
        "/media/file/nope/a.png",
        "/media/file/0123456789ABCDEF0123456789ABCDEF/a.png",
    ] {
        let r = get(&server, path, &[]).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["code"], 33003);
    }
}

/// `--object-store s3://...` on a moto server: an upload cut midway
/// resumes, and the file is served byte-exact, whole and in ranges; no
/// byte of it touches the node's disk, and the partial's objects are gone
/// once the file is complete.
#[tokio::test]
async fn with_an_object_store_uploads_resume_and_ranges_are_byte_exact() {
    let Some(moto) = Moto::start("with_an_object_store_uploads_resume_and_ranges_are_byte_exact")
    else {
        return;
    };
    moto.create_bucket("imsync-media");
    let server = Server::start(Opts {
        extra_args: moto.server_args("s3://imsync-media/tenant-1"),
        ..Opts::default()
    });
    let alice = Uploader::new(&server, "alice").await;

    // Over the 8 MiB chunk objects and the 8 MiB single-put size.
    let bytes = data(12 * 1024 * 1024 + 5, 31);
    let id = alice.create("movie.mp4", bytes.len()).await;
    let sent = 9 * 1024 * 1024 + 1234;
    let mut s = alice.start_patch(&id, 0, bytes.len()).await;
    s.write_all(&bytes[..sent]).await.unwrap();
    drop(s);

    let (held, total) = alice.offset(&id).await;
    assert_eq!(total, bytes.len() as u64);
    assert!(
        held > 0 && held <= sent as u64,
        "holds {held} of {sent} sent\n{}",
        server.log()
    );
    assert!(
        !partial_path(&server, &id).exists(),
        "the partial is in the bucket, not on the node's disk"
    );
    let in_bucket = moto.keys("imsync-media", &format!("tenant-1/partials/{id}/"));
    assert!(in_bucket.len() >= 2, "marker and chunks: {in_bucket:?}");

    let held = held as usize;
    let r = alice.patch(&id, held, Body::Bytes(&bytes[held..])).await;
    assert_eq!(r.status, 200, "{:?}\n{}", r.json(), server.log());
    let file = r.json()["file"].clone();
    assert_eq!(file["size"], bytes.len());
    let path = local_path(&server, &file);

    let r = get(&server, &path, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Content-Length"),
        Some(bytes.len().to_string().as_str())
    );
    assert!(sha(&r.body) == sha(&bytes), "the whole file differs");
    let len = bytes.len();
    let boundary = 8 * 1024 * 1024;
    for (start, end) in [
        (0, 0),
        (boundary - 10, boundary + 10),
        (held - 1, held + 1),
        (len - 100, len - 1),
        (1_000_000, 5_000_000),
    ] {
        let range = format!("bytes={start}-{end}");
        let r = get(&server, &path, &[("Range", &range)]).await;
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("Content-Range"),
            Some(format!("bytes {start}-{end}/{len}").as_str()),
            "{range}"
        );
        assert!(r.body == bytes[start..=end], "{range}: bytes differ");
    }
    let r = get(&server, &path, &[("Range", &format!("bytes={len}-"))]).await;
    assert_eq!(r.status, 416);

    let keys = moto.keys("imsync-media", "tenant-1/");
    assert!(
        keys.iter().all(|k| !k.contains("/partials/")),
        "the partial's objects are deleted: {keys:?}"
    );
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("tenant-1/files/"))
            .count(),
        1,
        "{keys:?}"
    );
}

/// Runs the server binary expecting it to refuse to start; its stderr.
fn refused_start(args: &[String]) -> String {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imsync-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + DEADLINE * 2;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not exit with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{args:?} started: {out}");
    assert!(!out.contains("listening on"), "{args:?}: {out}");
    err
}

#[tokio::test]
async fn object_store_flags_are_checked_at_startup() {
    let strs = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let err = refused_start(&strs(&["--object-store", "gs://bucket"]));
    assert!(
        err.contains("--object-store") && err.contains("s3://"),
        "{err}"
    );
    let err = refused_start(&strs(&["--s3-endpoint", "http://127.0.0.1:9"]));
    assert!(err.contains("--object-store"), "{err}");
    let err = refused_start(&strs(&["--s3-access-key-id", "k"]));
    assert!(
        err.contains("--s3-access-key-id") && err.contains("--object-store"),
        "{err}"
    );

    let Some(moto) = Moto::start("object_store_flags_are_checked_at_startup") else {
        return;
    };
    // A bucket that does not exist: refused before listening, saying which.
    let err = refused_start(&moto.server_args("s3://no-such-bucket"));
    assert!(
        err.contains("cannot reach the bucket") && err.contains("no-such-bucket"),
        "{err}"
    );
}
