//! Database schema and numbered migrations, recorded in `user_version`.
//!
//! A database written by a newer server (higher `user_version`) is refused
//! rather than guessed at.

use rusqlite::Connection;

/// Migrations in order; migration `i` brings the schema to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
-- Users who ever got a token (informative; messages may name unknown users).
CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    portrait    TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE groups (
    group_id    TEXT PRIMARY KEY,
    name        TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    joined_at   INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- One row per stored message. `target` is the conversation target as the
-- sender sees it; `body` is the prost-encoded imsync.v1.Message in that view.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    uid             TEXT NOT NULL UNIQUE,
    sender          TEXT NOT NULL,
    conv_type       INTEGER NOT NULL,
    target          TEXT NOT NULL,
    channel         TEXT NOT NULL,
    sent_time       INTEGER NOT NULL,
    object_name     TEXT NOT NULL,
    client_msg_id   TEXT NOT NULL DEFAULT '',
    body            BLOB NOT NULL,
    -- Current expansion (JSON object) for messages that allow it.
    expansion       TEXT NOT NULL DEFAULT '{}',
    -- The RC:RcNtf message that recalled this one, if any.
    recalled_by     INTEGER
);
CREATE UNIQUE INDEX messages_dedup ON messages (sender, client_msg_id)
    WHERE client_msg_id <> '';
CREATE INDEX messages_sent_time ON messages (sent_time);

-- Per-user inbox: gap-free seq per user.
CREATE TABLE inbox (
    user_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE INDEX inbox_by_message ON inbox (message_id, user_id);
CREATE INDEX inbox_created ON inbox (created_at);

-- Highest seq ever assigned per user (kept when entries expire, so seqs
-- never repeat).
CREATE TABLE inbox_heads (
    user_id     TEXT PRIMARY KEY,
    last_seq    INTEGER NOT NULL
);

CREATE TABLE blacklist (
    user_id     TEXT NOT NULL,
    blocked_id  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;

CREATE TABLE conversation_settings (
    user_id     TEXT NOT NULL,
    conv_type   INTEGER NOT NULL,
    target      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    is_top      INTEGER NOT NULL DEFAULT 0,
    level       INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, conv_type, target, channel)
) WITHOUT ROWID;

CREATE TABLE tags (
    user_id     TEXT NOT NULL,
    tag_id      TEXT NOT NULL,
    tag_name    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, tag_id)
) WITHOUT ROWID;

CREATE TABLE conversation_tags (
    user_id     TEXT NOT NULL,
    tag_id      TEXT NOT NULL,
    conv_type   INTEGER NOT NULL,
    target      TEXT NOT NULL,
    channel     TEXT NOT NULL,
    is_top      INTEGER NOT NULL DEFAULT 0,
    added_at    INTEGER NOT NULL,
    -- A rowid table on purpose: rowid order is tagging order, which decides
    -- who is evicted past 1000 conversations per tag.
    PRIMARY KEY (user_id, tag_id, conv_type, target, channel)
);

CREATE TABLE settings_versions (
    user_id     TEXT PRIMARY KEY,
    version     INTEGER NOT NULL
);

-- Admin API nonces seen within the signature window (replay protection
-- that survives restarts).
CREATE TABLE admin_nonces (
    nonce       TEXT PRIMARY KEY,
    ts          INTEGER NOT NULL
);
"#,
    r#"
-- 2: every admin request prunes nonces older than the signature window; without this
-- index each prune scanned the whole table (admin publishes slowed from 2,590/s to 250/s).
CREATE INDEX admin_nonces_by_ts ON admin_nonces (ts);
"#,
    r#"
-- 3: the sensitive-word filter and delivery receipts.
-- The admin's word list; `folded` (the word in lower case) is its identity, so one
-- word is listed once whatever its letter case. replace_word NULL = block.
CREATE TABLE sensitive_words (
    folded          TEXT PRIMARY KEY,
    word            TEXT NOT NULL,
    replace_word    TEXT,
    created_at      INTEGER NOT NULL
);
-- Sends the filter blocked: kept (without content) so a resend of one answers as the
-- first send did; pruned with the retention sweep.
CREATE TABLE blocked_sends (
    sender          TEXT NOT NULL,
    client_msg_id   TEXT NOT NULL,
    uid             TEXT NOT NULL,
    sent_time       INTEGER NOT NULL,
    PRIMARY KEY (sender, client_msg_id)
) WITHOUT ROWID;
CREATE INDEX blocked_sends_by_time ON blocked_sends (sent_time);
-- How far each user's devices have stored the inbox (AckInboxRequest).
CREATE TABLE delivery_acks (
    user_id     TEXT PRIMARY KEY,
    acked_seq   INTEGER NOT NULL
);
-- Group messages: how many recipients have stored it.
ALTER TABLE messages ADD COLUMN delivered INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- 4: hosted user profiles (the vendor's profile hosting). A row exists once the user or
-- the app server set a field or the visibility; unique_id NULL = none (NULLs never clash).
CREATE TABLE user_profiles (
    user_id         TEXT PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    portrait_uri    TEXT NOT NULL DEFAULT '',
    unique_id       TEXT UNIQUE,
    email           TEXT NOT NULL DEFAULT '',
    birthday        TEXT NOT NULL DEFAULT '',
    gender          INTEGER NOT NULL DEFAULT 0,
    location        TEXT NOT NULL DEFAULT '',
    role            INTEGER NOT NULL DEFAULT 0,
    level           INTEGER NOT NULL DEFAULT 0,
    -- Extension keys, a JSON object of strings.
    ext             TEXT NOT NULL DEFAULT '{}',
    -- UserProfileVisibility: 0 NOT_SET, 1 INVISIBLE, 2 EVERYONE.
    visibility      INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL DEFAULT 0
);
"#,
    r#"
-- 5: online-status (and profile) subscriptions. A row is live while expires_at (Unix ms)
-- is in the future; expired rows are ignored and cleared on the subscriber's next subscribe.
CREATE TABLE user_subscriptions (
    subscriber      TEXT NOT NULL,
    -- SubscribeType: 1 ONLINE_STATUS, 2 USER_PROFILE.
    sub_type        INTEGER NOT NULL,
    target          TEXT NOT NULL,
    subscribed_at   INTEGER NOT NULL,
    expiry_secs     INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (subscriber, sub_type, target)
) WITHOUT ROWID;
-- Who follows a user (each status change reads it) and the subscriber limit.
CREATE INDEX user_subscriptions_by_target ON user_subscriptions (target, sub_type, expires_at);
"#,
    r#"
-- 6: chatroom entries (KV). Rooms and members are server memory; entries outlive a restart
-- and go when their room is destroyed (or, auto_delete ones, when their owner leaves it).
CREATE TABLE chatroom_entries (
    room_id         TEXT NOT NULL,
    key             TEXT NOT NULL,
    value           TEXT NOT NULL,
    -- The user who last set it: a non-forced set or remove must be this user.
    owner           TEXT NOT NULL,
    auto_delete     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (room_id, key)
) WITHOUT ROWID;
CREATE INDEX chatroom_entries_by_owner ON chatroom_entries (room_id, owner);
"#,
    r#"
-- 7: messages a user deleted for themselves (DeleteMessagesRequest): their inbox rows are
-- gone; this remembers them so deleting again is a no-op instead of "unknown message".
-- `sent_time` lets the retention sweep drop a tombstone with its message.
CREATE TABLE deleted_messages (
    user_id     TEXT NOT NULL,
    message_id  INTEGER NOT NULL,
    sent_time   INTEGER NOT NULL,
    PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;
CREATE INDEX deleted_messages_by_time ON deleted_messages (sent_time);
"#,
    r#"
-- 8: media. An upload in progress (its bytes are in the file store under upload_id); once
-- complete, file_id names the finished file, and the row stays a day so a client that missed
-- the answer can ask again. Abandoned uploads (and their bytes) are swept after a day.
CREATE TABLE media_uploads (
    upload_id       TEXT PRIMARY KEY,
    owner           TEXT NOT NULL,
    name            TEXT NOT NULL,
    mime            TEXT NOT NULL,
    -- 'inline' or 'attachment'.
    disposition     TEXT NOT NULL,
    length          INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    file_id         TEXT
);
CREATE INDEX media_uploads_by_created ON media_uploads (created_at);
-- Finished files, served at /media/file/<file_id>/<name>.
CREATE TABLE media_files (
    file_id         TEXT PRIMARY KEY,
    owner           TEXT NOT NULL,
    name            TEXT NOT NULL,
    mime            TEXT NOT NULL,
    disposition     TEXT NOT NULL,
    size            INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
"#,
    r#"
-- 9: large groups as one timeline (read fan-out). A group in `group_heads` keeps its
-- messages once, numbered `gseq` 1, 2, 3... in commit order; each member's cursor says how
-- far the timeline has been copied into that member's inbox, which happens when the member
-- next reads (or at once while online), so a send writes O(1) rows whatever the size.
CREATE TABLE group_heads (
    group_id    TEXT PRIMARY KEY,
    last_gseq   INTEGER NOT NULL
);
CREATE TABLE group_timeline (
    group_id    TEXT NOT NULL,
    gseq        INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    -- The sender: never copied to them (they got it straight away, or not at all).
    skip_user   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (group_id, gseq)
) WITHOUT ROWID;
CREATE INDEX group_timeline_by_message ON group_timeline (message_id);
CREATE INDEX group_timeline_created ON group_timeline (created_at);
CREATE TABLE timeline_cursors (
    user_id     TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    gseq        INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;
CREATE INDEX timeline_cursors_by_group ON timeline_cursors (group_id, gseq);
-- The last send time per conversation, PostgreSQL mode only (several nodes write one
-- conversation; on SQLite the one writer keeps it in memory).
CREATE TABLE conversation_clocks (
    conv_key    TEXT PRIMARY KEY,
    last_time   INTEGER NOT NULL
);
"#,
    r#"
-- 10: chatrooms in the database, so any node serves any room. A member is a user; a seat
-- is one of its connections in the room, on the node holding it (a seat of a node gone
-- for good is removed by the others). A member without seats since `offline_since` is
-- removed after the vendor's 30 s grace. History keeps the encoded messages, at most
-- 1,000 per room.
CREATE TABLE chatrooms (
    room_id     TEXT PRIMARY KEY,
    create_time INTEGER NOT NULL,
    last_active INTEGER NOT NULL,
    -- The last message's sent time: sent times are strictly increasing within a room.
    last_sent   INTEGER NOT NULL
);
CREATE INDEX chatrooms_by_activity ON chatrooms (last_active);
CREATE TABLE chatroom_members (
    room_id         TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    join_time       INTEGER NOT NULL,
    offline_since   INTEGER,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX chatroom_members_by_user ON chatroom_members (user_id);
CREATE TABLE chatroom_seats (
    room_id     TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    PRIMARY KEY (room_id, session_id)
) WITHOUT ROWID;
CREATE INDEX chatroom_seats_by_session ON chatroom_seats (session_id);
CREATE INDEX chatroom_seats_by_member ON chatroom_seats (room_id, user_id);
CREATE INDEX chatroom_seats_by_node ON chatroom_seats (node_id);
CREATE TABLE chatroom_history (
    room_id     TEXT NOT NULL,
    sent_time   INTEGER NOT NULL,
    message     BLOB NOT NULL,
    PRIMARY KEY (room_id, sent_time)
) WITHOUT ROWID;
CREATE TABLE chatroom_blocks (
    room_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    until       INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
"#,
];

/// Opens `conn` for use: pragmas, then migrations.
pub fn prepare(conn: &mut Connection, writer: bool) -> Result<(), String> {
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    // WAL + NORMAL: a commit is durable against a process crash (the case
    // the server must survive) without an fsync per commit.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF;")
        .map_err(|e| e.to_string())?;
    // Enough statement slots that the hot statements are never re-prepared.
    conn.set_prepared_statement_cache_capacity(64);
    if !writer {
        return Ok(());
    }
    // Inbox keys are spread over all users: a larger page cache keeps the
    // writer's B-tree pages in memory instead of re-reading them (64 MiB).
    // Every write job runs in a savepoint, whose statement journal would
    // otherwise go to a temp file: one pwrite per touched page (profiled at
    // ~15% of the server's CPU under fan-out load).
    conn.execute_batch("PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")
        .map_err(|e| e.to_string())?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("could not enable WAL (journal_mode = {mode})"));
    }
    migrate(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(format!(
            "database schema version {version} is newer than this server ({known}); refusing to touch it"
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        tx.execute_batch(sql).map_err(|e| e.to_string())?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}
