//! Startup and shutdown.
//!
//! Startup: open (and migrate) the database, run the retention sweep, bind,
//! then print the one `listening on http://ADDR` line. Shutdown on SIGTERM or
//! SIGINT: stop accepting, let every connection answer the requests it has
//! already received and close with 1001, then drain the writer (every
//! acknowledged write is committed) and close the database.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::chatrooms::{Chatrooms, Lifetimes};
use crate::clock::now_ms;
use crate::cluster::Cluster;
use crate::config::redact_password;
use crate::config::Config;
use crate::conn_limits::ConnLimits;
use crate::error::ApiError;
use crate::listener::Gate;
use crate::log_escape::Escaped;
use crate::media::{self, Media};
use crate::presence::{Change, Presence};
use crate::refusal_log::RefusalLog;
use crate::registry::Registry;
use crate::state::AppState;
use crate::store::{retention, Backend, Outcome, Store};
use crate::timeline_pump::TimelinePump;
use crate::{admin, fanout, fd_limit, listener, ws};

/// Time connections get to finish after the shutdown signal.
const CONNECTION_GRACE: Duration = Duration::from_secs(10);
/// Interval between retention sweeps.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Runs the server until SIGTERM/SIGINT.
pub async fn run(config: Config) -> Result<(), String> {
    let (settings, dev_credentials) = config.settings();
    if dev_credentials {
        eprintln!(
            "WARNING: using development credentials (app key {:?}, app secret {:?}); pass --app-key and --app-secret in production",
            settings.app_key, settings.app_secret
        );
    }
    let (fanout_tx, fanout_rx) = mpsc::unbounded_channel();
    let store = match &config.database_url {
        Some(url) => Store::open_backend(Backend::Postgres(url.clone()), fanout_tx)
            .map_err(|e| format!("{e} ({})", redact_password(url)))?,
        None => Store::open(&config.data_dir, fanout_tx)?,
    };
    let media = match config.s3_options()? {
        Some(opts) => Media::s3(&opts).await?,
        None => Media::local(&config.data_dir)?,
    };
    let registry = Arc::new(Registry::new());
    let (pump, pump_rx) = TimelinePump::new();
    let (presence, presence_rx) = Presence::new();
    // Once: without --node-id the id is random.
    let node_id = config.node_id();
    let cluster = match &config.nats_url {
        Some(url) => {
            let (id, key) = (node_id.clone(), &settings.app_key);
            let (r, p) = (registry.clone(), presence.clone());
            let beat = settings.heartbeat_interval;
            Some(Cluster::start(url, &id, key, r, pump.clone(), p, beat).await?)
        }
        None => None,
    };
    let fanout_task = tokio::spawn(fanout::run(
        fanout_rx,
        registry.clone(),
        cluster.clone(),
        pump,
    ));
    let pump_task = tokio::spawn(crate::timeline_pump::run(
        pump_rx,
        store.clone(),
        registry.clone(),
    ));
    {
        let p = presence.clone();
        registry.watch(Box::new(move |user| {
            p.notify(Change::Sessions(user.to_owned()))
        }));
    }
    let presence_task = tokio::spawn(crate::presence::run(
        presence_rx,
        presence.clone(),
        registry.clone(),
        store.clone(),
        cluster.clone(),
        settings.profile_visibility,
    ));

    sweep(&store, settings.offline_days)
        .await
        .map_err(|e| format!("retention sweep failed: {e}"))?;
    let sweeper = {
        let store = store.clone();
        let days = settings.offline_days;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = sweep(&store, days).await {
                    tracing::warn!(error = %Escaped(&e), "retention sweep failed");
                }
            }
        })
    };

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;

    let conn = settings.conn.clone();
    let fd_limit = fd_limit::raise_open_file_limit();
    let total_cap = fd_limit::fit_total_cap(conn.max_unauthenticated_connections, fd_limit);
    if total_cap < conn.max_unauthenticated_connections {
        tracing::warn!(
            wanted = conn.max_unauthenticated_connections,
            total_cap,
            open_file_limit = fd_limit,
            "--max-unauthenticated-connections lowered to fit the open-file limit"
        );
    }
    let refusals = Arc::new(RefusalLog::new());
    let flusher = tokio::spawn(refusals.clone().run_flusher());
    let gate = Gate {
        limits: ConnLimits::new(conn.max_unauthenticated_per_ip, total_cap),
        refusals: refusals.clone(),
        conn: conn.clone(),
    };

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let chatrooms = Chatrooms::new(
        store.clone(),
        registry.clone(),
        node_id,
        Lifetimes::default(),
        settings.chatroom_multiple_rooms,
    );
    chatrooms
        .start(crate::clock::now_ms())
        .await
        .map_err(|e| format!("cannot start chatrooms: {}", e.msg))?;
    let state = AppState {
        settings: Arc::new(settings),
        store: store.clone(),
        registry,
        shutdown: shutdown_rx.clone(),
        alive: alive_tx.clone(),
        refusals,
        presence,
        chatrooms: Arc::new(chatrooms),
        media: Arc::new(media),
        cluster,
    };
    let room_sweeper = tokio::spawn(crate::ws::chatroom::sweep_rooms(state.clone()));
    let upload_sweeper = tokio::spawn(crate::media::sweep::run(state.clone()));
    let app = Router::new()
        .route(imsync_protocol::WS_PATH, get(ws::endpoint))
        .merge(admin::routes(state.clone()))
        .merge(media::routes())
        .with_state(state);

    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "ready");
    tracing::info!(
        per_ip = conn.max_unauthenticated_per_ip,
        total = total_cap,
        idle_timeout = ?conn.idle_timeout,
        header_read_timeout = ?conn.header_read_timeout,
        request_timeout = ?conn.request_timeout,
        handshake_timeout = ?conn.handshake_timeout,
        open_file_limit = %fd_limit.map_or("unknown".into(), |n| n.to_string()),
        "unauthenticated connection limits"
    );

    let signal = async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
    };
    // The accept loop stops at the signal; HTTP connections answer what
    // they have and close, WebSocket sessions drain (see ws).
    tokio::join!(
        signal,
        listener::serve(listener, app, gate, shutdown_rx, alive_tx)
    );

    // Every live connection holds an `alive` sender; recv() returns None
    // once the last one is gone.
    if tokio::time::timeout(CONNECTION_GRACE, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period");
    }
    sweeper.abort();
    pump_task.abort();
    presence_task.abort();
    room_sweeper.abort();
    upload_sweeper.abort();
    flusher.abort();
    let closing = store.clone();
    tokio::task::spawn_blocking(move || closing.shutdown())
        .await
        .map_err(|e| e.to_string())?;
    drop(store);
    fanout_task.abort();
    tracing::info!("stopped");
    Ok(())
}

/// Deletes expired entries chunk by chunk.
async fn sweep(store: &Store, days: u32) -> Result<(), ApiError> {
    let cutoff = now_ms() - i64::from(days) * 86_400_000;
    let mut removed = 0usize;
    loop {
        let n = store
            .write(move |c| Ok(Outcome::quiet(retention::sweep_chunk(c, cutoff)?)))
            .await?;
        removed += n;
        if n == 0 {
            break;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "retention sweep");
    }
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
