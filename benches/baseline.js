'use strict'
// The baseline: what an Electron developer would hand-write with better-sqlite3 for the
// same calls, running synchronously on the main thread. A messages table with the indexes
// the queries need, an FTS5 trigram index (external content, kept by triggers) for
// keywords of 3+ characters and a `LIKE '%kw%'` fallback for shorter ones, and a
// conversations table updated per inserted message in the batch's transaction.
// Results have the same shapes as imsync's (`{ code, data }`, parsed message content).

const Database = require('better-sqlite3')

const SCHEMA = `
CREATE TABLE IF NOT EXISTS conversations (
  id                INTEGER PRIMARY KEY,
  type              INTEGER NOT NULL,
  target_id         TEXT    NOT NULL,
  channel_id        TEXT    NOT NULL DEFAULT '',
  latest_message_id INTEGER,
  sort_time         INTEGER NOT NULL DEFAULT 0,
  unread_count      INTEGER NOT NULL DEFAULT 0,
  is_top            INTEGER NOT NULL DEFAULT 0,
  draft             TEXT    NOT NULL DEFAULT '',
  UNIQUE (type, target_id, channel_id)
);
CREATE INDEX IF NOT EXISTS conversations_by_time ON conversations (sort_time);

CREATE TABLE IF NOT EXISTS messages (
  id              INTEGER PRIMARY KEY,
  uid             TEXT UNIQUE,
  conv_id         INTEGER NOT NULL,
  sender          TEXT    NOT NULL,
  object_name     TEXT    NOT NULL,
  content         TEXT    NOT NULL,
  text            TEXT,
  direction       INTEGER NOT NULL,
  sent_time       INTEGER NOT NULL,
  received_time   INTEGER NOT NULL,
  sent_status     INTEGER NOT NULL,
  received_status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (conv_id, sent_time);

CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5 (
  text, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER IF NOT EXISTS messages_ai AFTER INSERT ON messages WHEN new.text IS NOT NULL BEGIN
  INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS messages_ad AFTER DELETE ON messages WHEN old.text IS NOT NULL BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
`

const MESSAGE_COLUMNS = `m.id AS m_id, m.uid AS m_uid, m.sender AS m_sender, m.object_name AS m_object_name,
  m.content AS m_content, m.direction AS m_direction, m.sent_time AS m_sent_time,
  m.received_time AS m_received_time, m.sent_status AS m_sent_status,
  m.received_status AS m_received_status`
const CONVERSATION_COLUMNS = `c.id AS c_id, c.type AS c_type, c.target_id AS c_target_id,
  c.channel_id AS c_channel_id, c.sort_time AS c_sort_time, c.unread_count AS c_unread_count,
  c.is_top AS c_is_top, c.draft AS c_draft`

function messageOf(r) {
  return {
    messageId: r.m_id,
    messageUId: r.m_uid || '',
    conversationType: r.c_type,
    targetId: r.c_target_id,
    channelId: r.c_channel_id,
    senderUserId: r.m_sender,
    messageType: r.m_object_name,
    content: JSON.parse(r.m_content),
    sentTime: r.m_sent_time,
    receivedTime: r.m_received_time,
    messageDirection: r.m_direction,
    sentStatus: r.m_sent_status,
    receivedStatus: r.m_received_status,
  }
}

function conversationOf(r) {
  return {
    conversationType: r.c_type,
    targetId: r.c_target_id,
    channelId: r.c_channel_id,
    unreadMessageCount: r.c_unread_count,
    latestMessage: r.m_id == null ? null : messageOf(r),
    isTop: !!r.c_is_top,
    draft: r.c_draft,
    sortTime: r.c_sort_time,
  }
}

/** Searchable text of a message, as the app would extract it. */
function searchText(m) {
  if (m.messageType === 'RC:TxtMsg' || m.messageType === 'RC:ReferenceMsg') return m.content.content ?? null
  if (m.messageType === 'RC:FileMsg') return m.content.name ?? null
  return null
}

function ftsPhrase(kw) {
  return `"${kw.replace(/"/g, '""')}"`
}

function likePattern(kw) {
  return `%${kw.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

class Baseline {
  constructor(file) {
    this.db = new Database(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(SCHEMA)
    const db = this.db
    this.findConv = db.prepare('SELECT id FROM conversations WHERE type = ? AND target_id = ? AND channel_id = ?')
    this.newConv = db.prepare('INSERT INTO conversations (type, target_id, channel_id) VALUES (?, ?, ?)')
    this.putMessage = db.prepare(
      `INSERT OR IGNORE INTO messages (uid, conv_id, sender, object_name, content, text, direction,
         sent_time, received_time, sent_status, received_status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.touchConv = db.prepare(
      `UPDATE conversations SET
         latest_message_id = CASE WHEN @time >= sort_time THEN @id ELSE latest_message_id END,
         sort_time = max(sort_time, @time),
         unread_count = unread_count + @unread
       WHERE id = @conv`,
    )
    this.insertBatch = db.transaction((messages) => {
      let inserted = 0
      for (const m of messages) {
        const channel = m.channelId || ''
        let conv = this.findConv.get(m.conversationType, m.targetId, channel)
        const convId = conv ? conv.id : this.newConv.run(m.conversationType, m.targetId, channel).lastInsertRowid
        const r = this.putMessage.run(
          m.messageUId ?? null,
          convId,
          m.senderUserId,
          m.messageType,
          JSON.stringify(m.content),
          searchText(m),
          m.messageDirection,
          m.sentTime,
          m.receivedTime ?? m.sentTime,
          m.sentStatus ?? 30,
          m.receivedStatus ?? 0,
        )
        if (r.changes === 0) continue
        inserted++
        const unread = m.messageDirection === 2 && !(m.receivedStatus & 1) ? 1 : 0
        this.touchConv.run({ id: r.lastInsertRowid, time: m.sentTime, unread, conv: convId })
      }
      return { inserted, duplicates: messages.length - inserted }
    })

    const fromMessages = `FROM messages m JOIN conversations c ON c.id = m.conv_id`
    this.history = db.prepare(
      `SELECT ${MESSAGE_COLUMNS}, ${CONVERSATION_COLUMNS} ${fromMessages}
       WHERE m.conv_id = ? AND m.sent_time < ? ORDER BY m.sent_time DESC LIMIT ?`,
    )
    // One statement per search: the page and the total (a window count) in one pass.
    this.searchFts = db.prepare(
      `SELECT ${MESSAGE_COLUMNS}, ${CONVERSATION_COLUMNS}, count(*) OVER () AS total ${fromMessages}
       WHERE m.conv_id = ? AND m.sent_time < ?
         AND m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)
       ORDER BY m.sent_time DESC LIMIT ?`,
    )
    this.searchLike = db.prepare(
      `SELECT ${MESSAGE_COLUMNS}, ${CONVERSATION_COLUMNS}, count(*) OVER () AS total ${fromMessages}
       WHERE m.conv_id = ? AND m.sent_time < ? AND m.text LIKE ? ESCAPE '\\'
       ORDER BY m.sent_time DESC LIMIT ?`,
    )
    const convWithLatest = `SELECT ${CONVERSATION_COLUMNS}, ${MESSAGE_COLUMNS}
       FROM conversations c LEFT JOIN messages m ON m.id = c.latest_message_id`
    this.convsFts = db.prepare(
      `${convWithLatest} WHERE c.id IN (
         SELECT m2.conv_id FROM messages m2
         WHERE m2.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)
           AND m2.object_name IN (SELECT value FROM json_each(?)))
       ORDER BY c.sort_time DESC`,
    )
    this.convsLike = db.prepare(
      `${convWithLatest} WHERE c.id IN (
         SELECT m2.conv_id FROM messages m2
         WHERE m2.text LIKE ? ESCAPE '\\' AND m2.object_name IN (SELECT value FROM json_each(?)))
       ORDER BY c.sort_time DESC`,
    )
    this.convList = db.prepare(`${convWithLatest} WHERE c.sort_time < ? ORDER BY c.sort_time DESC LIMIT ?`)
  }

  convId(conversation) {
    const r = this.findConv.get(conversation.conversationType, conversation.targetId, conversation.channelId || '')
    return r ? r.id : null
  }

  batchInsertMessage(messages) {
    return { code: 0, data: this.insertBatch(messages) }
  }

  getHistoryMessages(conversation, { timestamp = 0, count = 20 } = {}) {
    const id = this.convId(conversation)
    if (id == null) return { code: 0, data: { list: [], hasMore: false } }
    const rows = this.history.all(id, timestamp || Number.MAX_SAFE_INTEGER, count + 1)
    const hasMore = rows.length > count
    return { code: 0, data: { list: rows.slice(0, count).map(messageOf), hasMore } }
  }

  searchMessages(conversation, keyword, startTime, count) {
    const id = this.convId(conversation)
    if (id == null) return { code: 0, data: { messages: [], count: 0 } }
    const before = startTime || Number.MAX_SAFE_INTEGER
    const rows =
      [...keyword].length >= 3
        ? this.searchFts.all(id, before, ftsPhrase(keyword), count)
        : this.searchLike.all(id, before, likePattern(keyword), count)
    return { code: 0, data: { messages: rows.map(messageOf), count: rows.length ? rows[0].total : 0 } }
  }

  searchConversationByContent(keyword, messageTypes) {
    const types = JSON.stringify(messageTypes)
    const rows =
      [...keyword].length >= 3
        ? this.convsFts.all(ftsPhrase(keyword), types)
        : this.convsLike.all(likePattern(keyword), types)
    return { code: 0, data: rows.map(conversationOf) }
  }

  getConversationList(startTime, count) {
    const rows = this.convList.all(startTime || Number.MAX_SAFE_INTEGER, count)
    return { code: 0, data: rows.map(conversationOf) }
  }

  /** Checkpoints the WAL into the main file and closes. */
  close() {
    this.db.pragma('wal_checkpoint(TRUNCATE)')
    this.db.close()
  }
}

module.exports = { Baseline }
