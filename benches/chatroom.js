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

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn, execFileSync } = require('node:child_process')

const MEMBERS = Number(process.env.CHATROOM_MEMBERS || 2000)
const MESSAGES = Number(process.env.CHATROOM_MESSAGES || 100)
const WARMUP = 5
const APP_KEY = 'chatroom-bench'
const APP_SECRET = 'chatroom-bench-secret'
const ROOM = 'bench-room'
const DEADLINE_MS = 30000
const RELEASE = '/work/reltarget/x86_64-unknown-linux-gnu/release'

// ---- the addon: the release build unless one is named -------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-chatroom-bench-'))
if (!process.env.NAPI_RS_NATIVE_LIBRARY_PATH) {
  const lib = path.join(RELEASE, 'libimsync.so')
  if (!fs.existsSync(lib)) throw new Error(`no release addon at ${lib}: build it first (see BENCHMARKS.md)`)
  fs.copyFileSync(lib, path.join(tmp, 'imsync.node'))
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = path.join(tmp, 'imsync.node')
}
const { Engine } = require('../index.js')

// ---- protobuf, the few messages needed -----------------------------------------------------
function varint(n) {
  let v = BigInt.asUintN(64, BigInt(n))
  const out = []
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
  return Buffer.from(out)
}
const tag = (field, wire) => varint((field << 3) | wire)
const vfield = (field, n) => Buffer.concat([tag(field, 0), varint(n)])
const bfield = (field, bytes) => Buffer.concat([tag(field, 2), varint(bytes.length), bytes])
const sfield = (field, s) => bfield(field, Buffer.from(s, 'utf8'))

const frame = (id, kindField, body) => Buffer.concat([vfield(1, id), bfield(kindField, body)])
const connectFrame = (token, device) =>
  frame(1, 2, bfield(1, Buffer.concat([vfield(1, 1), sfield(2, token), sfield(3, device), vfield(4, 1), sfield(5, 'chatroom-bench')])))
// Request.chatroom_join = 35: { room_id = 1, create = 2, count = 3 }.
const joinFrame = (id) => frame(id, 2, bfield(35, Buffer.concat([sfield(1, ROOM), vfield(2, 1), vfield(3, 0)])))
const pingFrame = (id) => frame(id, 5, vfield(1, Date.now()))

/** Top-level fields of a message: Map field -> first value (bigint or Buffer). */
function fields(buf) {
  const out = new Map()
  let i = 0
  const readVarint = () => {
    let v = 0n
    let shift = 0n
    for (;;) {
      const b = buf[i++]
      v |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return v
      shift += 7n
    }
  }
  while (i < buf.length) {
    const key = Number(readVarint())
    const field = key >> 3
    const wire = key & 7
    let value
    if (wire === 0) value = readVarint()
    else if (wire === 2) {
      const len = Number(readVarint())
      value = buf.subarray(i, i + len)
      i += len
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else throw new Error(`wire type ${wire}`)
    if (!out.has(field)) out.set(field, value)
  }
  return out
}

/** { id, response: code } | { roomMessage: true } | {}. */
function decode(buf) {
  const f = fields(buf)
  const response = f.get(3)
  if (response) return { id: Number(f.get(1) || 0n), response: Number(BigInt.asIntN(64, fields(response).get(1) || 0n)) }
  const push = f.get(4)
  // Push.chatroom_message = 20.
  if (push && fields(push).has(20)) return { roomMessage: true }
  return {}
}

// ---- server ------------------------------------------------------------------------------
function serverBinary() {
  if (process.env.IMSYNC_SERVER_BIN) return process.env.IMSYNC_SERVER_BIN
  const bin = path.join(RELEASE, 'imsync-server')
  if (!fs.existsSync(bin)) throw new Error('no release imsync-server: build it first (see BENCHMARKS.md) or set IMSYNC_SERVER_BIN')
  return bin
}

async function startServer() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-chatroom-bench-data-'))
  const bin = serverBinary()
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--app-key', APP_KEY, '--app-secret', APP_SECRET, '--rate-limit', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, RUST_LOG: 'warn' },
  })
  const url = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line)
      m ? resolve(m[1]) : reject(new Error(line))
    })
    child.once('exit', (c) => reject(new Error(`imsync-server exited ${c}`)))
  })
  return { bin, url, child, dataDir }
}

async function token(url, userId) {
  const nonce = crypto.randomUUID()
  const timestamp = String(Date.now())
  const res = await fetch(`${url}/user/getToken`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'App-Key': APP_KEY,
      Nonce: nonce,
      Timestamp: timestamp,
      Signature: crypto.createHmac('sha256', APP_SECRET).update(nonce + timestamp).digest('hex'),
    },
    body: JSON.stringify({ userId }),
  })
  const json = await res.json()
  if (json.code !== 200) throw new Error(JSON.stringify(json))
  return json.token
}

/** The server's CPU time so far, in ms (utime + stime of /proc/<pid>/stat). */
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100)
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) * TICK_MS
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
