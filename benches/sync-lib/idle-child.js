'use strict'
// Child process of benches/sync.js, part c: the CPU and memory of an idle engine, measured
// in a fresh Node process so nothing else (the 100k-message pull, other engines, the
// benchmark's own data) is in it.
//
//   IDLE_MODE=connected  new Engine → connect(token) → PULL_OFFLINE_MESSAGE_FINISHED → idle
//   IDLE_MODE=local      new Engine → open(userId) (no network) → idle            (baseline)
//
// Reports one JSON line on stdout: RSS before/after, CPU time (process.cpuUsage, all threads)
// and voluntary context switches (process.resourceUsage) over the idle window, threads.

const { loadEngine, procStatus, nowMs } = require('./common')

const mode = process.env.IDLE_MODE || 'connected'
const idleMs = Number(process.env.IDLE_MS || 10000)
const serverUrl = process.env.IDLE_SERVER_URL
const token = process.env.IDLE_TOKEN
const userId = process.env.IDLE_USER || 'carol'
const dbpath = process.env.IDLE_DBPATH

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main() {
  const Engine = loadEngine()
  if (global.gc) global.gc()
  await sleep(200)
  const beforeEngine = procStatus()
  const engine = new Engine({ appkey: process.env.IDLE_APPKEY, dbpath, serverUrl, platform: 'Electron', logOutputLevel: 1 })
  const events = []
  let finished
  const pulled = new Promise((r) => (finished = r))
  engine.onEvent((name) => {
    events.push({ name, at: nowMs() })
    if (name === 'PULL_OFFLINE_MESSAGE_FINISHED') finished()
  })
  if (global.gc) global.gc()
  const beforeConnect = procStatus()
  const t0 = nowMs()
  let r
  if (mode === 'connected') {
    r = await engine.connect(token)
    if (r.code !== 0) throw new Error(`connect: ${JSON.stringify(r)}`)
    // The event subscription does not keep Node alive (by design), so a timer does while
    // PULL_OFFLINE_MESSAGE_FINISHED is awaited (it may arrive after connect() resolved).
    let timer
    await Promise.race([pulled, new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('no PULL_OFFLINE_MESSAGE_FINISHED in 30 s')), 30000)))])
    clearTimeout(timer)
  } else {
    r = await engine.open(userId)
    if (r.code !== 0) throw new Error(`open: ${JSON.stringify(r)}`)
  }
  const readyMs = nowMs() - t0
  await sleep(500) // let the connect's own work settle before the window starts
  const eventsBefore = events.length
  const cpu0 = process.cpuUsage()
  const ru0 = process.resourceUsage()
  const w0 = nowMs()
  await sleep(idleMs)
  const windowMs = nowMs() - w0
  const cpu = process.cpuUsage(cpu0)
  const ru1 = process.resourceUsage()
  const after = procStatus()
  const status = await engine.getConnectionStatus()
  const out = {
    mode,
    readyMs,
    windowMs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    cpuMs: (cpu.user + cpu.system) / 1000,
    voluntaryCtxSwitches: ru1.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
    involuntaryCtxSwitches: ru1.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
    rssBeforeEngineKiB: beforeEngine.rssKiB,
    rssBeforeConnectKiB: beforeConnect.rssKiB,
    rssAfterKiB: after.rssKiB,
    threadsBefore: beforeConnect.threads,
    threadsAfter: after.threads,
    eventsDuringWindow: events.slice(eventsBefore).map((e) => e.name),
    connectionStatus: status.data,
  }
  await engine.close()
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

main().catch((e) => {
  process.stderr.write(`idle-child: ${e && e.stack}\n`)
  process.exit(1)
})
