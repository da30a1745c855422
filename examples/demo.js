// The README's main job: the real thing end to end on one machine. Starts imsync-server on
// loopback, signs alice and bob in (each with their own local database), has them chat in
// Chinese and English, takes bob offline and brings him back to pull what he missed, then
// searches bob's local database and lists his conversations — printed as a transcript
// with timings.
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
  const exe = process.platform === 'win32' ? 'imsync-server.exe' : 'imsync-server'
  // target/<profile>/ (plain cargo build), then target/<host triple>/<profile>/ (what
  // scripts/test.sh and the napi CLI build with --target).
  const triple = { 'linux-x64': 'x86_64-unknown-linux-gnu', 'linux-arm64': 'aarch64-unknown-linux-gnu', 'darwin-x64': 'x86_64-apple-darwin', 'darwin-arm64': 'aarch64-apple-darwin', 'win32-x64': 'x86_64-pc-windows-msvc' }[`${process.platform}-${process.arch}`]
  for (const dir of [[], triple ? [triple] : []]) {
    for (const profile of ['release', 'debug']) {
      const p = path.join(__dirname, '..', 'target', ...dir, profile, exe)
      if (fs.existsSync(p)) return p
    }
  }
  throw new Error('imsync-server is not built: run `cargo build --release -p imsync-server` (npm run demo does)')
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
  engine.onEvent((event, payload) => {
    if (event === 'MESSAGES') {
      for (const m of payload.messages) {
        const tag = m.isOfflineMessage ? ' (offline, pulled on reconnect)' : ''
        say(`  ${name.padEnd(5)} ⇐ ${m.senderUserId}: ${m.content.content}${tag}`)
      }
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

/** Step 8 of `--encrypt`: the encrypted file, a keyless open, rekey, encryptDatabase. */
async function encryptionStep(root, bob, bobWeb, conv) {
  console.log("\n8. Encrypted local databases (encryptionKey)")
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
    // Plain even with --encrypt: step 8 migrates it with encryptDatabase.
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
