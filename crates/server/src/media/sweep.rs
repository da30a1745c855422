//! Deletes uploads nobody finished: a day after creation an upload's partial
//! bytes and its row go (a complete upload's row too; its file stays).

use std::io;
use std::time::Duration;

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::log_escape::Escaped;
use crate::state::AppState;
use crate::store::{media, Outcome};

/// Age at which an upload is swept.
pub const UPLOAD_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Interval between sweeps.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Uploads handled per database read.
const BATCH: usize = 100;

/// Sweeps now and then every hour, until the server stops.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    // Ends at the shutdown signal: `state` holds a liveness sender, and the
    // server waits (up to its grace period) for every one of them to go.
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let cutoff = now_ms() - UPLOAD_LIFETIME.as_millis() as i64;
        match sweep(&state, cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "abandoned uploads deleted"),
            Err(e) => tracing::warn!(code = e.code, msg = %Escaped(&e.msg), "upload sweep failed"),
        }
    }
}

/// Deletes the uploads created before `cutoff` (Unix ms); returns how many.
pub async fn sweep(state: &AppState, cutoff: i64) -> Result<usize, ApiError> {
    let mut swept = 0;
    loop {
        if *state.shutdown.borrow() {
            return Ok(swept);
        }
        let batch = state
            .store
            .read(move |c| media::created_before(c, cutoff, BATCH))
            .await?;
        let before = swept;
        for (id, complete) in batch {
            // Interrupts a PATCH still trickling into it; if a newer request
            // wants it, the next sweep deletes it.
            let Some(turn) = state.media.turns.take(&id).await else {
                continue;
            };
            if !complete {
                match state.media.files.delete_partial(&id).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    // The row goes anyway, or every sweep would stop here.
                    Err(e) => {
                        tracing::warn!(upload = %id, error = %Escaped(&e), "cannot delete an abandoned upload's bytes")
                    }
                }
            }
            let key = id.clone();
            state
                .store
                .write(move |c| Ok(Outcome::quiet(media::delete_upload(c, &key)?)))
                .await?;
            drop(turn);
            swept += 1;
        }
        // Nothing left, or only uploads in use (skipped above).
        if swept == before {
            return Ok(swept);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use clap::Parser;
    use tokio::sync::{mpsc, watch};

    use super::*;
    use crate::chatrooms::{Chatrooms, Lifetimes};
    use crate::config::Config;
    use crate::media::store::new_id;
    use crate::media::Media;
    use crate::presence::Presence;
    use crate::refusal_log::RefusalLog;
    use crate::registry::Registry;
    use crate::store::media::{Described, Upload};
    use crate::store::Store;

    fn state(dir: &std::path::Path) -> (AppState, watch::Sender<bool>) {
        let config = Config::parse_from(["imsync-server", "--data-dir", "d"]);
        let (fanout, _) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown) = watch::channel(false);
        let (alive, _) = mpsc::channel(1);
        let store = Store::open(dir, fanout).unwrap();
        let registry = Arc::new(Registry::new());
        let chatrooms = Chatrooms::new(
            store.clone(),
            registry.clone(),
            "node".into(),
            Lifetimes::default(),
            false,
        );
        let state = AppState {
            settings: Arc::new(config.settings().0),
            store,
            registry,
            shutdown,
            alive,
            refusals: Arc::new(RefusalLog::new()),
            chatrooms: Arc::new(chatrooms),
            presence: Presence::new().0,
            cluster: None,
            media: Arc::new(Media::local(dir).unwrap()),
        };
        (state, shutdown_tx)
    }

    /// An upload created at `created_at` holding a few bytes (none if complete).
    async fn upload(state: &AppState, created_at: i64, complete: bool) -> String {
        let id = new_id();
        let u = Upload {
            id: id.clone(),
            owner: "alice".into(),
            described: Described {
                name: "a.bin".into(),
                mime: "application/octet-stream".into(),
                disposition: "attachment".into(),
            },
            length: 3,
            created_at,
            file_id: complete.then(new_id),
        };
        if !complete {
            state.media.files.create_partial(&id).await.unwrap();
        }
        state
            .store
            .write(move |c| Ok(Outcome::quiet(media::insert_upload(c, &u)?)))
            .await
            .unwrap();
        id
    }

    async fn exists(state: &AppState, id: &str) -> bool {
        let key = id.to_owned();
        state
            .store
            .read(move |c| media::upload(c, &key))
            .await
            .unwrap()
            .is_some()
    }

    #[tokio::test]
    async fn old_uploads_go_with_their_bytes_and_fresh_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let (state, _shutdown) = state(dir.path());
        let now = now_ms();
        let day = UPLOAD_LIFETIME.as_millis() as i64;
        let abandoned = upload(&state, now - day - 1, false).await;
        let finished = upload(&state, now - day - 1, true).await;
        let fresh = upload(&state, now - day + 60_000, false).await;

        assert_eq!(sweep(&state, now - day).await.unwrap(), 2);
        assert!(!exists(&state, &abandoned).await);
        assert!(!exists(&state, &finished).await);
        assert!(exists(&state, &fresh).await);
        let gone = state.media.files.partial_len(&abandoned).await.unwrap_err();
        assert_eq!(gone.kind(), io::ErrorKind::NotFound);
        assert_eq!(state.media.files.partial_len(&fresh).await.unwrap(), 0);
        assert_eq!(sweep(&state, now - day).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_sweeper_ends_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let (state, shutdown) = state(dir.path());
        let task = tokio::spawn(run(state));
        shutdown.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the sweeper ended")
            .unwrap();
    }
}
