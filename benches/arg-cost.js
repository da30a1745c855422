'use strict'
// JS-thread cost of a call's arguments (issue 13): how long `engine.batchInsertMessage(batch
// of 500 corpus messages)` holds the JS thread before it returns its promise, i.e. the
// conversion of the arguments plus the hop to the runtime. The promise is awaited between
// calls, so the database work is not timed.
//
//   node --expose-gc benches/arg-cost.js                       # the addon at the repo root
//   ARG_COST_ADDON=/tmp/out/imsync.linux-x64-gnu.node node --expose-gc benches/arg-cost.js
//
// Environment: ARG_COST_ADDON (a .node file; default the repo's index.js), ARG_COST_CALLS
// (timed calls, 300), ARG_COST_WARMUP (untimed calls first, 20). Prints one JSON line.
//
// jsThreadMs is wall time, so on a busy machine it includes waiting for a core (the
// database threads of the previous call may still be finishing); jsThreadCpuMsPerCall is
// the JS thread's own CPU time over the whole loop (Linux only), divided by the calls: the
// synchronous parts plus resolving each promise and the garbage collection they cause.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { monitorEventLoopDelay } = require('node:perf_hooks')

const { generate } = require('./corpus.js')

const ADDON = process.env.ARG_COST_ADDON || path.join(__dirname, '..', 'index.js')
const { Engine } = require(ADDON)
const CALLS = Number(process.env.ARG_COST_CALLS || 300)
const WARMUP = Number(process.env.ARG_COST_WARMUP || 20)
const BATCH = 500

const now = () => process.hrtime.bigint()
const ms = (ns) => Number(ns) / 1e6

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** CPU time of the calling thread in ms (Linux; null elsewhere), at clock-tick resolution. */
function threadCpuMs() {
  try {
    const fields = fs.readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ')
    // utime and stime, fields 14 and 15 of the line (11 and 12 after the command name).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return null
  }
}

function summary(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const r = (x) => Math.round(x * 1000) / 1000
  return { n: s.length, p50: r(percentile(s, 50)), p99: r(percentile(s, 99)), max: r(s[s.length - 1]) }
}

async function main() {
  const total = (CALLS + WARMUP) * BATCH
  const corpus = generate({ messages: total, conversations: 1000 })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-arg-cost-'))
  const engine = new Engine({ appkey: 'bench', dbpath: dir, logOutputLevel: 1 })
  try {
    const opened = await engine.open('me')
    if (opened.code !== 0) throw new Error(`open: ${JSON.stringify(opened)}`)
    const batches = []
    for (let i = 0; i < total; i += BATCH) {
      batches.push(Array.from({ length: BATCH }, (_, j) => corpus.message(i + j)))
    }
    // What V8's own serializer takes for the same batches, for comparison.
    const stringify = []
    for (const b of batches.slice(WARMUP)) {
      const t0 = now()
      JSON.stringify(b)
      stringify.push(ms(now() - t0))
    }
    if (global.gc) global.gc()
    const jsThread = []
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    let cpu0 = null
    for (let i = 0; i < batches.length; i++) {
      if (i === WARMUP) cpu0 = threadCpuMs()
      const t0 = now()
      const pending = engine.batchInsertMessage(batches[i], false)
      const t = ms(now() - t0)
      const r = await pending
      if (r.code !== 0 || r.data.inserted !== BATCH) throw new Error(`batch ${i}: ${JSON.stringify(r).slice(0, 300)}`)
      if (i >= WARMUP) jsThread.push(t)
    }
    h.disable()
    const cpu1 = threadCpuMs()
    console.log(
      JSON.stringify({
        addon: ADDON,
        node: process.version,
        batch: BATCH,
        jsThreadMs: summary(jsThread),
        jsThreadCpuMsPerCall: cpu0 === null || cpu1 === null ? null : Math.round(((cpu1 - cpu0) / CALLS) * 1000) / 1000,
        jsonStringifyMs: summary(stringify),
        eventLoopDelayMs: { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 },
        loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
      }),
    )
  } finally {
    await engine.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
