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
    -- getUnreadConversationList walks only the conversations with something unread.
    CREATE INDEX conversations_unread ON conversations (sort_time)
        WHERE unread_count > 0 AND hidden = 0;

    -- Unread and mention sums of the listed conversations per (type, muted), kept by the
    -- triggers below in the same transaction as every change to a conversation row, so
    -- getTotalUnreadCount reads a few rows however many conversations there are. Muted =
    -- a notification level other than ALL_MESSAGE (-1) and NOT_SET (0).
    CREATE TABLE unread_totals (
        type      INTEGER NOT NULL,
        muted     INTEGER NOT NULL,
        unread    INTEGER NOT NULL DEFAULT 0,
        mentions  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (type, muted)
    ) WITHOUT ROWID;
    INSERT INTO unread_totals (type, muted)
        SELECT t.value, m.value FROM json_each('[1, 2, 3, 4, 5, 6, 10]') t, json_each('[0, 1]') m;
    UPDATE unread_totals SET
        unread = (SELECT coalesce(sum(c.unread_count), 0) FROM conversations c WHERE c.hidden = 0
                  AND c.type = unread_totals.type AND (c.level NOT IN (-1, 0)) = unread_totals.muted),
        mentions = (SELECT coalesce(sum(c.mention_count), 0) FROM conversations c WHERE c.hidden = 0
                  AND c.type = unread_totals.type AND (c.level NOT IN (-1, 0)) = unread_totals.muted);
    CREATE TRIGGER unread_totals_insert AFTER INSERT ON conversations
    WHEN NEW.hidden = 0 AND (NEW.unread_count <> 0 OR NEW.mention_count <> 0)
    BEGIN
        UPDATE unread_totals SET unread = unread + NEW.unread_count,
            mentions = mentions + NEW.mention_count
        WHERE type = NEW.type AND muted = (NEW.level NOT IN (-1, 0));
    END;
    CREATE TRIGGER unread_totals_update
    AFTER UPDATE OF type, unread_count, mention_count, level, hidden ON conversations
    WHEN OLD.unread_count <> NEW.unread_count OR OLD.mention_count <> NEW.mention_count
        OR OLD.level <> NEW.level OR OLD.hidden <> NEW.hidden OR OLD.type <> NEW.type
    BEGIN
        UPDATE unread_totals SET unread = unread - OLD.unread_count * (OLD.hidden = 0),
            mentions = mentions - OLD.mention_count * (OLD.hidden = 0)
        WHERE type = OLD.type AND muted = (OLD.level NOT IN (-1, 0));
        UPDATE unread_totals SET unread = unread + NEW.unread_count * (NEW.hidden = 0),
            mentions = mentions + NEW.mention_count * (NEW.hidden = 0)
        WHERE type = NEW.type AND muted = (NEW.level NOT IN (-1, 0));
    END;
    CREATE TRIGGER unread_totals_delete AFTER DELETE ON conversations WHEN OLD.hidden = 0
    BEGIN
        UPDATE unread_totals SET unread = unread - OLD.unread_count,
            mentions = mentions - OLD.mention_count
        WHERE type = OLD.type AND muted = (OLD.level NOT IN (-1, 0));
    END;

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
    // 3: the public-service conversation types (7, 8) get their unread sums; until now they
    // were refused, so no conversation of theirs exists to count.
    r#"
    INSERT OR IGNORE INTO unread_totals (type, muted)
        SELECT t.value, m.value FROM json_each('[7, 8]') t, json_each('[0, 1]') m;
    "#,
    // 4: the messages still SENDING (a handful at most): the outbox and the check at open for
    // media uploads the app quit in the middle of read them without scanning every message.
    r#"
    CREATE INDEX messages_sending ON messages (id) WHERE sent_status = 10;
    "#,
    // 5: the search backlog (see store/search_index.rs): text of messages written since the
    // writer last fed FTS5, searched exactly until it is indexed in a large batch. FTS5
    // keeps a batch in memory until its commit (64 MiB instead of 1 MiB), so one batch
    // becomes one segment.
    r#"
    CREATE TABLE fts_pending (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', 67108864);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_upgrades_with_its_unread_totals() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v1.db")).unwrap();
        crate::store::tokenizer::register(&conn).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO conversations (type, target, sort_time, unread_count, mention_count, level)
             VALUES (1, 'a', 1, 3, 0, 0), (3, 'g', 2, 4, 2, 0), (3, 'm', 3, 5, 1, 5);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(user_version(&conn).unwrap(), LATEST);
        let (unread, mentions): (i64, i64) = conn
            .query_row(
                "SELECT sum(unread), sum(mentions) FROM unread_totals WHERE muted = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((unread, mentions), (7, 2));
        let muted: i64 = conn
            .query_row(
                "SELECT unread FROM unread_totals WHERE type = 3 AND muted = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(muted, 5);
        let hidden: i64 = conn
            .query_row("SELECT sum(hidden) FROM conversations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(hidden, 0, "existing conversations stay listed");
    }
}
