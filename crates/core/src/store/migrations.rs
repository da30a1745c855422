//! Numbered schema migrations. Each runs in its own transaction and records its number in
//! `PRAGMA user_version`, so a crash mid-upgrade leaves the previous version intact. A
//! database from a newer imsync is refused before anything is written to it.

use rusqlite::Connection;

use crate::codes;
use crate::error::{ImError, ImResult};

const MIGRATIONS: &[&str] = &[
    // 1: messages, conversations, the search index and the type registry.
    r#"
    CREATE TABLE conversations (
        id              INTEGER PRIMARY KEY,
        type            INTEGER NOT NULL,
        target          TEXT    NOT NULL,
        channel         TEXT    NOT NULL DEFAULT '',
        next_seq        INTEGER NOT NULL DEFAULT 1,
        message_count   INTEGER NOT NULL DEFAULT 0,
        latest_id       INTEGER,
        latest_time     INTEGER NOT NULL DEFAULT 0,
        sort_time       INTEGER NOT NULL,
        unread_count    INTEGER NOT NULL DEFAULT 0,
        mention_count   INTEGER NOT NULL DEFAULT 0,
        is_top          INTEGER NOT NULL DEFAULT 0,
        level           INTEGER NOT NULL DEFAULT 0,
        draft           TEXT    NOT NULL DEFAULT '',
        operation_time  INTEGER NOT NULL DEFAULT 0,
        UNIQUE (type, target, channel)
    );
    CREATE INDEX conversations_by_time ON conversations (sort_time);
    CREATE INDEX conversations_by_top ON conversations (is_top, sort_time);

    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        conv_id         INTEGER NOT NULL,
        uid             TEXT,
        sender          TEXT    NOT NULL,
        object_name     TEXT    NOT NULL,
        content         TEXT    NOT NULL,
        direction       INTEGER NOT NULL,
        sent_time       INTEGER NOT NULL,
        received_time   INTEGER NOT NULL,
        sent_status     INTEGER NOT NULL,
        received_status INTEGER NOT NULL,
        unread          INTEGER NOT NULL DEFAULT 0,
        mentioned       INTEGER NOT NULL DEFAULT 0,
        flags           INTEGER NOT NULL DEFAULT 0,
        expansion       TEXT,
        extra           TEXT,
        client_id       TEXT
    );
    CREATE UNIQUE INDEX messages_by_uid ON messages (uid) WHERE uid IS NOT NULL;
    -- The outbox: the client id of every message this device sent, so a resend reuses it
    -- and the server's copy (acked or synced back) lands on the same row.
    CREATE UNIQUE INDEX messages_by_client_id ON messages (client_id) WHERE client_id IS NOT NULL;
    CREATE INDEX messages_by_time ON messages (conv_id, sent_time);
    CREATE INDEX messages_by_sender ON messages (conv_id, sender, sent_time);
    -- Text is most of any history and is found fastest by scanning the time index, so
    -- the type index leaves it out: one index write less for most inserts.
    CREATE INDEX messages_by_type ON messages (conv_id, object_name, sent_time)
        WHERE object_name <> 'RC:TxtMsg';
    CREATE INDEX messages_unread ON messages (conv_id, sent_time) WHERE unread = 1;

    CREATE VIRTUAL TABLE messages_fts USING fts5 (
        text, tokenize = 'imsync', content = '', contentless_delete = 1
    );

    CREATE TABLE message_types (
        name          TEXT PRIMARY KEY,
        persisted     INTEGER NOT NULL,
        counted       INTEGER NOT NULL,
        status        INTEGER NOT NULL,
        search_props  TEXT    NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    "#,
    // 2: conversation state synced from the server (pin, level, tags) and the unread sums.
    r#"
    -- A hidden row keeps a conversation's messages and synced settings while it is out of
    -- the list: removed by the user, or known only from a setting (a pinned conversation
    -- with no messages here yet). A new message shows it again.
    ALTER TABLE conversations ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
    -- getTotalUnreadCount and friends read only conversations that have something unread,
    -- and only this index (covering), so the sum does not walk every conversation.
    CREATE INDEX conversations_unread ON conversations (type, level, unread_count, mention_count)
        WHERE unread_count > 0 AND hidden = 0;

    -- The user's tags and conversation-tag links, as the server's settings snapshot has
    -- them. Links name conversations by key: a tag may hold conversations not stored here.
    CREATE TABLE tags (
        tag_id        TEXT PRIMARY KEY,
        name          TEXT    NOT NULL,
        created_time  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE conversation_tags (
        tag_id      TEXT    NOT NULL,
        type        INTEGER NOT NULL,
        target      TEXT    NOT NULL,
        channel     TEXT    NOT NULL,
        is_top      INTEGER NOT NULL DEFAULT 0,
        added_time  INTEGER NOT NULL,
        PRIMARY KEY (tag_id, type, target, channel)
    ) WITHOUT ROWID;
    CREATE INDEX conversation_tags_by_conversation ON conversation_tags (type, target, channel);
    "#,
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub fn user_version(conn: &Connection) -> ImResult<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Refuses (33002) a database written by a newer imsync, before anything writes to it.
pub fn refuse_newer(conn: &Connection) -> ImResult<()> {
    let current = user_version(conn)?;
    if current > LATEST {
        return Err(ImError::new(
            codes::DATABASE_ERROR,
            format!(
                "the database was written by a newer imsync (schema version {current}, this build \
                 knows up to {LATEST}); refusing to open it so it is not damaged: upgrade imsync"
            ),
        ));
    }
    Ok(())
}

/// Brings the schema to [`LATEST`].
pub fn migrate(conn: &mut Connection) -> ImResult<()> {
    refuse_newer(conn)?;
    let current = user_version(conn)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i64 + 1;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "database schema migrated");
    }
    Ok(())
}
