'use strict'
// A full disk, for real, through the built addon (issue 10 item 6): the database lives on a
// 4 MB tmpfs that a filler file fills. Reopened there, the database opens read-only: every
// read answers exactly as before, every write answers 33202 (DATABASE_DISK_FULL) and changes
// no byte; once space is freed the next write works without reopening. Needs
// `mount -t tmpfs` (root, as in CI); skipped with the reason where it is unavailable.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { spawnSync } = require('node:child_process')

const { Engine, APPKEY, ME, T0, tmpDir, dbFileOf, ok, fails, priv, txt, snapshot } = require('./helpers/engine')

const DATABASE_DISK_FULL = 33202

/** Mounts a tmpfs of `size` on a fresh directory; returns it, or the reason it cannot. */
function mountSmallDisk(t, size) {
  const dir = tmpDir('disk-full')
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true })
    return { skip: `cannot mount a size-limited tmpfs here (${r.error ? r.error.message : r.stderr.trim()}); needs root, as in CI` }
  }
  t.after(() => {
    if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir])
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return { dir }
}

/** Writes a filler file until the file system refuses another byte (ENOSPC). */
function fill(dir) {
  const fd = fs.openSync(`${dir}/filler`, 'w')
  try {
    for (const size of [65536, 4096, 1]) {
      const buf = Buffer.alloc(size)
      for (;;) {
        try {
          fs.writeSync(fd, buf)
        } catch (e) {
          if (e.code === 'ENOSPC') break
          throw e
        }
      }
    }
    assert.throws(() => fs.writeSync(fd, Buffer.alloc(1)), { code: 'ENOSPC' }, 'the disk must be full')
  } finally {
    fs.closeSync(fd)
  }
}

function files(file) {
  let wal = null
  try {
    wal = fs.readFileSync(`${file}-wal`)
  } catch {}
  return { db: fs.readFileSync(file), wal }
}

function sameFiles(a, b) {
  return a.db.equals(b.db) && ((a.wal === null && b.wal === null) || (a.wal !== null && b.wal !== null && a.wal.equals(b.wal)))
}

const FULL_HINT = /full.*disk space/s

test('reopened on a full disk: reads answer as before, writes 33202 until space is freed', async (t) => {
  const disk = mountSmallDisk(t, '4m')
  if (disk.skip) return t.skip(disk.skip)
  const file = dbFileOf(disk.dir, APPKEY, ME)
  const first = new Engine({ appkey: APPKEY, dbpath: disk.dir, logOutputLevel: 1 })
  await ok(first.open(ME))
  const batch = []
  for (let k = 0; k < 400; k++) {
    batch.push({ conversationType: 1, targetId: `u${k % 10}`, messageType: 'RC:TxtMsg', messageDirection: 2, sentTime: T0 + k, content: { content: `message ${k} 你好` } })
  }
  await ok(first.batchInsertMessage(batch, false))
  const mine = await ok(first.insertMessage(priv('u1'), txt('one of mine')))
  const before = await snapshot(first)
  const searchBefore = await ok(first.searchMessages(priv('u1'), '你好', 0, 20))
  await ok(first.close())

  fill(disk.dir)
  const engine = new Engine({ appkey: APPKEY, dbpath: disk.dir, logOutputLevel: 1 })
  t.after(() => engine.close())
  await ok(engine.open(ME), 'open on a full disk')
  assert.deepEqual(await snapshot(engine), before, 'reads on a full disk')
  assert.deepEqual(await ok(engine.searchMessages(priv('u1'), '你好', 0, 20)), searchBefore)

  const untouched = files(file)
  for (const [label, call] of [
    ['insertMessage', () => engine.insertMessage(priv('u1'), txt('new'))],
    ['batchInsertMessage', () => engine.batchInsertMessage(batch.slice(0, 5).map((m) => ({ ...m, sentTime: m.sentTime + 10000 })), false)],
    ['deleteMessages', () => engine.deleteMessages([mine.messageId])],
    ['setMessageReceivedStatus', () => engine.setMessageReceivedStatus(mine.messageId, 1)],
    ['saveTextMessageDraft', () => engine.saveTextMessageDraft(priv('u2'), 'draft')],
    ['clearMessages', () => engine.clearMessages(priv('u3'))],
  ]) {
    await fails(call(), DATABASE_DISK_FULL, FULL_HINT)
    assert.ok(sameFiles(files(file), untouched), `${label} changed the database files`)
  }
  assert.deepEqual(await snapshot(engine), before, 'reads after the refused writes')

  // Space freed: the next write starts the writer; no reopen.
  fs.rmSync(`${disk.dir}/filler`)
  const added = await ok(engine.insertMessage(priv('u1'), txt('after space was freed')), 'write once space is freed')
  const page = await ok(engine.getHistoryMessages(priv('u1'), { count: 1 }))
  assert.equal(page.list[0].messageId, added.messageId)
  await ok(engine.saveTextMessageDraft(priv('u2'), 'draft'))
  assert.equal(await ok(engine.getTextMessageDraft(priv('u2'))), 'draft')
})
