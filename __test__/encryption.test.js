'use strict'
// The encrypted local database through the built addon: `encryptionKey` on the native Engine
// and through init(), what the file looks like on disk, 33203 for a wrong / missing /
// unneeded key with the file left byte-identical, `rekey` and `encryptDatabase` on the
// Engine and on `service` (every call keeps working and answers the same), a window calling
// them gets the allow-list refusal, and no key ever reaches the log file at DEBUG level.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const h = require('./electron/harness')
const e = require('./helpers/engine')
const { ok, fails, priv } = e

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1')
/** Text that must never appear in an encrypted file (and does appear in a plain one). */
const MARKER = 'plaintext-marker-4b1d9e 明文标记'
/** Every key any test here uses: none may appear in the log. */
const KEYS = {
  a: 'js-key-alpha-61c0f3',
  b: 'js-key-bravo-9a27de',
  wrong: 'js-key-wrong-3e8b55',
  migrated: 'js-key-migrated-c47a10',
  service: 'js-key-service-18f6b2',
  serviceNew: 'js-key-service-new-70d9ac',
}

// The log subscriber is process-wide: the first engine of this process picks the log file,
// so it is created here, at DEBUG, before any test runs.
const LOG_ROOT = e.tmpDir('enc-log')
const logEngine = new e.Engine({ appkey: 'log', dbpath: LOG_ROOT, logOutputLevel: 4 })
const LOG_FILE = path.join(LOG_ROOT, 'imsync', 'imsync.log')

function engine(dbpath, key, appkey = e.APPKEY) {
  const o = { appkey, dbpath, logOutputLevel: 4 }
  if (key !== undefined) o.encryptionKey = key
  return new e.Engine(o)
}

async function fill(engine) {
  const batch = []
  for (let i = 0; i < 40; i++) {
    batch.push({
      conversationType: 1,
      targetId: `u${i % 3}`,
      messageType: 'RC:TxtMsg',
      content: { content: i === 7 ? MARKER : `message ${i} 你好世界 ${i % 5 === 0 ? '会议' : 'chat'}` },
      messageDirection: 2,
      senderUserId: `u${i % 3}`,
      sentTime: e.T0 + i * 1000,
      messageUId: `JS-UID-${i}`,
    })
  }
  const r = await ok(engine.batchInsertMessage(batch, false), 'batchInsertMessage')
  assert.equal(r.inserted, 40)
}

/** The answers a user sees: searches (CJK 1- and 2-character ones included) and the list. */
async function answers(engine) {
  const out = { conversations: await ok(engine.getAllConversationList()) }
  for (const kw of ['你', '世界', '会议', 'marker', 'message 1', 'absent']) {
    out[`conv:${kw}`] = await ok(engine.searchConversationByContent(kw, []))
    for (const t of ['u0', 'u1', 'u2']) out[`${t}:${kw}`] = await ok(engine.searchMessages(priv(t), kw, 0, 100))
  }
  return out
}

function cleanup(t, dir) {
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
}

/** Every file beside the database, with its bytes. */
function folderBytes(dbFile) {
  const dir = path.dirname(dbFile)
  return Object.fromEntries(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n))]))
}

test('with encryptionKey the file has no SQLite header, no plaintext, and opens only with the key', async (t) => {
  const dir = e.tmpDir('enc')
  cleanup(t, dir)
  const file = e.dbFileOf(dir, e.APPKEY, e.ME)

  const enc = engine(dir, KEYS.a)
  await ok(enc.open(e.ME))
  await fill(enc)
  const before = await answers(enc)
  assert.ok(before['u1:你'].count > 0 && before['conv:会议'].length > 0, 'search works under SQLCipher')
  await ok(enc.close())

  const bytes = fs.readFileSync(file)
  assert.notDeepEqual(bytes.subarray(0, 16), SQLITE_HEADER)
  assert.equal(bytes.includes(Buffer.from('plaintext-marker')), false, 'message text is readable in the file')
  assert.equal(bytes.includes(Buffer.from('JS-UID-')), false)

  // The same check can fail: a plain database shows both.
  const plainDir = e.tmpDir('enc-plain')
  cleanup(t, plainDir)
  const plain = engine(plainDir)
  await ok(plain.open(e.ME))
  await fill(plain)
  await ok(plain.close())
  const plainBytes = fs.readFileSync(e.dbFileOf(plainDir, e.APPKEY, e.ME))
  assert.deepEqual(plainBytes.subarray(0, 16), SQLITE_HEADER)

  // Without the key, or with another one: 33203, and not a byte changed.
  const files = folderBytes(file)
  await fails(engine(dir).open(e.ME), 33203, 'encrypted', 'encryptionKey')
  await fails(engine(dir, KEYS.wrong).open(e.ME), 33203, 'key is wrong')
  assert.deepEqual(folderBytes(file), files, 'a refused open changed the files')
  // A key for a plain database: 33203 too, nothing changed.
  const plainFiles = folderBytes(e.dbFileOf(plainDir, e.APPKEY, e.ME))
  await fails(engine(plainDir, KEYS.a).open(e.ME), 33203, 'not encrypted')
  assert.deepEqual(folderBytes(e.dbFileOf(plainDir, e.APPKEY, e.ME)), plainFiles)

  const again = engine(dir, KEYS.a)
  await ok(again.open(e.ME))
  assert.deepEqual(await answers(again), before)
  await ok(again.close())
})

test('encryptionKey is checked: a bad value throws 33003 without quoting it', () => {
  for (const bad of ['', 42, "x'abcd'", 'a\0b']) {
    assert.throws(
      () => engine(LOG_ROOT, bad),
      (err) => /options\.encryptionKey/.test(err.message) && /33003/.test(err.message) && !err.message.includes("x'abcd'"),
    )
  }
})

test('rekey on the native Engine: every call keeps working, the old key no longer opens', async (t) => {
  const dir = e.tmpDir('enc-rekey')
  cleanup(t, dir)
  const enc = engine(dir, KEYS.a)
  await ok(enc.open(e.ME))
  await fill(enc)
  const before = await answers(enc)
  // Calls in flight around the rekey still answer.
  const racing = Array.from({ length: 10 }, () => enc.searchMessages(priv('u1'), '你', 0, 100))
  await ok(enc.rekey(KEYS.b), 'rekey')
  for (const r of await Promise.all(racing)) assert.equal(r.code, 0, JSON.stringify(r))
  const [x, y] = await Promise.all([answers(enc), answers(enc)])
  assert.deepEqual(x, before)
  assert.deepEqual(y, before)
  await ok(enc.insertMessage(priv('u9'), e.txt('after the rekey 钥匙')))
  assert.equal((await ok(enc.searchMessages(priv('u9'), '钥匙', 0, 10))).count, 1)
  await ok(enc.close())

  await fails(engine(dir, KEYS.a).open(e.ME), 33203, 'key is wrong')
  const reopened = engine(dir, KEYS.b)
  await ok(reopened.open(e.ME))
  assert.equal((await ok(reopened.searchMessages(priv('u9'), '钥匙', 0, 10))).count, 1)
  // rekey needs an encrypted database; encryptDatabase a plain one.
  await fails(reopened.encryptDatabase(KEYS.a), 33206, 'already encrypted')
  await fails(reopened.rekey(''), 33003, 'newKey')
  await ok(reopened.close())
})

test('encryptDatabase migrates a plain database: same answers, the next open needs the key', async (t) => {
  const dir = e.tmpDir('enc-migrate')
  cleanup(t, dir)
  const file = e.dbFileOf(dir, e.APPKEY, e.ME)
  const plain = engine(dir)
  await ok(plain.open(e.ME))
  await fill(plain)
  await ok(plain.saveTextMessageDraft(priv('u1'), 'a draft'))
  await fails(plain.rekey(KEYS.b), 33205, 'not encrypted')
  const before = await answers(plain)
  const snap = await e.snapshot(plain)

  await ok(plain.encryptDatabase(KEYS.migrated), 'encryptDatabase')
  assert.deepEqual(await answers(plain), before)
  assert.deepEqual(await e.snapshot(plain), snap)
  assert.equal(await ok(plain.getTextMessageDraft(priv('u1'))), 'a draft')
  await ok(plain.close())

  const bytes = fs.readFileSync(file)
  assert.notDeepEqual(bytes.subarray(0, 16), SQLITE_HEADER)
  assert.equal(bytes.includes(Buffer.from('plaintext-marker')), false)
  assert.deepEqual(fs.readdirSync(path.dirname(file)), [`${e.ME}.db`], 'a temporary file was left behind')
  await fails(engine(dir).open(e.ME), 33203)
  const keyed = engine(dir, KEYS.migrated)
  await ok(keyed.open(e.ME))
  assert.deepEqual(await answers(keyed), before)
  await ok(keyed.close())
})

test('service.rekey / service.encryptDatabase work in main; a window calling them is refused', async (t) => {
  const { service, spy, dbpath } = h.startService(t, { encryptionKey: KEYS.service, logOutputLevel: 4 })
  await ok(service.open('alice'))
  await ok(service.engine.insertMessage(priv('bob'), e.txt('hello from main')))
  const win = await h.openWindow()
  const before = spy.calls.length
  for (const [method, arg] of [
    ['rekey', KEYS.wrong],
    ['encryptDatabase', KEYS.wrong],
  ]) {
    const raw = await h.preloadWorld(win, `return await electron.ipcRenderer.invoke('imsync:call', '${method}', ['${arg}'])`)
    assert.equal(raw.code, 33003, `${method}: ${JSON.stringify(raw)}`)
    assert.match(raw.msg, /not an imsync API method/)
    // Nor through main's call(), which applies the renderer's rules.
    assert.equal((await service.call(method, [arg])).code, 33003)
  }
  assert.equal(spy.calls.length, before, 'a refused key call reached the engine')
  // The renderer API object does not serve them: like any name it does not serve, they
  // answer 35004 in the window without reaching main.
  const viaApi = await h.page(win, `return [await imsync.rekey('k'), await imsync.encryptDatabase('k')]`)
  for (const r of viaApi) assert.equal(r.code, 35004, JSON.stringify(r))
  assert.equal(spy.calls.length, before, 'the API object\'s key calls reached the engine')

  await ok(service.rekey(KEYS.serviceNew), 'service.rekey')
  // The window's calls keep working after the rekey.
  const list = await h.page(win, `return await imsync.electronExtension.searchMessages({ conversationType: 1, targetId: 'bob' }, 'hello', 0, 10)`)
  assert.equal(list.code, 0, JSON.stringify(list))
  assert.equal(list.data.count, 1)
  await fails(service.encryptDatabase(KEYS.wrong), 33206, 'already encrypted')

  await service.destroy()
  await fails(engine(dbpath, KEYS.service, h.APPKEY).open('alice'), 33203, 'key is wrong')
  const next = engine(dbpath, KEYS.serviceNew, h.APPKEY)
  await ok(next.open('alice'))
  await ok(next.close())
})

test('service.encryptDatabase on a plain database', async (t) => {
  const { service, dbpath } = h.startService(t, { logOutputLevel: 4 })
  await ok(service.open('carol'))
  await ok(service.engine.insertMessage(priv('dave'), e.txt('to be encrypted')))
  await ok(service.encryptDatabase(KEYS.service), 'service.encryptDatabase')
  const found = await ok(service.engine.searchMessages(priv('dave'), 'encrypted', 0, 10))
  assert.equal(found.count, 1)
  await service.destroy()
  const file = e.dbFileOf(dbpath, h.APPKEY, 'carol')
  assert.notDeepEqual(fs.readFileSync(file).subarray(0, 16), SQLITE_HEADER)
  await fails(new e.Engine({ appkey: h.APPKEY, dbpath, logOutputLevel: 4 }).open('carol'), 33203)
})

test('no key ever reaches the log file (DEBUG level)', async () => {
  await ok(logEngine.close())
  const log = fs.readFileSync(LOG_FILE, 'utf8')
  // The log was written through the calls above, so its silence about keys means something.
  for (const line of ['user database opened', 'database key changed', 'database encrypted']) {
    assert.ok(log.includes(line), `the log lacks ${JSON.stringify(line)}`)
  }
  for (const key of Object.values(KEYS)) assert.equal(log.includes(key), false, `the log contains ${key}`)
  fs.rmSync(LOG_ROOT, { recursive: true, force: true })
})
