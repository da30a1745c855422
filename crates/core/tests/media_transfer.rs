//! Media uploads and downloads against the real imsync-server on loopback: byte-identical
//! round trips, progress by whole percents, cancel, resume after a cut connection and from
//! an existing .part, and the errors a user can meet. Every wait has a deadline; nothing
//! sleeps to order events (cuts and cancels are triggered from the progress callback, at a
//! known point of the transfer).

mod support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use imsync_core::media::transfer::{
    download, upload, Cancel, Progress, TransferError, UploadRequest, Uploaded,
};
use rand::RngCore;
use support::{Proxy, Server, DEADLINE};

const MB: usize = 1024 * 1024;

/// Every progress call, in order.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<(u64, u64)>>>);

impl Calls {
    fn progress(&self) -> Progress {
        self.then(|_, _| {})
    }

    /// Records, then runs `also` (to cut or cancel at a chosen point).
    fn then(&self, also: impl Fn(u64, u64) + Send + Sync + 'static) -> Progress {
        let calls = self.0.clone();
        Arc::new(move |done, total| {
            calls.lock().unwrap().push((done, total));
            also(done, total);
        })
    }

    fn list(&self) -> Vec<(u64, u64)> {
        self.0.lock().unwrap().clone()
    }

    /// About one call per percent, each further than the last, ending at total/total.
    fn assert_complete(&self, total: u64) {
        let calls = self.list();
        assert!(calls.len() >= 100, "{} progress calls", calls.len());
        assert!(calls.len() <= 101, "{} progress calls", calls.len());
        assert!(calls.iter().all(|&(_, t)| t == total), "{calls:?}");
        assert!(
            calls.windows(2).all(|w| w[0].0 < w[1].0),
            "not monotonic: {calls:?}"
        );
        assert_eq!(calls.last(), Some(&(total, total)));
    }
}

fn random_file(dir: &Path, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn request<'a>(server: &'a str, token: &'a str, path: &'a Path) -> UploadRequest<'a> {
    UploadRequest {
        server,
        token,
        path,
        name: "holiday 照片.bin",
        mime: "application/octet-stream",
        disposition: Some("attachment"),
    }
}

async fn with_deadline<T>(work: impl std::future::Future<Output = T>) -> T {
    support::tls_provider();
    tokio::time::timeout(DEADLINE, work)
        .await
        .expect("the transfer did not end in time")
}

async fn upload_ok(server: &str, token: &str, path: &Path) -> Uploaded {
    with_deadline(upload(
        request(server, token, path),
        Calls::default().progress(),
        &Cancel::default(),
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_then_download_is_byte_identical_with_percent_progress() {
    let server = Server::start();
    let token = server.token("alice");
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "source.bin", 5 * MB);
    let total = bytes.len() as u64;

    let calls = Calls::default();
    let uploaded = with_deadline(upload(
        request(&server.url(), &token, &path),
        calls.progress(),
        &Cancel::default(),
    ))
    .await
    .unwrap();
    calls.assert_complete(total);
    assert_eq!(uploaded.size, total);
    assert_eq!(uploaded.name, "holiday 照片.bin");
    assert_eq!(uploaded.mime, "application/octet-stream");
    assert!(
        uploaded
            .url
            .starts_with(&format!("{}/media/file/", server.url())),
        "{}",
        uploaded.url
    );

    let dest = dir.path().join("copy.bin");
    let calls = Calls::default();
    let size = with_deadline(download(
        &uploaded.url,
        &dest,
        calls.progress(),
        &Cancel::default(),
    ))
    .await
    .unwrap();
    assert_eq!(size, total);
    calls.assert_complete(total);
    assert!(std::fs::read(&dest).unwrap() == bytes, "the copy differs");
    assert!(!dir.path().join("copy.bin.part").exists(), ".part renamed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_upload_stops_at_once() {
    let server = Server::start();
    let token = server.token("alice");
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "big.bin", 5 * MB);
    let total = bytes.len() as u64;

    let cancel = Cancel::default();
    let calls = Calls::default();
    let switch = cancel.clone();
    let progress = calls.then(move |done, total| {
        if done * 3 >= total {
            switch.cancel();
        }
    });
    let result = with_deadline(upload(
        request(&server.url(), &token, &path),
        progress,
        &cancel,
    ))
    .await;
    assert!(
        matches!(result, Err(TransferError::Cancelled)),
        "{result:?}"
    );
    // The call that threw the switch was the last: nothing was read after it.
    let calls = calls.list();
    let (last, _) = *calls.last().unwrap();
    assert!(last * 3 >= total && last < total / 2, "{calls:?}");
    assert_eq!(
        calls.iter().filter(|&&(done, _)| done * 3 >= total).count(),
        1,
        "{calls:?}"
    );
    // A cancelled switch stops the next transfer before it starts.
    let again = upload(
        request(&server.url(), &token, &path),
        Calls::default().progress(),
        &cancel,
    )
    .await;
    assert!(matches!(again, Err(TransferError::Cancelled)), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_continues_after_the_connection_is_cut() {
    let server = Server::start();
    let proxy = Arc::new(Proxy::start(server.addr).await);
    let token = server.token("alice");
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "cut.bin", 5 * MB);
    let total = bytes.len() as u64;

    let calls = Calls::default();
    let cut_once = AtomicBool::new(false);
    let cutter = proxy.clone();
    let progress = calls.then(move |done, total| {
        if done * 5 >= total * 2 && !cut_once.swap(true, Ordering::SeqCst) {
            cutter.cut();
        }
    });
    let uploaded = with_deadline(upload(
        request(&proxy.url(), &token, &path),
        progress,
        &Cancel::default(),
    ))
    .await
    .unwrap();
    assert_eq!(uploaded.size, total);
    calls.assert_complete(total);

    // Straight from the server, not through the proxy.
    let url = uploaded.url.replace(&proxy.url(), &server.url());
    let dest = dir.path().join("back.bin");
    with_deadline(download(
        &url,
        &dest,
        Calls::default().progress(),
        &Cancel::default(),
    ))
    .await
    .unwrap();
    assert!(
        std::fs::read(&dest).unwrap() == bytes,
        "the server's copy differs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_resumes_from_an_existing_part() {
    let server = Server::start();
    let token = server.token("alice");
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "resume.bin", 3 * MB);
    let total = bytes.len() as u64;
    let uploaded = upload_ok(&server.url(), &token, &path).await;

    // What an interrupted earlier download left behind: the first 40%.
    let dest = dir.path().join("resumed.bin");
    let kept = bytes.len() * 2 / 5;
    std::fs::write(dir.path().join("resumed.bin.part"), &bytes[..kept]).unwrap();
    let calls = Calls::default();
    let size = with_deadline(download(
        &uploaded.url,
        &dest,
        calls.progress(),
        &Cancel::default(),
    ))
    .await
    .unwrap();
    assert_eq!(size, total);
    assert!(
        std::fs::read(&dest).unwrap() == bytes,
        "the resumed copy differs"
    );
    // It went on from the .part: the first report is where the .part ended.
    let calls = calls.list();
    assert_eq!(calls[0], (kept as u64, total), "{:?}", &calls[..3]);
    assert!(calls.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(calls.last(), Some(&(total, total)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_download_keeps_its_part_and_a_later_call_finishes_it() {
    let server = Server::start();
    let token = server.token("alice");
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "later.bin", 4 * MB);
    let total = bytes.len() as u64;
    let uploaded = upload_ok(&server.url(), &token, &path).await;

    let dest = dir.path().join("later-copy.bin");
    let part = dir.path().join("later-copy.bin.part");
    let cancel = Cancel::default();
    let switch = cancel.clone();
    let calls = Calls::default();
    let progress = calls.then(move |done, total| {
        if done * 2 >= total {
            switch.cancel();
        }
    });
    let result = with_deadline(download(&uploaded.url, &dest, progress, &cancel)).await;
    assert!(
        matches!(result, Err(TransferError::Cancelled)),
        "{result:?}"
    );
    assert!(!dest.exists(), "nothing at the destination yet");
    let (at_cancel, _) = *calls.list().last().unwrap();
    let held = std::fs::metadata(&part).unwrap().len();
    // Exactly what was reported: every counted byte is on disk, and no more.
    assert_eq!(held, at_cancel);
    assert!(held < total);
    assert!(std::fs::read(&part).unwrap() == bytes[..held as usize]);

    let calls = Calls::default();
    with_deadline(download(
        &uploaded.url,
        &dest,
        calls.progress(),
        &Cancel::default(),
    ))
    .await
    .unwrap();
    assert!(std::fs::read(&dest).unwrap() == bytes);
    assert_eq!(calls.list()[0].0, held, "resumed where the .part ended");
    assert!(!part.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_continues_after_the_connection_is_cut() {
    let server = Server::start();
    let proxy = Arc::new(Proxy::start(server.addr).await);
    let token = server.token("alice");
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = random_file(dir.path(), "dl-cut.bin", 5 * MB);
    let total = bytes.len() as u64;
    let uploaded = upload_ok(&server.url(), &token, &path).await;
    let url = uploaded.url.replace(&server.url(), &proxy.url());

    let calls = Calls::default();
    let cut_once = AtomicBool::new(false);
    let cutter = proxy.clone();
    let progress = calls.then(move |done, total| {
        if done * 5 >= total && !cut_once.swap(true, Ordering::SeqCst) {
            cutter.cut();
        }
    });
    let dest = dir.path().join("dl-cut-copy.bin");
    let size = with_deadline(download(&url, &dest, progress, &Cancel::default()))
        .await
        .unwrap();
    assert_eq!(size, total);
    calls.assert_complete(total);
    assert!(std::fs::read(&dest).unwrap() == bytes, "the copy differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_shrinks_mid_upload_stops_the_upload() {
    let server = Server::start();
    let token = server.token("alice");
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "shrinking.bin", 5 * MB);
    let victim = path.clone();
    let shrunk = AtomicBool::new(false);
    let progress = Calls::default().then(move |done, total| {
        if done * 4 >= total && !shrunk.swap(true, Ordering::SeqCst) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&victim)
                .unwrap();
            file.set_len(total / 10).unwrap();
        }
    });
    let result = with_deadline(upload(
        request(&server.url(), &token, &path),
        progress,
        &Cancel::default(),
    ))
    .await;
    match result {
        Err(TransferError::File(msg)) => {
            assert!(msg.contains("shrinking.bin"), "{msg}");
            assert!(msg.contains("shorter") || msg.contains("changed"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_file_problems_are_reported_before_anything_is_sent() {
    // Nothing listens there: a check that reached the network would fail differently.
    let nowhere = "http://127.0.0.1:9";
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let cases = [
        (dir.path().join("missing.jpg"), "does not exist"),
        (dir.path().to_path_buf(), "directory"),
        (empty, "empty"),
    ];
    for (path, why) in cases {
        let calls = Calls::default();
        let result = upload(
            request(nowhere, "token", &path),
            calls.progress(),
            &Cancel::default(),
        )
        .await;
        match result {
            Err(TransferError::File(msg)) => {
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(msg.contains(why), "{msg}");
            }
            other => panic!("{}: {other:?}", path.display()),
        }
        assert!(
            calls.list().is_empty(),
            "no progress for {}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_servers_code_and_message() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "small.bin", 1000);
    let result = with_deadline(upload(
        request(&server.url(), "not-a-token", &path),
        Calls::default().progress(),
        &Cancel::default(),
    ))
    .await;
    match result {
        Err(TransferError::Refused { status, code, msg }) => {
            assert_eq!(status, 401);
            assert_ne!(code, 0);
            assert!(msg.contains("X-Imsync-Token"), "{msg}");
        }
        other => panic!("{other:?}"),
    }

    let token = server.token("alice");
    let uploaded = upload_ok(&server.url(), &token, &path).await;
    assert!(uploaded.url.starts_with(&server.url()));
    let unknown = format!("{}/media/file/{}/small.bin", server.url(), "0".repeat(32));
    let dest = dir.path().join("never.bin");
    let result = with_deadline(download(
        &unknown,
        &dest,
        Calls::default().progress(),
        &Cancel::default(),
    ))
    .await;
    assert!(
        matches!(result, Err(TransferError::Refused { status: 404, .. })),
        "{result:?}"
    );
    assert!(!dest.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_network_error_after_the_retries() {
    // Bound, then closed: connections to it are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = random_file(dir.path(), "small.bin", 1000);
    let server = format!("http://127.0.0.1:{port}");
    let result = with_deadline(upload(
        request(&server, "token", &path),
        Calls::default().progress(),
        &Cancel::default(),
    ))
    .await;
    match result {
        Err(e @ TransferError::Network(_)) => {
            assert!(e.to_string().contains("5 attempts"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

/// A media message whose upload worked but whose send failed has a client id. Sending it
/// again with `uploadMediaMessage(…, { messageId })` uploads again with the URL field empty:
/// while that runs the message must not be one the outbox resends (SENDING with a client id)
/// — a reconnect, or a restart with the next connect, would send it with no URL — and the
/// send that follows the upload still goes under the first attempt's client id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reupload_after_a_failed_send_is_never_left_to_the_outbox() {
    use imsync_core::Engine;
    use serde_json::{json, Value};

    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::new(&json!({
            "appkey": support::APP_KEY, "dbpath": dir.path().to_str().unwrap(),
            "serverUrl": server.url(), "logOutputLevel": 1, "reconnectInterval": 50,
        }))
        .unwrap(),
    );
    let db_file = dir
        .path()
        .join("imsync")
        .join(support::APP_KEY)
        .join("alice.db");
    let row = move |id: i64| -> Row {
        let c = rusqlite::Connection::open_with_flags(
            &db_file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        c.query_row(
            "SELECT client_id, sent_status FROM messages WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    // The row (client id, sent status) as it stands when the re-upload reports its first
    // progress.
    type Row = (Option<String>, i64);
    let during: Arc<Mutex<Option<Row>>> = Arc::default();
    let watched = Arc::new(std::sync::atomic::AtomicI64::new(0));
    {
        let (during, watched, row) = (during.clone(), watched.clone(), row.clone());
        engine.on_event(Arc::new(
            move |name: &str, payload: imsync_core::sync::Payload| {
                if name != "MEDIA_PROGRESS" {
                    return;
                }
                let p = payload.into_value();
                let id = watched.load(Ordering::SeqCst);
                if id != 0 && p["messageId"].as_i64() == Some(id) {
                    let mut during = during.lock().unwrap();
                    if during.is_none() {
                        *during = Some(row(id));
                    }
                }
            },
        ));
    }
    let bob = json!({ "conversationType": 1, "targetId": "bob" });
    engine
        .connect(json!(server.token("alice")), json!(false))
        .await
        .unwrap();
    engine.disconnect(json!(false)).await.unwrap();

    // A file message whose send failed (not connected): FAILED, with a client id.
    let failed = engine
        .send_message(
            bob.clone(),
            json!({ "messageType": "RC:FileMsg", "content": { "name": "a.bin", "size": 3, "type": "bin", "fileUrl": "http://127.0.0.1:9/gone" } }),
            Value::Null,
        )
        .await
        .unwrap_err();
    let id = failed
        .data
        .as_ref()
        .and_then(|d| d["messageId"].as_i64())
        .expect("the failed message");
    let (first_client_id, status) = row(id);
    assert_eq!(status, 20);
    let first_client_id = first_client_id.expect("a sent message has a client id");

    // Uploaded again from a file.
    let (path, _) = random_file(dir.path(), "again.bin", 300_000);
    watched.store(id, Ordering::SeqCst);
    let up = with_deadline(engine.upload_media_message(
        bob.clone(),
        json!({ "messageType": "RC:FileMsg", "path": path.to_str().unwrap() }),
        json!({ "messageId": id }),
    ))
    .await
    .unwrap();
    assert_eq!(
        *during.lock().unwrap(),
        Some((None, 10)),
        "uploading: SENDING without a client id (the outbox leaves it alone)"
    );
    assert!(up["message"]["content"]["fileUrl"]
        .as_str()
        .unwrap()
        .starts_with(&server.url()));

    // The send after the upload goes under the first attempt's client id.
    engine
        .connect(json!(server.token("alice")), json!(false))
        .await
        .unwrap();
    let sent = with_deadline(engine.send_message(
        bob,
        json!({ "messageType": "RC:FileMsg", "content": up["message"]["content"] }),
        json!({ "messageId": id }),
    ))
    .await
    .unwrap();
    assert_eq!(sent["sentStatus"], 30);
    assert_eq!(row(id), (Some(first_client_id), 30));
}
