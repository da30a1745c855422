'use strict'
// A database file damaged on disk (issue 10 item 5), through the built addon: pages 2–4 of
// a closed database of a few thousand messages overwritten with garbage. Every write answers
// 33201 (DATABASE_CORRUPT) with a message that says how to recover and leaves the file and
// its WAL byte-identical; reads answer 33201 or still work; recoverDatabase() moves the
// files aside (never deleting them) and a fresh database works. On `service` it is a
// main-process call a window cannot reach.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const h = require('./electron/harness')
const { Engine, APPKEY, ME, T0, tmpDir, dbFileOf, settle, ok, fails, priv, txt } = require('./helpers/engine')

const DATABASE_CORRUPT = 33201

function engineAt(dir, appkey = APPKEY) {
  return new Engine({ appkey, dbpath: dir, logOutputLevel: 1 })
}

/** A closed database of 4,000 text messages over 20 conversations; returns one messageId. */
async function build(dir, appkey = APPKEY) {
  const engine = engineAt(dir, appkey)
  await ok(engine.open(ME), 'open')
  const first = await ok(engine.insertMessage(priv('u0'), txt('first')), 'insertMessage')
  for (let b = 0; b < 8; b++) {
    const batch = []
    for (let i = 0; i < 500; i++) {
      const k = b * 500 + i
      batch.push({
        conversationType: 1,
        targetId: `u${k % 20}`,
        messageType: 'RC:TxtMsg',
        messageDirection: 2,
        sentTime: T0 + k,
        content: { content: `message ${k}` },
      })
    }
    await ok(engine.batchInsertMessage(batch, false), 'batchInsertMessage')
  }
  await ok(engine.close(), 'close')
  return first.messageId
}

/** Overwrites pages 2–4 (page size from the file header) with deterministic garbage. */
function smashPages2to4(file) {
  const bytes = fs.readFileSync(file)
  const raw = bytes.readUInt16BE(16)
  const size = raw === 1 ? 65536 : raw
  let x = 0x9e3779b9
  for (let i = size; i < 4 * size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    bytes[i] = x & 0xff
  }
  fs.writeFileSync(file, bytes)
}

function readOrNull(file) {
  try {
    return fs.readFileSync(file)
  } catch {
    return null
  }
}

/** The database file and its WAL, byte for byte. */
function files(file) {
  return { db: fs.readFileSync(file), wal: readOrNull(`${file}-wal`) }
}

function assertSameFiles(a, b, label) {
  assert.ok(a.db.equals(b.db), `${label} changed the database file`)
  assert.ok((a.wal === null && b.wal === null) || (a.wal && b.wal && a.wal.equals(b.wal)), `${label} changed the WAL`)
}

const RECOVER_HINT = /damaged.*recoverDatabase\(\)/s

test('damaged pages: every write answers 33201 and changes no byte; recoverDatabase() starts a fresh database', async (t) => {
  const dir = tmpDir('damaged')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = dbFileOf(dir, APPKEY, ME)
  const messageId = await build(dir)
  smashPages2to4(file)

  const engine = engineAt(dir)
  t.after(() => engine.close())
  await fails(engine.open(ME), DATABASE_CORRUPT, RECOVER_HINT)
  const before = files(file)
  const writes = [
    ['insertMessage', () => engine.insertMessage(priv('u1'), txt('new'))],
    ['insertMessage (new conversation)', () => engine.insertMessage(priv('nobody-yet'), txt('new'))],
    [
      'batchInsertMessage',
      () =>
        engine.batchInsertMessage(
          [{ conversationType: 1, targetId: 'u2', messageType: 'RC:TxtMsg', content: { content: 'b' }, messageDirection: 2, sentTime: T0 }],
          false,
        ),
    ],
    ['registerMessageType', () => engine.registerMessageType('App:Custom', true, true)],
    ['setMessageSentStatus', () => engine.setMessageSentStatus(messageId, 50)],
    ['setMessageReceivedStatus', () => engine.setMessageReceivedStatus(messageId, 1)],
    ['deleteMessages', () => engine.deleteMessages([messageId])],
    ['clearMessages', () => engine.clearMessages(priv('u3'))],
    ['deleteMessagesByTimestamp', () => engine.deleteMessagesByTimestamp(priv('u4'), T0 + 1000, true)],
    ['saveTextMessageDraft', () => engine.saveTextMessageDraft(priv('u5'), 'draft')],
    ['clearMessagesUnreadStatus', () => engine.clearMessagesUnreadStatus(priv('u6'))],
    ['clearAllMessagesUnreadStatus', () => engine.clearAllMessagesUnreadStatus()],
    ['removeConversation', () => engine.removeConversation(priv('u7'))],
  ]
  for (const [label, call] of writes) {
    await fails(call(), DATABASE_CORRUPT, RECOVER_HINT)
    assertSameFiles(files(file), before, label)
  }
  const reads = [
    ['getHistoryMessages', () => engine.getHistoryMessages(priv('u1'), { count: 20 })],
    ['getMessageCount', () => engine.getMessageCount(priv('u1'))],
    ['getConversationList', () => engine.getConversationList(0, 50)],
    ['getTotalUnreadCount', () => engine.getTotalUnreadCount()],
    ['searchMessages', () => engine.searchMessages(priv('u1'), 'message', 0, 5)],
    ['getConversation', () => engine.getConversation(priv('u1'))],
  ]
  for (const [label, call] of reads) {
    const r = await settle(call)
    assert.ok(r.code === 0 || r.code === DATABASE_CORRUPT, `${label}: ${JSON.stringify(r)}`)
    if (r.code !== 0) assert.match(r.msg, RECOVER_HINT)
  }
  assertSameFiles(files(file), before, 'the reads')

  const damaged = files(file)
  const recovered = await ok(engine.recoverDatabase(), 'recoverDatabase')
  assert.equal(recovered.userId, ME)
  assert.equal(path.dirname(recovered.movedTo), path.dirname(file))
  assert.match(path.basename(recovered.movedTo), /^me\.db\.corrupt-\d+$/)
  assertSameFiles(files(recovered.movedTo), damaged, 'moving aside')
  // The fresh database is open and works.
  assert.equal(engine.userId, ME)
  assert.equal(await ok(engine.getMessageCount(priv('u1'))), 0)
  await ok(engine.insertMessage(priv('u1'), txt('after recovery')), 'insert after recovery')
  await ok(engine.registerMessageType('App:Custom', true, true), 'registerMessageType after recovery')
  assert.equal(await ok(engine.getMessageCount(priv('u1'))), 1)
  await ok(engine.close())
  assert.ok(fs.existsSync(recovered.movedTo), 'the damaged file is never deleted')
})

test('recoverDatabase() after open itself failed, and never on a healthy database', async (t) => {
  const dir = tmpDir('damaged-open')
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = dbFileOf(dir, APPKEY, ME)
  await build(dir)

  // Intact: refused, nothing moved, still writable.
  const healthy = engineAt(dir)
  await ok(healthy.open(ME))
  await fails(healthy.recoverDatabase(), 33204, 'not damaged')
  await ok(healthy.insertMessage(priv('u1'), txt('still writable')))
  await ok(healthy.close())
  assert.deepEqual(
    fs.readdirSync(path.dirname(file)).filter((n) => n.includes('corrupt')),
    [],
  )

  // The schema page overwritten: open fails, the engine still knows whom to recover.
  const bytes = fs.readFileSync(file)
  for (let i = 100; i < bytes.readUInt16BE(16); i++) bytes[i] = (i * 7 + 3) & 0xff
  fs.writeFileSync(file, bytes)
  const engine = engineAt(dir)
  t.after(() => engine.close())
  await fails(engine.open(ME), DATABASE_CORRUPT, RECOVER_HINT)
  assert.equal(engine.userId, null)
  await fails(engine.insertMessage(priv('u1'), txt('x')), DATABASE_CORRUPT, RECOVER_HINT)
  assert.ok(fs.readFileSync(file).equals(bytes))
  const recovered = await ok(engine.recoverDatabase(), 'recoverDatabase')
  assert.ok(fs.readFileSync(recovered.movedTo).equals(bytes))
  await ok(engine.insertMessage(priv('u1'), txt('x')), 'insert into the fresh database')
})

test('service.recoverDatabase works in main; a window cannot call it; ErrorCode names 33201–33203', async (t) => {
  const { service, spy, dbpath } = h.startService(t)
  await build(dbpath, h.APPKEY)
  smashPages2to4(dbFileOf(dbpath, h.APPKEY, ME))
  await fails(service.open(ME), DATABASE_CORRUPT, RECOVER_HINT)
  const win = await h.openWindow()
  const before = spy.calls.length
  const raw = await h.preloadWorld(win, `return await electron.ipcRenderer.invoke('imsync:call', 'recoverDatabase', [])`)
  assert.equal(raw.code, 33003, JSON.stringify(raw))
  assert.match(raw.msg, /not an imsync API method/)
  assert.equal((await service.call('recoverDatabase', [])).code, 33003)
  assert.equal(spy.calls.length, before, 'a refused recoverDatabase reached the engine')
  // The API object does not serve it: it answers 35004 in the window, like any such name.
  assert.deepEqual(
    await h.page(win, `return [(await imsync.recoverDatabase()).code, imsync.ErrorCode.DATABASE_CORRUPT, imsync.ErrorCode.DATABASE_DISK_FULL, imsync.ErrorCode.DATABASE_KEY_INVALID, imsync.ErrorCode.DATABASE_NOTHING_TO_RECOVER]`),
    [35004, 33201, 33202, 33203, 33204],
  )
  assert.equal(spy.calls.length, before, 'the API object\'s recoverDatabase reached the engine')
  // A window's write gets the same 33201 and its hint.
  const write = await h.page(win, `return await imsync.electronExtension.insertMessage({ conversationType: 1, targetId: 'u1' }, { messageType: 'RC:TxtMsg', content: { content: 'x' } })`)
  assert.equal(write.code, DATABASE_CORRUPT, JSON.stringify(write))

  const recovered = await ok(service.recoverDatabase(), 'service.recoverDatabase')
  assert.equal(recovered.userId, ME)
  assert.ok(fs.existsSync(recovered.movedTo))
  const after = await h.page(win, `return await imsync.electronExtension.insertMessage({ conversationType: 1, targetId: 'u1' }, { messageType: 'RC:TxtMsg', content: { content: 'x' } })`)
  assert.equal(after.code, 0, JSON.stringify(after))
})
