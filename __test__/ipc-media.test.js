'use strict'
// Media messages (issue 12; seed 002 "语法糖"), end to end: imsync-server on loopback; alice's
// engine in the main process (js/main.js), her sends made by the vendor's senders in a secure
// window (contextIsolation + sandbox) of the test `electron` stand-in; bob is a native Engine.
// - each media type from the window: a chosen File (crosses as its path) or a page Blob
//   (crosses in chunks); progress monotonic to 100; bob receives it and downloads
//   byte-identical data (sha256); the image thumbnail is a JPEG of at most 240 px;
// - onComplete returning another message sends that one instead;
// - bad input (no file, empty Blob, voice without duration) answers 33003 and stores nothing;
// - a file over the server's limit ends FAILED with 34011;
// - an upload cut mid-way (the link refuses every retry) ends FAILED 34011 and a resend with
//   options.messageId uploads again from the message's localPath and completes.
// No sleeps for ordering: every wait ends on an event or a reply.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const zlib = require('node:zlib')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { relay } = require('./helpers/relay')
const { Engine } = require('../index.js')

const SECRET = 'media-secret'
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex')

/** A real PNG (RGB gradient), encoded here so the test needs no image library. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (buf) => {
    let c = 0xffffffff
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type), data])
    const sum = Buffer.alloc(4)
    sum.writeUInt32BE(crc(body))
    return Buffer.concat([len, body, sum])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8
  ihdr[9] = 2
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = y * (width * 3 + 1) + 1 + x * 3
      raw[o] = (x * 255) / width
      raw[o + 1] = (y * 255) / height
      raw[o + 2] = 128
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

/** The width and height in a JPEG's SOF marker. */
function jpegSize(buf) {
  assert.equal(buf.readUInt16BE(0), 0xffd8, 'a JPEG starts with SOI')
  let at = 2
  while (at < buf.length) {
    const marker = buf.readUInt16BE(at)
    const len = buf.readUInt16BE(at + 2)
    if (marker >= 0xffc0 && marker <= 0xffc3) return { height: buf.readUInt16BE(at + 5), width: buf.readUInt16BE(at + 7) }
    at += 2 + len
  }
  throw new Error('no SOF marker')
}

/** Runs `imsync.<method>(...args)` in the window's page world; resolves the envelope. */
const call = (win, method, args = []) => h.page(win, `return await imsync.${method}(...${JSON.stringify(args)})`, 30000)

async function bobOf(t, server, options = {}) {
  const dbpath = h.tmpDir('media-bob')
  const engine = new Engine({ appkey: h.APPKEY, dbpath, serverUrl: server.url, logOutputLevel: 1, ...options })
  engine.onEvent(() => {})
  const tap = tapOf(engine)
  t.after(async () => {
    await engine.disconnect()
    await engine.close()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  assert.equal((await engine.connect(await server.getToken('bob'))).code, 0)
  return { engine, tap }
}

test('media from a window: every type uploads, reaches bob, downloads byte-identical; hooks; bad input; over the limit', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET, args: ['--max-file-size', String(3 * 1024 * 1024)] })
  const { dbpath } = h.startService(t, { serverUrl: server.url })
  const win = await h.openWindow()
  await h.page(win, `globalThis.progress = {}; imsync.addEventListener(imsync.Events.MEDIA_PROGRESS, (e) => (progress[e.transferId] ||= []).push(e.progress))`)
  assert.equal((await call(win, 'connect', [await server.getToken('alice')])).code, 0)
  const bob = await bobOf(t, server)
  const files = h.tmpDir('media-files')
  t.after(() => fs.rmSync(files, { recursive: true, force: true }))
  const toBob = { conversationType: 1, targetId: 'bob' }

  const image = png(1200, 800)
  fs.writeFileSync(path.join(files, 'photo.png'), image)
  const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')
  fs.writeFileSync(path.join(files, 'spin.gif'), gif)
  const voice = crypto.randomBytes(40_000)
  fs.writeFileSync(path.join(files, 'note.aac'), voice)
  // The page builds the same bytes: (i * 7 + 3) mod 256.
  const DOC_BYTES = 1_500_000
  const document = Buffer.from(Uint8Array.from({ length: DOC_BYTES }, (_, i) => (i * 7 + 3) & 255))

  // Each sender from the page, with the seed's arguments; collect progress per send.
  const cases = [
    ['sendImageMessage', `__imsyncTestChooseFile(${JSON.stringify(path.join(files, 'photo.png'))}, 'image/png')`, '{}', 'RC:ImgMsg', 'imageUri', image],
    ['sendGIFMessage', `__imsyncTestChooseFile(${JSON.stringify(path.join(files, 'spin.gif'))}, 'image/gif')`, '{}', 'RC:GIFMsg', 'remoteUrl', gif],
    // A Blob made in the page has no path: it crosses in chunks.
    ['sendFileMessage', `new File([Uint8Array.from({ length: ${DOC_BYTES} }, (_, i) => (i * 7 + 3) & 255)], 'report.bin')`, '{ extra: "e" }', 'RC:FileMsg', 'fileUrl', document],
    ['sendHQVoiceMessage', `__imsyncTestChooseFile(${JSON.stringify(path.join(files, 'note.aac'))})`, '{ duration: 7 }', 'RC:HQVCMsg', 'remoteUrl', voice],
    ['sendSightMessage', `__imsyncTestChooseFile(${JSON.stringify(path.join(files, 'note.aac'))})`, '{ duration: 3, thumbnail: "AAAA" }', 'RC:SightMsg', 'sightUrl', voice],
  ]
  for (const [sender, fileExpr, body, messageType, urlField, bytes] of cases) {
    const r = await h.page(
      win,
      `const seen = []
      const file = ${fileExpr}
      const r = await imsync.${sender}({ conversationType: 1, targetId: 'bob' }, { file, ...${body} }, { onProgress: (p) => seen.push(p), onComplete: (info) => { globalThis.lastInfo = info } })
      return { r, seen, info: globalThis.lastInfo }`,
      30000,
    )
    assert.equal(r.r.code, 0, `${sender}: ${JSON.stringify(r.r)}`)
    const sent = r.r.data
    assert.equal(sent.messageType, messageType)
    assert.equal(sent.sentStatus, 30, `${sender} is SENT`)
    const url = sent.content[urlField]
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/media\/file\/[0-9a-f]{32}\//, `${sender}: ${urlField}`)
    assert.equal(r.info.url, url)
    assert.equal(r.info.size, bytes.length)
    assert.ok(r.seen.length >= 1 && r.seen.at(-1) === 100, `${sender}: progress ends at 100: ${r.seen}`)
    assert.deepEqual(r.seen, [...r.seen].sort((a, b) => a - b), `${sender}: progress is monotonic`)
    assert.equal(sent.localPath && fs.existsSync(sent.localPath), true, `${sender}: the sender's copy has a localPath`)
    assert.ok(!JSON.stringify(sent.content).includes(dbpath) && !JSON.stringify(sent.content).includes(files), 'no local path in the content')

    // bob receives it and downloads byte-identical data, with progress.
    const got = await bob.tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === sent.messageUId), `bob receives ${messageType}`)
    const m = got.payload.messages.find((x) => x.messageUId === sent.messageUId)
    assert.equal(m.content[urlField], url)
    const dl = await bob.engine.downloadMediaMessage(m.messageId)
    assert.equal(dl.code, 0, JSON.stringify(dl))
    assert.equal(sha256(fs.readFileSync(dl.data.localPath)), sha256(bytes), `${sender}: downloaded bytes`)
    assert.equal(dl.data.message.localPath, dl.data.localPath)
    assert.equal(dl.data.message.receivedStatusInfo.isDownload, true)
    const again = await bob.engine.getMessage(m.messageId)
    assert.equal(again.data.localPath, dl.data.localPath, 'the path is recorded on the message')
  }
  const lastImage = (await call(win, 'getHistoryMessages', [toBob, { count: 20 }])).data.list.find((m) => m.messageType === 'RC:ImgMsg')
  const thumb = jpegSize(Buffer.from(lastImage.content.content, 'base64'))
  assert.deepEqual(thumb, { width: 240, height: 160 }, 'the thumbnail is a JPEG, longest edge 240')
  const gifSent = (await call(win, 'getHistoryMessages', [toBob, { count: 20 }])).data.list.find((m) => m.messageType === 'RC:GIFMsg')
  assert.deepEqual([gifSent.content.width, gifSent.content.height, gifSent.content.gifDataSize], [1, 1, gif.length])

  // A message naming a file anywhere but the IM server is not fetched (33003, nothing written).
  const foreign = await bob.engine.insertMessage({ conversationType: 1, targetId: 'alice' }, {
    messageType: 'RC:FileMsg', messageDirection: 2, senderUserId: 'alice', sentTime: Date.now(),
    content: { name: 'x.bin', size: 1, type: 'bin', fileUrl: 'http://127.0.0.1:9/internal/secret' },
  })
  const refused = await bob.engine.downloadMediaMessage(foreign.data.messageId)
  assert.equal(refused.code, 33003, JSON.stringify(refused))
  assert.match(refused.msg, /mediaOrigins/)

  // onComplete returning another message: that one is sent, under the same stored message.
  const custom = await h.page(
    win,
    `const file = __imsyncTestChooseFile(${JSON.stringify(path.join(files, 'note.aac'))})
    return await imsync.sendFileMessage({ conversationType: 1, targetId: 'bob' }, { file }, { onComplete: (info) => new imsync.TextMessage({ content: 'file at ' + info.url }) })`,
  )
  assert.equal(custom.code, 0, JSON.stringify(custom))
  assert.equal(custom.data.messageType, 'RC:TxtMsg')
  assert.match(custom.data.content.content, /^file at http:/)
  assert.equal((await call(win, 'getMessage', [custom.data.messageId])).data.messageType, 'RC:TxtMsg')

  // Bad input: 33003 naming the argument; nothing stored.
  const before = (await call(win, 'getHistoryMessages', [toBob, { count: 100 }])).data.list.length
  for (const [expr, says] of [
    [`imsync.sendImageMessage({ conversationType: 1, targetId: 'bob' }, {})`, 'msgBody.file'],
    [`imsync.sendFileMessage({ conversationType: 1, targetId: 'bob' }, { file: new Blob([]) })`, 'empty'],
    [`imsync.sendHQVoiceMessage({ conversationType: 1, targetId: 'bob' }, { file: __imsyncTestChooseFile(${JSON.stringify(path.join(files, 'note.aac'))}) })`, 'media.content.duration'],
    [`imsync.sendImageMessage({ conversationType: 1, targetId: 'bob' }, { file: __imsyncTestChooseFile(${JSON.stringify(path.join(files, 'note.aac'))}) })`, 'not an image'],
    [`imsync.uploadMediaMessage({ conversationType: 1, targetId: 'bob' }, { messageType: 'RC:FileMsg', path: ${JSON.stringify(path.join(dbpath, 'x.db'))} })`, 'database folder'],
    [`imsync.uploadMediaMessage({ conversationType: 1, targetId: 'bob' }, { messageType: 'RC:FileMsg', path: ${JSON.stringify(files)} })`, 'directory'],
  ]) {
    const r = await h.page(win, `return await ${expr}`)
    assert.equal(r.code, 33003, `${expr}: ${JSON.stringify(r)}`)
    assert.ok(r.msg.includes(says), `${expr}: ${r.msg}`)
  }
  assert.equal((await call(win, 'getHistoryMessages', [toBob, { count: 100 }])).data.list.length, before, 'refused sends stored nothing')

  // Over the server's limit (3 MB here): FAILED with 34011, the message in data.
  const big = await h.page(win, `return await imsync.sendFileMessage({ conversationType: 1, targetId: 'bob' }, { file: new File([new Uint8Array(3 * 1024 * 1024 + 1)], 'big.bin') })`, 30000)
  assert.equal(big.code, 34011, JSON.stringify(big))
  assert.equal(big.data.sentStatus, 20)
  assert.match(big.msg, /big\.bin/)
})

test('an upload cut mid-way ends FAILED 34011 and a resend completes; downloads cancel and resume; uploads cancel', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  const link = await relay(t, server.url, { bytesPerSecond: 2 * 1024 * 1024 })
  const { service } = h.startService(t, { serverUrl: link.url, reconnectInterval: 100 })
  // alice's uploads go through the relay, so their URLs name it: bob downloads from there too.
  const bob = await bobOf(t, server, { mediaOrigins: [server.url, link.url] })
  const engine = service.engine
  assert.equal((await engine.connect(await server.getToken('alice'))).code, 0)
  const files = h.tmpDir('media-cut')
  t.after(() => fs.rmSync(files, { recursive: true, force: true }))
  const bytes = crypto.randomBytes(4 * 1024 * 1024)
  const file = path.join(files, 'movie.mp4')
  fs.writeFileSync(file, bytes)
  const toBob = { conversationType: 1, targetId: 'bob' }

  // Cut the link (and refuse reconnects) once a fifth has gone.
  const tap = tapOf(engine)
  const cutAt = tap.wait((e) => e.name === 'MEDIA_PROGRESS' && e.payload.progress >= 20, 'upload under way', { ms: 20000 }).then(() => link.refuse())
  const failed = await engine.sendMediaMessage(toBob, { messageType: 'RC:SightMsg', path: file, content: { duration: 9 } })
  await cutAt
  assert.equal(failed.code, 34011, JSON.stringify(failed))
  assert.equal(failed.data.sentStatus, 20)
  assert.equal(failed.data.localPath, file)

  // The cut dropped the WebSocket too: once the link is back the engine reconnects.
  const mark = tap.events.length
  link.restore()
  await tap.wait((e) => e.name === 'CONNECTED', 'reconnected', { from: mark, ms: 20000 })
  const resent = await engine.sendMediaMessage(toBob, { messageType: 'RC:SightMsg', content: { duration: 9 } }, { messageId: failed.data.messageId })
  assert.equal(resent.code, 0, JSON.stringify(resent))
  assert.equal(resent.data.messageId, failed.data.messageId, 'the same stored message')
  assert.equal(resent.data.sentStatus, 30)
  const got = await bob.tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === resent.data.messageUId), 'bob receives the resent video')
  const m = got.payload.messages.find((x) => x.messageUId === resent.data.messageUId)
  // The URL names the relay (the upload's Host): bob's download is throttled too. Cancel it
  // once under way (33210, the .part kept), then download again: it resumes and completes.
  const bobTap = tapOf(bob.engine)
  const downloading = bobTap.wait((e) => e.name === 'MEDIA_PROGRESS' && e.payload.direction === 'download' && e.payload.progress >= 10, 'download under way', { ms: 20000 })
  const cancelled = bob.engine.downloadMediaMessage(m.messageId, { transferId: 'dl-1' })
  const seen = await downloading
  assert.equal(seen.payload.transferId, 'dl-1')
  assert.deepEqual(await bob.engine.cancelMediaTransfer('dl-1'), { code: 0, data: 1 })
  const stopped = await cancelled
  assert.equal(stopped.code, 33210, JSON.stringify(stopped))
  assert.match(stopped.msg, /cancel/i)
  assert.equal((await bob.engine.getMessage(m.messageId)).data.localPath, undefined, 'nothing recorded for a cancelled download')
  const again = bobTap.events.length
  const dl = await bob.engine.downloadMediaMessage(m.messageId)
  assert.equal(dl.code, 0, JSON.stringify(dl))
  assert.equal(sha256(fs.readFileSync(dl.data.localPath)), sha256(bytes))
  const resumed = bobTap.events.slice(again).filter((e) => e.name === 'MEDIA_PROGRESS').map((e) => e.payload.progress)
  assert.ok(resumed[0] >= 10, `the second download resumed from the .part (first progress ${resumed[0]})`)

  // Cancelling an upload: FAILED with 34011, by message id.
  const up = tapOf(engine)
  const uploading = up.wait((e) => e.name === 'MEDIA_PROGRESS' && e.payload.direction === 'upload' && e.payload.progress >= 10 && e.payload.messageId > 0, 'second upload under way', { from: up.events.length, ms: 20000 })
  const pending = engine.sendMediaMessage(toBob, { messageType: 'RC:FileMsg', path: file })
  const started = await uploading
  assert.deepEqual(await engine.cancelMediaTransfer(started.payload.messageId), { code: 0, data: 1 })
  const aborted = await pending
  assert.equal(aborted.code, 34011, JSON.stringify(aborted))
  assert.match(aborted.msg, /cancel/i)
  assert.equal(aborted.data.sentStatus, 20)
})

test('media staging: a window reaches only its own stages, chunks are bounded, names are made safe', async (t) => {
  const { service, dbpath } = h.startService(t)
  const w1 = await h.openWindow()
  const w2 = await h.openWindow()
  const stage = (w, request) => h.preloadWorld(w, `return await electron.ipcRenderer.invoke('imsync:media-stage', ${request})`)
  // Before a user is open there is no media folder to stage into.
  assert.equal((await stage(w1, `{ op: 'open', name: 'a.png' }`)).code, 33003)
  await service.open('alice')
  const opened = await stage(w1, `{ op: 'open', name: '../../evil/a.png' }`)
  assert.equal(opened.code, 0, JSON.stringify(opened))
  const id = JSON.stringify(opened.data)
  const other = await stage(w2, `{ op: 'write', id: ${id}, bytes: new Uint8Array(4) }`)
  assert.equal(other.code, 33003, "another window's stage")
  assert.match(other.msg, /no open stage/)
  for (const [bytes, says] of [
    ['new Uint8Array(5 * 1024 * 1024)', 'chunk'],
    ['new Uint8Array(0)', 'chunk'],
    ["'text'", 'Uint8Array'],
  ]) {
    const r = await stage(w1, `{ op: 'write', id: ${id}, bytes: ${bytes} }`)
    assert.equal(r.code, 33003, bytes)
    assert.match(r.msg, new RegExp(says))
  }
  assert.deepEqual(await stage(w1, `{ op: 'write', id: ${id}, bytes: new Uint8Array([1, 2, 3]) }`), { code: 0, data: 3 })
  const closed = await stage(w1, `{ op: 'close', id: ${id} }`)
  assert.equal(closed.code, 0)
  assert.equal(path.dirname(closed.data), path.join(dbpath, 'media', 'alice', 'outgoing'), 'staged in the media folder, whatever the name says')
  assert.match(path.basename(closed.data), /^[0-9a-f]{8}-_\.\._evil_a\.png$/)
  assert.deepEqual([...fs.readFileSync(closed.data)], [1, 2, 3])
  // A closed stage is gone; an unknown op is refused.
  assert.equal((await stage(w1, `{ op: 'write', id: ${id}, bytes: new Uint8Array(1) }`)).code, 33003)
  assert.equal((await stage(w1, `{ op: 'delete' }`)).code, 33003)
  // A long name (150 Chinese characters are 450 bytes; file systems take 255) is cut to fit,
  // on a character boundary, keeping its extension.
  const long = await stage(w1, `{ op: 'open', name: '${'报'.repeat(150)}.pdf' }`)
  assert.equal(long.code, 0, JSON.stringify(long))
  const longId = JSON.stringify(long.data)
  assert.equal((await stage(w1, `{ op: 'write', id: ${longId}, bytes: new Uint8Array([7]) }`)).code, 0)
  const longFile = (await stage(w1, `{ op: 'close', id: ${longId} }`)).data
  assert.match(path.basename(longFile), /^[0-9a-f]{8}-(报)+\.pdf$/)
  assert.ok(Buffer.byteLength(path.basename(longFile)) <= 255, path.basename(longFile))
})

test('paths from windows: symlinks into dbpath, other users\' media and a resend of a stored localPath are checked like media.path', async (t) => {
  const seen = []
  const { service, dbpath } = h.startService(t, {
    mediaPathFilter: (p) => {
      seen.push(p)
      return !p.includes('private')
    },
  })
  const win = await h.openWindow()
  await service.open('alice')
  const files = h.tmpDir('media-paths')
  t.after(() => fs.rmSync(files, { recursive: true, force: true }))
  const toBob = { conversationType: 1, targetId: 'bob' }
  fs.writeFileSync(path.join(dbpath, 'secret.bin'), 'the database folder')
  fs.mkdirSync(path.join(dbpath, 'media', 'bob'), { recursive: true })
  fs.writeFileSync(path.join(dbpath, 'media', 'bob', 'theirs.bin'), "another user's file")
  fs.writeFileSync(path.join(files, 'private.bin'), 'refused by the filter')
  fs.writeFileSync(path.join(files, 'ok.bin'), 'fine')
  fs.symlinkSync(path.join(dbpath, 'secret.bin'), path.join(files, 'link-to-db.bin'))
  fs.symlinkSync(path.join(files, 'private.bin'), path.join(files, 'link-to-private.bin'))
  const before = (await call(win, 'getHistoryMessages', [toBob, { count: 100 }])).data.list.length

  // Named directly: the file the engine would open is what is checked.
  for (const [file, says] of [
    [path.join(files, 'link-to-db.bin'), 'database folder'],
    [path.join(files, 'link-to-private.bin'), 'mediaPathFilter'],
    [path.join(dbpath, 'media', 'bob', 'theirs.bin'), 'database folder'],
  ]) {
    const r = await call(win, 'uploadMediaMessage', [toBob, { messageType: 'RC:FileMsg', path: file }])
    assert.equal(r.code, 33003, `${file}: ${JSON.stringify(r)}`)
    assert.ok(r.msg.includes(says), `${file}: ${r.msg}`)
  }
  assert.ok(seen.includes(path.join(fs.realpathSync(files), 'private.bin')), `the filter sees the resolved path: ${seen}`)
  assert.equal((await call(win, 'getHistoryMessages', [toBob, { count: 100 }])).data.list.length, before, 'refused uploads stored nothing')

  // A resend uploads the message's localPath, which a window can store itself: checked too.
  const stored = async (localPath) => {
    const m = { messageType: 'RC:FileMsg', content: { name: 'a.bin', size: 1, type: 'bin', fileUrl: '' }, messageDirection: 1, sentStatus: 20, localPath }
    const r = await call(win, 'electronExtension.insertMessage', [toBob, m])
    assert.equal(r.code, 0, JSON.stringify(r))
    return r.data.messageId
  }
  for (const [file, says] of [
    [path.join(dbpath, 'secret.bin'), 'database folder'],
    [path.join(files, 'link-to-db.bin'), 'database folder'],
    [path.join(files, 'private.bin'), 'mediaPathFilter'],
  ]) {
    const id = await stored(file)
    for (const method of ['uploadMediaMessage', 'sendMediaMessage']) {
      const r = await call(win, method, [toBob, { messageType: 'RC:FileMsg' }, { messageId: id }])
      assert.equal(r.code, 33003, `${method} resend of ${file}: ${JSON.stringify(r)}`)
      assert.ok(r.msg.includes(says) && r.msg.includes('localPath'), `${file}: ${r.msg}`)
    }
    assert.equal((await call(win, 'getMessage', [id])).data.sentStatus, 20, 'the refused resend left the message as it was')
  }
  // A resend of an allowed file goes on to the engine (no server here: 34011, not connected).
  const ok = await call(win, 'uploadMediaMessage', [toBob, { messageType: 'RC:FileMsg' }, { messageId: await stored(path.join(files, 'ok.bin')) }])
  assert.equal(ok.code, 34011, JSON.stringify(ok))
  assert.match(ok.msg, /not connected/)

  // A page Blob is staged to outgoing/; refused input stores nothing, so its staged copy goes
  // too, while a stored (FAILED) message keeps its copy as its localPath.
  const outgoing = path.join(dbpath, 'media', 'alice', 'outgoing')
  const notImage = await h.page(win, `return await imsync.sendImageMessage({ conversationType: 1, targetId: 'bob' }, { file: new File([new Uint8Array([1, 2, 3])], 'not-a-picture.png') })`)
  assert.equal(notImage.code, 33003, JSON.stringify(notImage))
  assert.match(notImage.msg, /not an image/)
  assert.deepEqual(fs.readdirSync(outgoing), [], 'no orphan staged file')
  const kept = await h.page(win, `return await imsync.sendFileMessage({ conversationType: 1, targetId: 'bob' }, { file: new File([new Uint8Array([1, 2, 3])], 'kept.bin') })`)
  assert.equal(kept.code, 34011, JSON.stringify(kept))
  assert.equal(fs.existsSync(kept.data.localPath) && path.dirname(kept.data.localPath), outgoing, 'the FAILED message keeps its staged copy')
})

test('a staged write that fails (disk full, I/O error) aborts its stage: failures do not use up the window\'s stages', async (t) => {
  const { service } = h.startService(t)
  const win = await h.openWindow()
  await service.open('alice')
  // The main process's writes fail; everything else about the staged files works.
  const realOpen = fs.promises.open
  fs.promises.open = async (...a) => {
    const handle = await realOpen(...a)
    return new Proxy(handle, {
      get: (target, key) => (key === 'write' ? async () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : typeof target[key] === 'function' ? target[key].bind(target) : target[key]),
    })
  }
  t.after(() => {
    fs.promises.open = realOpen
  })
  const send = () => h.page(win, `return await imsync.sendFileMessage({ conversationType: 1, targetId: 'bob' }, { file: new File([new Uint8Array([1, 2, 3])], 'a.bin') })`)
  for (let i = 0; i < 9; i++) {
    const r = await send()
    assert.notEqual(r.code, 0)
    assert.match(r.msg, /ENOSPC/, `send ${i}: ${r.msg}`)
  }
  fs.promises.open = realOpen
  // No server here: the upload itself fails (34011), but the file was staged.
  const after = await send()
  assert.equal(after.code, 34011, JSON.stringify(after))
})

test('a window that closes between its upload and the send leaves the message FAILED (resendable), not SENDING', async (t) => {
  const server = await startServer(t, { appKey: h.APPKEY, appSecret: SECRET })
  const { service } = h.startService(t, { serverUrl: server.url })
  const win = await h.openWindow()
  assert.equal((await call(win, 'connect', [await server.getToken('alice')])).code, 0)
  const files = h.tmpDir('media-unsent')
  t.after(() => fs.rmSync(files, { recursive: true, force: true }))
  const file = path.join(files, 'a.bin')
  fs.writeFileSync(file, crypto.randomBytes(1000))
  const up = await call(win, 'uploadMediaMessage', [{ conversationType: 1, targetId: 'bob' }, { messageType: 'RC:FileMsg', path: file }])
  assert.equal(up.code, 0, JSON.stringify(up))
  const id = up.data.message.messageId
  assert.equal(up.data.message.sentStatus, 10)
  // A second window's upload that it does send stays SENT when the first window closes.
  const other = await h.openWindow()
  const sent = await h.page(other, `return await imsync.sendFileMessage({ conversationType: 1, targetId: 'bob' }, { file: new File([new Uint8Array([1, 2, 3])], 'b.bin') })`)
  assert.equal(sent.code, 0, JSON.stringify(sent))
  win.close()
  const deadline = Date.now() + 10000
  let m
  while ((m = (await service.engine.getMessage(id)).data).sentStatus !== 20) {
    assert.ok(Date.now() < deadline, `still ${m.sentStatus} after the window closed`)
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.equal((await service.engine.getMessage(sent.data.messageId)).data.sentStatus, 30)
})
