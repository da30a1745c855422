//! A full disk, for real: the database lives on a small tmpfs that a filler file fills up.
//! Reopening an intact database there opens it read-only — every read answers exactly what
//! it answered before — while writes answer 33202 and change nothing; once space is freed
//! the next write starts the writer and works, without reopening. A write that meets the
//! full disk while open answers 33202 and changes nothing either.
//!
//! Needs `mount -t tmpfs` (root, as in CI); where that is unavailable the tests say so and
//! skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use imsync_core::Engine;
use serde_json::{json, Value};

const DISK_FULL: i32 = 33202;
const T0: i64 = 1_700_000_000_000;

/// A tmpfs of `size` mounted on a fresh directory; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk { dir }),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount a size-limited tmpfs here (mount: {}); this test \
                     needs root or CAP_SYS_ADMIN, as in CI",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount ({e}); this test needs a tmpfs mount");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Writes a filler file until the file system refuses another byte (ENOSPC).
    fn fill(&self) {
        let mut f = std::fs::File::create(self.filler()).unwrap();
        for chunk in [64 * 1024, 4096, 1] {
            let buf = vec![0u8; chunk];
            loop {
                match f.write(&buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.raw_os_error() == Some(28) => break,
                    Err(e) => panic!("filling the disk: {e}"),
                }
            }
        }
        assert_eq!(
            f.write(&[0]).map_err(|e| e.raw_os_error()),
            Err(Some(28)),
            "the disk must be full"
        );
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

fn options(dir: &Path) -> Value {
    json!({ "appkey": "app", "dbpath": dir.to_str().unwrap(), "logOutputLevel": 1 })
}

fn db_file(dir: &Path) -> PathBuf {
    dir.join("imsync").join("app").join("me.db")
}

fn conv(target: &str) -> Value {
    json!({ "conversationType": 1, "targetId": target })
}

fn text(s: &str) -> Value {
    json!({ "messageType": "RC:TxtMsg", "content": { "content": s } })
}

fn batch(from: i64, n: i64, pad: usize) -> Value {
    let filler = "填".repeat(pad);
    json!((from..from + n)
        .map(|k| json!({
            "conversationType": 1, "targetId": format!("u{}", k % 10),
            "messageType": "RC:TxtMsg", "messageDirection": 2, "sentTime": T0 + k,
            "content": { "content": format!("message {k} 你好 {filler}") },
        }))
        .collect::<Vec<_>>())
}

/// What the reads answer: the point is that they answer the same on a full disk.
async fn reads(e: &Engine) -> Vec<Value> {
    let mut out = Vec::new();
    for target in ["u1", "u2", "u7"] {
        out.push(
            e.get_history_messages(conv(target), json!({ "count": 100 }))
                .await
                .unwrap(),
        );
        out.push(e.get_message_count(conv(target)).await.unwrap());
        out.push(
            e.search_messages(
                conv(target),
                json!("你好"),
                json!(0),
                json!(20),
                Value::Null,
            )
            .await
            .unwrap(),
        );
        out.push(e.get_conversation(conv(target)).await.unwrap());
        out.push(e.get_unread_count(conv(target)).await.unwrap());
    }
    out.push(
        e.get_conversation_list(json!(0), json!(50), Value::Null, Value::Null)
            .await
            .unwrap(),
    );
    out.push(
        e.get_total_unread_count(Value::Null, Value::Null)
            .await
            .unwrap(),
    );
    out.push(
        e.search_conversation_by_content(json!("message"), json!(["RC:TxtMsg"]), Value::Null)
            .await
            .unwrap(),
    );
    out
}

fn files(file: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    (std::fs::read(file).unwrap(), std::fs::read(wal).ok())
}

fn assert_disk_full(r: Result<Value, imsync_core::ImError>, what: &str) {
    let e = r.expect_err(&format!("{what} must be refused while the disk is full"));
    assert_eq!(e.code, DISK_FULL, "{what}: {e:?}");
    assert!(
        e.msg.contains("full") && e.msg.contains("disk space"),
        "{what}: the message must say the disk is full and what to do: {}",
        e.msg
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopened_on_a_full_disk_reads_work_and_writes_wait_for_space() {
    let Some(disk) = SmallDisk::mount("4m") else {
        return;
    };
    let file = db_file(disk.path());
    let e = Engine::new(&options(disk.path())).unwrap();
    e.open(json!("me")).await.unwrap();
    e.batch_insert_message(batch(0, 400, 20), json!(false))
        .await
        .unwrap();
    let some_id = e
        .insert_message(conv("u1"), text("one of mine"), Value::Null)
        .await
        .unwrap()["messageId"]
        .clone();
    let before = reads(&e).await;
    e.close().await.unwrap();

    disk.fill();
    let e = Engine::new(&options(disk.path())).unwrap();
    e.open(json!("me"))
        .await
        .expect("an intact database on a full disk opens (read-only)");
    assert_eq!(reads(&e).await, before, "reads on a full disk");

    let untouched = files(&file);
    macro_rules! refused {
        ($what:literal, $call:expr) => {{
            assert_disk_full($call.await, $what);
            assert!(
                files(&file) == untouched,
                "{} changed the database files",
                $what
            );
        }};
    }
    refused!(
        "insertMessage",
        e.insert_message(conv("u1"), text("new"), Value::Null)
    );
    refused!(
        "batchInsertMessage",
        e.batch_insert_message(batch(1000, 5, 0), json!(false))
    );
    refused!(
        "deleteMessages",
        e.delete_messages(json!([some_id.clone()]))
    );
    refused!(
        "setMessageReceivedStatus",
        e.set_message_received_status(some_id.clone(), json!(1))
    );
    refused!(
        "saveTextMessageDraft",
        e.save_text_message_draft(conv("u2"), json!("draft"))
    );
    refused!(
        "registerMessageType",
        e.register_message_type(
            json!("App:X"),
            json!(true),
            json!(true),
            Value::Null,
            Value::Null
        )
    );
    refused!("clearMessages", e.clear_messages(conv("u3")));
    assert_eq!(reads(&e).await, before, "reads after the refused writes");

    // Space freed: the next write starts the writer, no reopen needed.
    disk.free();
    let m = e
        .insert_message(conv("u1"), text("after space was freed"), Value::Null)
        .await
        .expect("a write once space is freed");
    assert_eq!(
        e.get_message_count(conv("u1")).await.unwrap(),
        json!(before[1].as_i64().unwrap() + 1)
    );
    let page = e
        .get_history_messages(conv("u1"), json!({ "count": 1 }))
        .await
        .unwrap();
    assert_eq!(page["list"][0]["messageId"], m["messageId"]);
    e.save_text_message_draft(conv("u2"), json!("draft"))
        .await
        .unwrap();
    e.delete_messages(json!([some_id])).await.unwrap();
    e.close().await.unwrap();

    let again = Engine::new(&options(disk.path())).unwrap();
    again.open(json!("me")).await.unwrap();
    assert_eq!(
        again.get_text_message_draft(conv("u2")).await.unwrap(),
        json!("draft")
    );
    assert_eq!(
        again.get_message_count(conv("u1")).await.unwrap(),
        json!(before[1].as_i64().unwrap())
    );
    again.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_meets_a_full_disk_answers_33202_and_changes_nothing() {
    // Room for the 1.5 MB batch twice over: its text also waits in the search backlog
    // until the writer indexes it.
    let Some(disk) = SmallDisk::mount("8m") else {
        return;
    };
    let e = Engine::new(&options(disk.path())).unwrap();
    e.open(json!("me")).await.unwrap();
    e.batch_insert_message(batch(0, 300, 20), json!(false))
        .await
        .unwrap();
    let before = reads(&e).await;

    disk.fill();
    // 500 messages of ~3 KB: far more than any slack left in the WAL.
    let big = batch(10_000, 500, 1000);
    let err = e
        .batch_insert_message(big.clone(), json!(false))
        .await
        .expect_err("a 1.5 MB write on a full disk");
    assert_eq!(err.code, DISK_FULL, "{err:?}");
    assert!(err.msg.contains("nothing was written"), "{}", err.msg);
    assert_eq!(reads(&e).await, before, "the failed write changed nothing");

    disk.free();
    let r = e
        .batch_insert_message(big, json!(false))
        .await
        .expect("the same write once space is freed");
    assert_eq!(r["inserted"], 500);
    assert_eq!(
        e.get_message_count(conv("u1")).await.unwrap(),
        json!(before[1].as_i64().unwrap() + 50)
    );
    e.close().await.unwrap();
}
