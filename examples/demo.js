// The README's main job: the real thing end to end on one machine. Starts imsync-server on
// loopback, signs alice and bob in (each with their own local database), has them chat in
// Chinese and English, takes bob offline and brings him back to pull what he missed, then
// searches bob's local database and lists his conversations, lets bob's second device follow
// his pins and read state, and has alice send bob a picture (a PNG made here) that bob
// downloads and checks byte for byte — printed as a transcript with timings.
//
// `node examples/demo.js --encrypt` (or IMSYNC_DEMO_ENCRYPT=1; `npm run demo -- --encrypt`)
// runs the same demo with encrypted local databases (`encryptionKey`) and adds a last step:
// what the file looks like on disk, an open without the key, `rekey`, and `encryptDatabase`
// migrating the plain database of bob's second device.
'use strict'
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const zlib = require('node:zlib')
const { Engine } = require('../index.js')

const APP_KEY = 'demo-key'
const APP_SECRET = 'demo-secret'
const PRIVATE = 1
const t0 = process.hrtime.bigint()
const clock = () => `+${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1).padStart(7)} ms`
const say = (...a) => console.log(clock(), ...a)
const ENCRYPT = process.argv.includes('--encrypt') || process.env.IMSYNC_DEMO_ENCRYPT === '1'
/** The demo's passphrases (an app would keep them in the OS keychain, e.g. Electron safeStorage). */
const keyOf = (name) => `demo passphrase of ${name}`

function serverBinary() {
  if (process.env.IMSYNC_SERVER_BIN) return process.env.IMSYNC_SERVER_BIN
  const exe = process.platform === 'win32' ? 'imsync-server.exe' : 'imsync-server'
  // target/<profile>/ (plain cargo build) and target/<host triple>/<profile>/ (what
  // scripts/test.sh and the napi CLI build with --target): the most recently built one, so an
  // old build left in another folder is not picked over the one just made.
  const triple = { 'linux-x64': 'x86_64-unknown-linux-gnu', 'linux-arm64': 'aarch64-unknown-linux-gnu', 'darwin-x64': 'x86_64-apple-darwin', 'darwin-arm64': 'aarch64-apple-darwin', 'win32-x64': 'x86_64-pc-windows-msvc' }[`${process.platform}-${process.arch}`]
  const built = []
  for (const dir of [[], triple ? [triple] : []]) {
    for (const profile of ['release', 'debug']) {
      const p = path.join(__dirname, '..', 'target', ...dir, profile, exe)
      if (fs.existsSync(p)) built.push({ p, at: fs.statSync(p).mtimeMs })
    }
  }
  if (built.length) return built.sort((a, b) => b.at - a.at)[0].p
  throw new Error('imsync-server is not built: run `cargo build --release -p imsync-server` (npm run demo does)')
}

// ---- a picture to send: a PNG made here (node:zlib, no image library) -----------------------
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
function pngChunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}
/** A width×height 8-bit RGB PNG: a sunset-like gradient with a sun. */
function gradientPng(width, height) {
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1) // each row starts with its filter type, 0 (none)
    for (let x = 0; x < width; x++) {
      const t = y / (height - 1)
      const sun = Math.hypot(x - width * 0.7, y - height * 0.62) < height * 0.16
      const i = row + 1 + x * 3
      raw[i] = sun ? 255 : Math.round(40 + 215 * t)
      raw[i + 1] = sun ? 214 : Math.round(60 + 90 * t * (x / width))
      raw[i + 2] = sun ? 90 : Math.round(160 - 120 * t)
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8) // bit depth 8, colour type 2 (RGB), deflate, no filter method, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', zlib.deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))])
}
/** Width and height from a JPEG's start-of-frame segment (null when there is none). */
function jpegSize(b) {
  let i = 2
  while (i + 9 < b.length && b[i] === 0xff) {
    const marker = b[i + 1]
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) }
    i += 2 + b.readUInt16BE(i + 2)
  }
  return null
}
const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex')
const MEDIA_URL = { 'RC:ImgMsg': 'imageUri', 'RC:GIFMsg': 'remoteUrl', 'RC:HQVCMsg': 'remoteUrl', 'RC:FileMsg': 'fileUrl', 'RC:SightMsg': 'sightUrl' }
/** What the transcript shows of a message: its text, or what a media message carries. */
function shown(m) {
  const field = MEDIA_URL[m.messageType]
  if (!field) return m.content.content
  const url = m.content[field]
  return `[${m.messageType} ${decodeURIComponent(url.split('/').pop().split('?')[0])}, ${url}]`
}

function startServer(dataDir) {
  const child = spawn(serverBinary(), ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--app-key', APP_KEY, '--app-secret', APP_SECRET], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout })
    lines.once('line', (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line)
      if (m) resolve({ child, url: m[1] })
      else reject(new Error(`unexpected server output: ${line}`))
    })
    child.once('exit', (code) => reject(new Error(`imsync-server exited with ${code}`)))
  })
}

async function admin(url, route, body) {
  const nonce = crypto.randomUUID()
  const timestamp = String(Date.now())
  const signature = crypto.createHmac('sha256', APP_SECRET).update(nonce + timestamp).digest('hex')
  const res = await fetch(url + route, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'App-Key': APP_KEY, Nonce: nonce, Timestamp: timestamp, Signature: signature },
    body: JSON.stringify(body),
  })
  const json = await res.json()
  if (json.code !== 200) throw new Error(`${route}: ${JSON.stringify(json)}`)
  return json
}

/** An engine whose events can be awaited. */
function user(name, serverUrl, dbRoot, platform = 'Electron', { encrypt = ENCRYPT } = {}) {
  const options = { appkey: APP_KEY, dbpath: path.join(dbRoot, name), serverUrl, logOutputLevel: 1, platform }
  if (encrypt) options.encryptionKey = keyOf(name)
  const engine = new Engine(options)
  const waiters = []
  const progressEvents = new Map() // transferId -> MEDIA_PROGRESS events so far
  engine.onEvent((event, payload) => {
    if (event === 'MESSAGES') {
      for (const m of payload.messages) {
        const tag = m.isOfflineMessage ? ' (offline, pulled on reconnect)' : ''
        say(`  ${name.padEnd(5)} ⇐ ${m.senderUserId}: ${shown(m)}${tag}`)
      }
    } else if (event === 'MEDIA_PROGRESS') {
      // Shown once per transfer, when it reaches 100 %.
      const n = (progressEvents.get(payload.transferId) || 0) + 1
      progressEvents.set(payload.transferId, n)
      if (payload.progress === 100) say(`  ${name.padEnd(5)} MEDIA_PROGRESS ${payload.direction} 100% (${payload.done}/${payload.total} bytes; ${n} progress events)`)
    } else if (event !== 'CONVERSATION') {
      say(`  ${name.padEnd(5)} event ${event}${payload == null ? '' : ` ${JSON.stringify(payload)}`}`)
    }
    for (const w of [...waiters]) {
      if (w.event === event && w.pred(payload)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(payload)
      }
    }
  })
  const waitFor = (event, pred = () => true) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no ${event} within 10 s`)), 10_000)
      waiters.push({ event, pred, resolve: (p) => (clearTimeout(timer), resolve(p)) })
    })
  return { name, engine, waitFor }
}

function check(res, what) {
  if (res.code !== 0) throw new Error(`${what} failed: ${res.code} ${res.msg}`)
  return res.data
}

async function send(from, to, text) {
  const start = process.hrtime.bigint()
  const got = to.waitFor('MESSAGES', (p) => p.messages.some((m) => m.content.content === text))
  const sent = check(await from.engine.sendMessage({ conversationType: PRIVATE, targetId: to.name }, { messageType: 'RC:TxtMsg', content: { content: text } }), 'sendMessage')
  say(`  ${from.name.padEnd(5)} ⇒ ${to.name}: ${text}   [SENT, messageUId ${sent.messageUId}]`)
  await got
  say(`          delivered in ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(2)} ms`)
}

/** Step 8: alice sends bob a picture; bob (and his second device) receive it, bob downloads it. */
async function pictureStep(root, alice, bob, bobWeb) {
  console.log('\n8. Alice sends Bob a picture; Bob downloads it')
  const png = gradientPng(640, 400)
  const picture = path.join(root, 'sunset.png')
  fs.writeFileSync(picture, png)
  say(`  alice's picture ${picture}: PNG 640×400 made with node:zlib, ${png.length.toLocaleString('en')} bytes, sha256 ${sha256(png).slice(0, 16)}…`)
  const isPicture = (p) => p.messages.some((m) => m.messageType === 'RC:ImgMsg')
  const bobGets = bob.waitFor('MESSAGES', isPicture)
  const webGets = bobWeb.waitFor('MESSAGES', isPicture)
  const conv = { conversationType: PRIVATE, targetId: 'bob' }
  const start = process.hrtime.bigint()
  let res = await alice.engine.sendMediaMessage(conv, { messageType: 'RC:ImgMsg', path: picture, name: 'sunset.png', transferId: 'demo-picture' })
  say(`  alice ⇒ bob: sunset.png uploaded and sent in ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms → code ${res.code}`)
  // The server lets a connection send 5 messages a second (the vendor's limit), and alice
  // has just sent several: the picture is uploaded, but its message may be refused with
  // 20604. It is then stored FAILED with the file's URL in its content, and sending it
  // again under its messageId (once the second has passed) sends it without uploading again.
  for (let attempt = 1; res.code === 20604 && attempt <= 3; attempt++) {
    say(`  refused 20604 (${res.msg}): message ${res.data.messageId} is kept with sentStatus ${res.data.sentStatus} (20 = FAILED) and its imageUri; alice resends it in 1 s`)
    await new Promise((r) => setTimeout(r, 1000))
    res = await alice.engine.sendMessage(conv, { messageType: 'RC:ImgMsg', content: res.data.content }, { messageId: res.data.messageId })
    say(`  alice resends message ${res.data?.messageId} (no second upload) → code ${res.code}`)
  }
  const sent = check(res, 'sendMediaMessage')
  say(`  alice ⇒ bob: sunset.png   [SENT, messageUId ${sent.messageUId}]`)
  say(`          imageUri ${sent.content.imageUri}`)
  const got = (await bobGets).messages.find((m) => m.messageType === 'RC:ImgMsg')
  await webGets
  const thumb = Buffer.from(got.content.content, 'base64')
  const dims = jpegSize(thumb)
  say(`  bob has the message (messageId ${got.messageId}): the thumbnail inside it is a JPEG ${dims ? `${dims.width}×${dims.height}` : '(size unknown)'}, ${thumb.length.toLocaleString('en')} bytes (${got.content.content.length.toLocaleString('en')} Base64 characters)`)
  const dlStart = process.hrtime.bigint()
  const dl = check(await bob.engine.downloadMediaMessage(got.messageId, { transferId: 'demo-picture-download' }), 'downloadMediaMessage')
  const bytes = fs.readFileSync(dl.localPath)
  const same = sha256(bytes) === sha256(png)
  say(`  bob downloads it in ${(Number(process.hrtime.bigint() - dlStart) / 1e6).toFixed(1)} ms → ${dl.localPath}`)
  say(`          ${bytes.length.toLocaleString('en')} bytes, sha256 ${same ? 'matches alice\'s file' : 'DIFFERS from alice\'s file'}; the message now records localPath ${dl.message.localPath === dl.localPath ? '(same path)' : dl.message.localPath}`)
  if (!same) throw new Error('the downloaded picture differs from the one alice sent')
}

/** Step 9 of `--encrypt`: the encrypted file, a keyless open, rekey, encryptDatabase. */
async function encryptionStep(root, bob, bobWeb, conv) {
  console.log("\n9. Encrypted local databases (encryptionKey)")
  // Each device has its own dbpath (root/<device>); both of bob's devices sign in as bob.
  const dbFile = (device) => path.join(root, device, 'imsync', APP_KEY, 'bob.db')
  const bytes = (device) => Buffer.concat([dbFile(device), `${dbFile(device)}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)))
  const head = fs.readFileSync(dbFile('bob')).subarray(0, 16)
  say(`  bob's file starts ${head.toString('hex')} (a plain SQLite file starts "SQLite format 3"): ${head.toString('latin1').startsWith('SQLite format 3') ? 'PLAIN' : 'encrypted'}`)
  say(`  "预算" in bob's file: ${bytes('bob').includes(Buffer.from('预算')) ? 'FOUND' : 'not found'}; in bob@web's plain file: ${bytes('bob@web').includes(Buffer.from('预算')) ? 'found' : 'not found'}`)
  const keyless = await new Engine({ appkey: APP_KEY, dbpath: path.join(root, 'bob'), logOutputLevel: 1 }).open('bob')
  say(`  open bob's database without the key → ${keyless.code}: ${keyless.msg}`)
  const rekeyStart = process.hrtime.bigint()
  check(await bob.engine.rekey(`${keyOf('bob')} (rotated)`), 'rekey')
  const afterRekey = check(await bob.engine.searchMessages(conv, '预算', 0, 10), 'searchMessages')
  say(`  bob rekeys in ${(Number(process.hrtime.bigint() - rekeyStart) / 1e6).toFixed(1)} ms; searchMessages("预算") still → ${afterRekey.count} match(es)`)
  const migrateStart = process.hrtime.bigint()
  check(await bobWeb.engine.encryptDatabase(keyOf('bob@web')), 'encryptDatabase')
  const migrated = check(await bobWeb.engine.searchMessages(conv, '预算', 0, 10), 'searchMessages')
  say(
    `  bob@web encryptDatabase in ${(Number(process.hrtime.bigint() - migrateStart) / 1e6).toFixed(1)} ms; "预算" in its file now: ${bytes('bob@web').includes(Buffer.from('预算')) ? 'FOUND' : 'not found'}; searchMessages("预算") → ${migrated.count} match(es)`,
  )
}

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-demo-'))
  console.log(`imsync demo — everything under ${root}${ENCRYPT ? ' (local databases encrypted)' : ''}\n`)
  const server = await startServer(path.join(root, 'server'))
  say(`imsync-server listening on ${server.url}`)
  try {
    const alice = user('alice', server.url, root)
    const bob = user('bob', server.url, root)
    const tokens = { alice: (await admin(server.url, '/user/getToken', { userId: 'alice' })).token, bob: (await admin(server.url, '/user/getToken', { userId: 'bob' })).token }
    say('tokens issued by the admin API (signed requests)')

    console.log('\n1. Both sign in (the local database opens before any network)')
    for (const u of [alice, bob]) {
      const start = process.hrtime.bigint()
      const pulled = u.waitFor('PULL_OFFLINE_MESSAGE_FINISHED') // may come before connect resolves
      const r = check(await u.engine.connect(tokens[u.name]), 'connect')
      await pulled
      say(`  ${u.name} connected as ${r.userId} in ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms`)
    }

    console.log('\n2. A conversation, both ways')
    await send(alice, bob, '早上好 Bob！今天的会议改到下午三点。')
    await send(bob, alice, 'Good morning Alice — 3 pm works. 我会带上预算表。')
    await send(alice, bob, 'Great, see you at the meeting 👍')

    console.log('\n3. Bob goes offline; Alice keeps writing')
    const gone = bob.waitFor('DISCONNECT')
    check(await bob.engine.disconnect(), 'disconnect')
    await gone
    for (const text of ['会议室换到 3 楼了。', 'Also: please review the Q3 budget before Friday.', '预算的问题我们明天再聊。']) {
      const sent = check(await alice.engine.sendMessage({ conversationType: PRIVATE, targetId: 'bob' }, { messageType: 'RC:TxtMsg', content: { content: text } }), 'sendMessage')
      say(`  alice ⇒ bob: ${text}   [stored on the server, bob offline; ${sent.messageUId}]`)
    }
    const localOnly = check(await bob.engine.getMessageCount({ conversationType: PRIVATE, targetId: 'alice' }), 'getMessageCount')
    say(`  bob's local database still answers while offline: ${localOnly} messages with alice`)

    console.log('\n4. Bob comes back and pulls what he missed')
    const back = process.hrtime.bigint()
    const finished = bob.waitFor('PULL_OFFLINE_MESSAGE_FINISHED')
    check(await bob.engine.connect(tokens.bob), 'connect')
    await finished
    say(`  offline pull finished ${(Number(process.hrtime.bigint() - back) / 1e6).toFixed(1)} ms after connect`)

    console.log("\n5. Local search in bob's database (exact substring, any length, Chinese included)")
    const conv = { conversationType: PRIVATE, targetId: 'alice' }
    for (const kw of ['预', '预算', '会议', 'budget', 'Q3', '👍']) {
      const start = process.hrtime.bigint()
      const r = check(await bob.engine.searchMessages(conv, kw, 0, 10), 'searchMessages')
      say(`  searchMessages(${JSON.stringify(kw)}) → ${r.count} match(es) in ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(2)} ms`)
      for (const m of r.messages) console.log(`               · ${m.senderUserId}: ${m.content.content}`)
    }
    const convs = check(await bob.engine.searchConversationByContent('预算', ['RC:TxtMsg']), 'searchConversationByContent')
    say(`  searchConversationByContent("预算") → ${convs.map((c) => c.targetId).join(', ')}`)

    console.log("\n6. Bob's conversation list")
    for (const c of check(await bob.engine.getConversationList(0, 10), 'getConversationList')) {
      say(`  ${c.targetId}: ${c.unreadMessageCount} unread, latest "${c.latestMessage?.content?.content}"`)
    }
    const history = check(await bob.engine.getHistoryMessages(conv, { count: 3 }), 'getHistoryMessages')
    say(`  getHistoryMessages(count 3) → ${history.list.map((m) => JSON.stringify(m.content.content)).join(', ')}  (hasMore ${history.hasMore})`)

    console.log("\n7. Bob's second device (Web) follows his pins and read state")
    // Plain even with --encrypt: step 9 migrates it with encryptDatabase.
    const bobWeb = user('bob@web', server.url, root, 'Web', { encrypt: false })
    const webPulled = bobWeb.waitFor('PULL_OFFLINE_MESSAGE_FINISHED')
    check(await bobWeb.engine.connect(tokens.bob), 'connect')
    await webPulled
    const unread = async (u) => check(await u.engine.getTotalUnreadCount(), 'getTotalUnreadCount')
    say(`  unread: bob ${await unread(bob)}, bob@web ${await unread(bobWeb)}`)
    const pinned = bobWeb.waitFor('CONVERSATION', (p) => p.conversationList.some(({ conversation: c }) => c.isTop))
    check(await bob.engine.setConversationToTop(conv, true), 'setConversationToTop')
    const pin = await pinned
    say(`  bob pins alice → bob@web CONVERSATION: ${pin.conversationList.map(({ conversation: c }) => `${c.targetId} isTop=${c.isTop}`).join(', ')}`)
    const latest = check(await bob.engine.getConversation(conv), 'getConversation').latestMessage
    const readSynced = bobWeb.waitFor('CONVERSATION', (p) => p.conversationList.some(({ conversation: c }) => c.unreadMessageCount === 0))
    check(await bob.engine.sendSyncReadStatusMessage(conv, latest.sentTime), 'sendSyncReadStatusMessage')
    await readSynced
    say(`  bob reads the conversation → unread: bob ${await unread(bob)}, bob@web ${await unread(bobWeb)}`)
    const receipt = alice.waitFor('READ_RECEIPT_RECEIVED')
    check(await bob.engine.sendReadReceiptMessage('alice', latest.messageUId, latest.sentTime), 'sendReadReceiptMessage')
    await receipt
    const aliceView = check(await alice.engine.getHistoryMessages({ conversationType: PRIVATE, targetId: 'bob' }, { count: 1 }), 'getHistoryMessages')
    say(`  alice's latest message to bob now has sentStatus ${aliceView.list[0].sentStatus} (50 = READ)`)
    const typing = alice.waitFor('TYPING_STATUS')
    check(await bob.engine.sendTypingStatusMessage(conv, 'RC:TxtMsg'), 'sendTypingStatusMessage')
    await typing

    await pictureStep(root, alice, bob, bobWeb)

    if (ENCRYPT) await encryptionStep(root, bob, bobWeb, conv)

    for (const u of [alice, bob, bobWeb]) check(await u.engine.close(), 'close')
    say('engines closed')
  } finally {
    server.child.kill('SIGTERM')
    await new Promise((r) => server.child.once('exit', r))
    say('imsync-server stopped')
    fs.rmSync(root, { recursive: true, force: true })
  }
  console.log('\ndone.')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
