'use strict'
// Online-status fan-out (issue 15): one user followed by SUBSCRIBERS light WebSocket clients
// (the real protocol, hand-encoded protobuf: connect, subscribe, ping) on one imsync-server.
// Each round the followed user connects, and every subscriber's online push is timed from the
// moment the user's ConnectRequest left; then the user closes and the offline pushes are timed
// from the close. Reports p50 / p99 / max per direction and the time until the last subscriber
// had it (the whole fan-out). Client and server share the machine.
//
//   node benches/presence.js                         # 1,000 subscribers, 20 rounds
//   PRESENCE_SUBSCRIBERS=200 PRESENCE_ROUNDS=5 node benches/presence.js
//   IMSYNC_SERVER_BIN=/path/to/imsync-server node benches/presence.js
//
// The server binary defaults to the release build in /work/reltarget (see BENCHMARKS.md for
// the build command), else target/*/release.

if (typeof WebSocket === 'undefined') {
  // Node 20 has the WHATWG WebSocket behind a flag (Node 22 by default).
  const { spawnSync } = require('node:child_process')
  const r = spawnSync(process.execPath, ['--experimental-websocket', '--no-warnings', __filename], { stdio: 'inherit' })
  process.exit(r.status ?? 1)
}

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const SUBSCRIBERS = Number(process.env.PRESENCE_SUBSCRIBERS || 1000)
const ROUNDS = Number(process.env.PRESENCE_ROUNDS || 20)
const APP_KEY = 'presence-bench'
const APP_SECRET = 'presence-bench-secret'
const DEADLINE_MS = 30000

// ---- server and protobuf (benches/server-lib.js) --------------------------------------------
const lib = require('./server-lib')
const { vfield, bfield, sfield, frame, pingFrame, fields, get } = lib
const startServer = () =>
  lib.startServer({ appKey: APP_KEY, appSecret: APP_SECRET, dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-presence-bench-')) })
const token = (url, userId) => lib.token(url, APP_KEY, APP_SECRET, userId)

const connectFrame = (token, device, platform) =>
  frame(1, 2, bfield(1, Buffer.concat([vfield(1, 1), sfield(2, token), sfield(3, device), vfield(4, platform), sfield(5, 'presence-bench')])))
const subscribeFrame = (id, userIds, expiry) =>
  frame(id, 2, bfield(30, Buffer.concat([vfield(1, 1), ...userIds.map((u) => sfield(2, u)), vfield(3, expiry)])))

/** What a server frame is: { response: code } | { status: { userId, online: [bool x3] } } | {}. */
function decode(buf) {
  const f = fields(buf)
  const response = get(f, 3)
  if (response) return { id: Number(get(f, 1) || 0n), response: Number(BigInt.asIntN(64, get(fields(response), 1) || 0n)) }
  const push = get(f, 4)
  if (!push) return {}
  const list = get(fields(push), 15)
  if (!list) return {}
  const status = fields(get(fields(list), 1))
  const userId = get(status, 1).toString('utf8')
  const online = status.filter((x) => x.field === 3).map((p) => get(fields(p.value), 2) === 1n)
  return { status: { userId, online } }
}

// ---- clients -----------------------------------------------------------------------------
/** An authenticated connection; `onStatus(status, at)` for every status push. */
function client(wsUrl, tok, device, onStatus = () => {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl)
    ws.binaryType = 'arraybuffer'
    const waiting = new Map()
    let nextId = 2
    const c = {
      ws,
      request(bytesFor) {
        const id = nextId++
        return new Promise((res) => {
          waiting.set(id, res)
          ws.send(bytesFor(id))
        })
      },
      ping() {
        ws.send(pingFrame(1_000_000 + nextId++))
      },
      connectSentAt: 0,
    }
    ws.onopen = () => {
      c.connectSentAt = performance.now()
      ws.send(connectFrame(tok, device, 1))
    }
    ws.onerror = (e) => reject(new Error(`websocket ${device}: ${e.message || e.type}`))
    ws.onmessage = (ev) => {
      const at = performance.now()
      const m = decode(Buffer.from(ev.data))
      if (m.status) return onStatus(m.status, at)
      if (m.response === undefined) return
      if (m.id === 1) return m.response === 0 ? resolve(c) : reject(new Error(`connect ${device}: ${m.response}`))
      const w = waiting.get(m.id)
      if (w) {
        waiting.delete(m.id)
        w(m.response)
      }
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
  console.error(`imsync-server ${server.bin}; ${SUBSCRIBERS} subscribers, ${ROUNDS} rounds`)
  const aliceToken = await token(server.url, 'alice')

  // Who is waiting for which state of alice: the round's expected online flag and start time.
  let expect = null
  let got = []
  let pending = 0
  let done = null
  const onStatus = (s, at) => {
    if (!expect || s.userId !== 'alice' || s.online[0] !== expect.online) return
    // Raw times: a push may arrive before alice's own connect answer (which is when the
    // start time of an online round becomes known); the round subtracts it at the end.
    got.push(at)
    if (--pending === 0) done()
  }

  const subs = []
  for (let i = 0; i < SUBSCRIBERS; i += 50) {
    const batch = []
    for (let j = i; j < Math.min(SUBSCRIBERS, i + 50); j++) {
      batch.push(
        token(server.url, `fan${j}`).then(async (t) => {
          const c = await client(wsUrl, t, `fan${j}-desktop`, onStatus)
          const code = await c.request((id) => subscribeFrame(id, ['alice'], 3600))
          if (code !== 0) throw new Error(`subscribe: ${code}`)
          return c
        }),
      )
    }
    subs.push(...(await Promise.all(batch)))
  }
  const keepAlive = setInterval(() => subs.forEach((c) => c.ping()), 10000)
  console.error(`${subs.length} subscribers connected and subscribed`)

  const round = async (online, start) => {
    got = []
    pending = subs.length
    const all = new Promise((r) => (done = r))
    let alice = null
    expect = { online, from: 0 }
    if (online) {
      const connected = client(wsUrl, aliceToken, 'alice-desktop')
      // The clock starts when the ConnectRequest leaves (set in onopen).
      const c = await connected
      expect.from = c.connectSentAt
      alice = c
    } else {
      expect.from = performance.now()
      start.ws.close()
    }
    let timer
    await Promise.race([all, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error(`only ${subs.length - pending} of ${subs.length} pushes`)), DEADLINE_MS)))])
    clearTimeout(timer)
    const from = expect.from
    expect = null
    return { alice, latencies: got.map((at) => at - from) }
  }

  const onLat = []
  const offLat = []
  const onLast = []
  const offLast = []
  for (let r = 0; r < ROUNDS + 1; r++) {
    const up = await round(true)
    const down = await round(false, up.alice)
    if (r === 0) continue // warm-up
    onLat.push(...up.latencies)
    offLat.push(...down.latencies)
    onLast.push(Math.max(...up.latencies))
    offLast.push(Math.max(...down.latencies))
  }
  clearInterval(keepAlive)
  const summary = (name, lat, last) => {
    const s = [...lat].sort((a, b) => a - b)
    const l = [...last].sort((a, b) => a - b)
    return { name, pushes: s.length, p50_ms: ms(pct(s, 50)), p99_ms: ms(pct(s, 99)), max_ms: ms(s[s.length - 1]), last_subscriber_p50_ms: ms(pct(l, 50)), last_subscriber_max_ms: ms(l[l.length - 1]) }
  }
  const results = [summary('online (from the ConnectRequest)', onLat, onLast), summary('offline (from the close)', offLat, offLast)]
  console.table(results)
  console.log(JSON.stringify({ subscribers: SUBSCRIBERS, rounds: ROUNDS, cpus: os.cpus().length, results }))
  // Closed before the server stops, so its shutdown does not wait out the grace period.
  await Promise.race([
    Promise.all(subs.map((c) => new Promise((r) => ((c.ws.onclose = r), c.ws.close())))),
    new Promise((r) => setTimeout(r, 3000)),
  ])
  server.child.kill('SIGTERM')
  await new Promise((r) => server.child.once('exit', r))
  fs.rmSync(server.dataDir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
