'use strict'
// Chatroom fan-out (issue 15): MEMBERS light WebSocket clients (the real protocol,
// hand-encoded protobuf: connect, chatroom_join, ping) sit in one room on one imsync-server;
// one real engine (the imsync addon) joins the room and sends MESSAGES text messages with
// sendMessage, one at a time. Every member's push of every message is timed from the moment
// sendMessage was called (one process, one clock), and the server's CPU time (utime + stime
// from /proc/<pid>/stat) over the measured messages is divided by their number. Client and
// server share the machine, so the members' own receiving is inside the figures.
//
//   node benches/chatroom.js                         # 2,000 members, 100 messages
//   CHATROOM_MEMBERS=200 CHATROOM_MESSAGES=20 node benches/chatroom.js
//   IMSYNC_SERVER_BIN=/path/to/imsync-server NAPI_RS_NATIVE_LIBRARY_PATH=/path/to/imsync.node node benches/chatroom.js
//
// Without those variables the release builds in /work/reltarget are used (see BENCHMARKS.md
// for the build command): imsync-server, and libimsync.so copied to a temporary imsync.node.

if (typeof WebSocket === 'undefined') {
  // Node 20 has the WHATWG WebSocket behind a flag (Node 22 by default).
  const { spawnSync } = require('node:child_process')
  const r = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings', __filename], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const MEMBERS = Number(process.env.CHATROOM_MEMBERS || 2000)
const MESSAGES = Number(process.env.CHATROOM_MESSAGES || 100)
const WARMUP = 5
const APP_KEY = 'chatroom-bench'
const APP_SECRET = 'chatroom-bench-secret'
const ROOM = 'bench-room'
const DEADLINE_MS = 30000
const { RELEASE } = require('./server-lib')

// ---- the addon: the release build unless one is named -------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-chatroom-bench-'))
if (!process.env.NAPI_RS_NATIVE_LIBRARY_PATH) {
  const lib = path.join(RELEASE, 'libimsync.so')
  if (!fs.existsSync(lib)) throw new Error(`no release addon at ${lib}: build it first (see BENCHMARKS.md)`)
  fs.copyFileSync(lib, path.join(tmp, 'imsync.node'))
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = path.join(tmp, 'imsync.node')
}
const { Engine } = require('../index.js')

// ---- server and protobuf (benches/server-lib.js) --------------------------------------------
const lib = require('./server-lib')
const { vfield, bfield, sfield, frame, pingFrame, fields, get, cpuMs } = lib
const startServer = () =>
  lib.startServer({ appKey: APP_KEY, appSecret: APP_SECRET, dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-chatroom-bench-data-')) })
const token = (url, userId) => lib.token(url, APP_KEY, APP_SECRET, userId)

const connectFrame = (token, device) =>
  frame(1, 2, bfield(1, Buffer.concat([vfield(1, 1), sfield(2, token), sfield(3, device), vfield(4, 1), sfield(5, 'chatroom-bench')])))
// Request.chatroom_join = 35: { room_id = 1, create = 2, count = 3 }.
const joinFrame = (id) => frame(id, 2, bfield(35, Buffer.concat([sfield(1, ROOM), vfield(2, 1), vfield(3, 0)])))

/** { id, response: code } | { roomMessage: true } | {}. */
function decode(buf) {
  const f = fields(buf)
  const response = get(f, 3)
  if (response) return { id: Number(get(f, 1) || 0n), response: Number(BigInt.asIntN(64, get(fields(response), 1) || 0n)) }
  const push = get(f, 4)
  // Push.chatroom_message = 20.
  if (push && get(fields(push), 20)) return { roomMessage: true }
  return {}
}

// ---- members -----------------------------------------------------------------------------
/** A member in the room; `onMessage(at)` for every room message pushed to it. */
function member(wsUrl, tok, device, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl)
    ws.binaryType = 'arraybuffer'
    let pingId = 1_000_000
    const c = {
      ws,
      ping: () => ws.send(pingFrame(pingId++)),
    }
    ws.onopen = () => ws.send(connectFrame(tok, device))
    ws.onerror = (e) => reject(new Error(`websocket ${device}: ${e.message || e.type}`))
    ws.onmessage = (ev) => {
      const at = performance.now()
      const m = decode(Buffer.from(ev.data))
      if (m.roomMessage) return onMessage(at)
      if (m.response === undefined) return
      if (m.id === 1) {
        if (m.response !== 0) return reject(new Error(`connect ${device}: ${m.response}`))
        return ws.send(joinFrame(2))
      }
      if (m.id === 2) return m.response === 0 ? resolve(c) : reject(new Error(`join ${device}: ${m.response}`))
    }
  })
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}
const ms = (x) => x.toFixed(2)

async function main() {
  const server = await startServer()
  const wsUrl = server.url.replace('http://', 'ws://') + '/ws'
  console.error(`imsync-server ${server.bin}; addon ${process.env.NAPI_RS_NATIVE_LIBRARY_PATH}; ${MEMBERS} members, ${MESSAGES} messages (+${WARMUP} warm-up)`)

  let got = []
  let pending = 0
  let done = null
  const onMessage = (at) => {
    got.push(at)
    if (--pending === 0 && done) done()
  }
  const members = []
  for (let i = 0; i < MEMBERS; i += 50) {
    const batch = []
    for (let j = i; j < Math.min(MEMBERS, i + 50); j++) {
      batch.push(token(server.url, `m${j}`).then((t) => member(wsUrl, t, `m${j}-desktop`, onMessage)))
    }
    members.push(...(await Promise.all(batch)))
  }
  const keepAlive = setInterval(() => members.forEach((c) => c.ping()), 10000)
  console.error(`${members.length} members in the room`)

  const dbpath = path.join(tmp, 'sender-db')
  const engine = new Engine({ appkey: APP_KEY, dbpath, serverUrl: server.url, logOutputLevel: 1 })
  engine.onEvent(() => {})
  const connected = await engine.connect(await token(server.url, 'sender'))
  if (connected.code !== 0) throw new Error(`sender connect: ${JSON.stringify(connected)}`)
  const joined = await engine.joinChatRoom(ROOM, { count: -1 })
  if (joined.code !== 0) throw new Error(`sender join: ${JSON.stringify(joined)}`)

  const latencies = []
  const lasts = []
  const sendTimes = []
  let cpuBefore = 0
  const conversation = { conversationType: 4, targetId: ROOM }
  for (let i = 0; i < WARMUP + MESSAGES; i++) {
    if (i === WARMUP) cpuBefore = cpuMs(server.child.pid)
    got = []
    pending = members.length
    const all = new Promise((r) => (done = r))
    const from = performance.now()
    const r = await engine.sendMessage(conversation, { messageType: 'RC:TxtMsg', content: { content: `message ${i}` }, isPersisted: true, isCounted: true, isStatusMessage: false }, {})
    const acked = performance.now()
    if (r.code !== 0) throw new Error(`send ${i}: ${JSON.stringify(r)}`)
    let timer
    await Promise.race([all, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`message ${i}: only ${members.length - pending} of ${members.length} members got it`)), DEADLINE_MS)))])
    clearTimeout(timer)
    done = null
    if (i < WARMUP) continue
    sendTimes.push(acked - from)
    const lat = got.map((at) => at - from)
    latencies.push(...lat)
    lasts.push(Math.max(...lat))
  }
  const cpu = cpuMs(server.child.pid) - cpuBefore
  clearInterval(keepAlive)

  const s = [...latencies].sort((a, b) => a - b)
  const l = [...lasts].sort((a, b) => a - b)
  const acks = [...sendTimes].sort((a, b) => a - b)
  const result = {
    members: MEMBERS,
    messages: MESSAGES,
    deliveries: s.length,
    p50_ms: ms(pct(s, 50)),
    p99_ms: ms(pct(s, 99)),
    max_ms: ms(s[s.length - 1]),
    last_member_p50_ms: ms(pct(l, 50)),
    last_member_max_ms: ms(l[l.length - 1]),
    send_ack_p50_ms: ms(pct(acks, 50)),
    server_cpu_ms_per_message: (cpu / MESSAGES).toFixed(2),
    server_cpu_us_per_delivery: ((cpu * 1000) / (MESSAGES * MEMBERS)).toFixed(2),
    cpus: os.cpus().length,
  }
  console.table([result])
  console.log(JSON.stringify(result))

  await engine.disconnect()
  await engine.close()
  // Closed before the server stops, so its shutdown does not wait out the grace period.
  await Promise.race([
    Promise.all(members.map((c) => new Promise((r) => ((c.ws.onclose = r), c.ws.close())))),
    new Promise((r) => setTimeout(r, 3000)),
  ])
  server.child.kill('SIGTERM')
  await new Promise((r) => server.child.once('exit', r))
  fs.rmSync(server.dataDir, { recursive: true, force: true })
  fs.rmSync(tmp, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  fs.rmSync(tmp, { recursive: true, force: true })
  process.exit(1)
})
