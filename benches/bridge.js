'use strict'
// IPC-bridge benchmark (issue 5): the round trip of a call from a renderer through the
// Electron glue (js/renderer.js → ipcRenderer.invoke → js/main.js → Engine → back), beside
// calling the Engine directly in the main process (the baseline).
//
//   node benches/bridge.js                      # 2,000 timed calls per path and call
//   BRIDGE_CALLS=500 node benches/bridge.js     # quick run
//
// Electron cannot be downloaded here; the test stand-in of __test__/electron/ plays it:
// the main process is this process (ipcMain, BrowserWindow), each window is a real child
// process (child_process.fork, serialization: 'advanced' = structured clone) running the
// sandboxed, context-isolated preload (js/renderer.js bundled into it, as the example app
// does). Four paths, interleaved in rounds so background load hits them alike:
//   direct   engine.getMessageCount(...) in the main process (baseline)
//   glue     service.call(...) in the main process: js/main.js's dispatch, no IPC
//   preload  the renderer API object in the preload's world → IPC → main → Engine → back
//   page     window.imsync in the page's world: the same plus the contextBridge copy (the
//            stand-in's copy is JavaScript, Electron's is C++: indicative only)
// Calls: getMessageCount (small) and getHistoryMessages count 100 (a 100-message page).
// Each call is timed by the caller (performance.now around the awaited promise).
// Writes JSON to BRIDGE_OUT (if set) and prints a summary.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { performance } = require('node:perf_hooks')

require('../__test__/electron/register') // require('electron') → the stand-in; 'imsync' → this checkout
const electron = require('electron')
const { bundlePreload } = require('../examples/electron-app/build-preload')
const C = require('./sync-lib/common')

const env = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt)
const CALLS = env('BRIDGE_CALLS', 2000)
const WARMUP = env('BRIDGE_WARMUP', 200)
const ROUND = env('BRIDGE_ROUND', 250)
const STORED = env('BRIDGE_STORED', 1000)
const PRIVATE = 1
const log = C.log

const CONV = { conversationType: PRIVATE, targetId: 'alice', channelId: '' }
const CALL_SPECS = {
  small: { label: 'getMessageCount', direct: 'engine.getMessageCount(conv)', api: 'api.electronExtension.getMessageCount(conv)', check: 'typeof r.data === "number"' },
  page: {
    label: 'getHistoryMessages count 100',
    direct: 'engine.getHistoryMessages(conv, { count: 100 })',
    api: 'api.getHistoryMessages(conv, { count: 100 })',
    check: 'r.data && r.data.list.length === 100',
  },
}

function check(r, what) {
  if (!r || r.code !== 0) throw new Error(`${what} failed: ${JSON.stringify(r)}`)
  return r.data
}

/** Loop body shared by every path: `call` is an expression using `api`/`engine` and `conv`. */
function loopSource({ call, checkExpr, n, clock }) {
  return `
    const conv = ${JSON.stringify(CONV)}
    const samples = new Array(${n})
    for (let i = 0; i < ${n}; i++) {
      const t0 = ${clock}
      const r = await ${call}
      samples[i] = ${clock} - t0
      if (!r || r.code !== 0 || !(${checkExpr})) throw new Error('bad result: ' + JSON.stringify(r).slice(0, 300))
    }
    return samples
  `
}

const AsyncFunction = (async () => {}).constructor

async function main() {
  const machine = C.machine()
  log(`imsync IPC-bridge benchmark — ${machine.nproc} × ${machine.cpuModel}; load ${machine.loadavg.join(' ')}`)
  const root = C.tmpDir('bridge-bench')
  const init = require('imsync')
  const service = init({ appkey: C.APP_KEY, dbpath: path.join(root, 'db'), logOutputLevel: 1 })
  const engine = service.engine
  const started = C.nowMs()
  const results = { machine, addon: C.addonPath(), sizes: { calls: CALLS, warmup: WARMUP, round: ROUND, stored: STORED }, calls: {} }
  try {
    check(await service.open('bench'), 'open')
    // A conversation with STORED received text messages.
    const texts = C.corpus(STORED, 7)
    const T0 = Date.now() - 86_400_000
    const msgs = texts.map((t, i) => ({
      ...CONV,
      messageType: 'RC:TxtMsg',
      content: { content: t },
      senderUserId: 'alice',
      messageDirection: 2,
      sentTime: T0 + i * 1000,
      messageUId: `BRIDGE-${i.toString(36)}-0000`,
    }))
    for (let i = 0; i < msgs.length; i += 500) check(await engine.batchInsertMessage(msgs.slice(i, i + 500)), 'batchInsertMessage')

    const preload = bundlePreload({
      entry: path.join(__dirname, 'bridge-lib', 'preload.js'),
      outFile: path.join(root, 'preload.bundle.js'),
      modules: { 'imsync/renderer': path.join(C.ROOT, 'js', 'renderer.js') },
    })
    const win = new electron.BrowserWindow({ webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false, preload } })
    const ready = await win.webContents.__whenReady()
    if (ready.preloadError) throw new Error(`preload failed: ${JSON.stringify(ready.preloadError)}`)
    if (!service.hasWindow(win)) throw new Error('the window was not registered with the service')

    // The same answer on every path (structured-clone safe, identical shape).
    const directPage = check(await engine.getHistoryMessages(CONV, { count: 100 }), 'direct page')
    const bridgedPage = await win.webContents.__evalInPreload(`return globalThis.__imsyncBenchApi.getHistoryMessages(${JSON.stringify(CONV)}, { count: 100 })`)
    const same = JSON.stringify(bridgedPage.data) === JSON.stringify(directPage)
    results.pageBytes = v8.serialize({ code: 0, data: directPage }).length
    results.sameResult = same
    if (!same) log('   WARNING: the bridged history page differs from the direct one')

    const paths = {
      direct: (spec, n) => new AsyncFunction('engine', loopSource({ call: spec.direct, checkExpr: spec.check, n, clock: 'performance.now()' }))(engine),
      glue: (spec, n) =>
        new AsyncFunction('service', loopSource({ call: spec.api.replace(/^api\.(electronExtension\.)?(\w+)\(/, "service.call('$2', [").replace(/\)$/, '])'), checkExpr: spec.check, n, clock: 'performance.now()' }))(service),
      preload: (spec, n) =>
        win.webContents.__evalInPreload(`const api = globalThis.__imsyncBenchApi\n${loopSource({ call: spec.api, checkExpr: spec.check, n, clock: 'performance.now()' })}`, { timeoutMs: 600_000 }),
      page: (spec, n) =>
        win.webContents.__evalInPage(`const api = window.imsync\nconst clock = window.benchClock\n${loopSource({ call: spec.api, checkExpr: spec.check, n, clock: 'clock.now()' })}`, { timeoutMs: 600_000 }),
    }
    // The cost of the page's clock itself (one contextBridge call per reading).
    const clockCost = await win.webContents.__evalInPage(`
      const c = window.benchClock; const s = []
      for (let i = 0; i < 2000; i++) { const a = c.now(); const b = c.now(); s.push(b - a) }
      s.sort((x, y) => x - y); return s[1000]`)
    results.pageClockMs = clockCost

    // Where a direct call's time goes: the JS thread's busy time per call (event-loop
    // utilization over 500 sequential calls) and, for scale, JSON.parse of the same result.
    results.jsThread = {}
    for (const [key, spec] of Object.entries(CALL_SPECS)) {
      const n = 500
      const elu0 = performance.eventLoopUtilization()
      const t0 = C.nowMs()
      await paths.direct(spec, n)
      const wall = (C.nowMs() - t0) / n
      const elu = performance.eventLoopUtilization(elu0)
      const r = key === 'page' ? { code: 0, data: directPage } : await engine.getMessageCount(CONV)
      const text = JSON.stringify(r)
      const runs = []
      for (let i = 0; i < 50; i++) {
        const p0 = C.nowMs()
        JSON.parse(text)
        runs.push(C.nowMs() - p0)
      }
      results.jsThread[key] = { wallPerCallMs: wall, jsBusyPerCallMs: elu.active / n, jsonBytes: Buffer.byteLength(text), jsonParseMs: C.percentiles(runs).p50 }
    }
    log(
      `   JS-thread busy per direct call: getMessageCount ${results.jsThread.small.jsBusyPerCallMs.toFixed(3)} ms; history page ${results.jsThread.page.jsBusyPerCallMs.toFixed(3)} ms ` +
        `(JSON.parse of the same ${results.jsThread.page.jsonBytes}-byte page: ${results.jsThread.page.jsonParseMs.toFixed(3)} ms)`,
    )

    for (const [key, spec] of Object.entries(CALL_SPECS)) {
      log(`${spec.label}: ${WARMUP} warm-up + ${CALLS} timed calls per path, in rounds of ${ROUND}`)
      const samples = Object.fromEntries(Object.keys(paths).map((p) => [p, []]))
      for (const run of Object.values(paths)) await run(spec, WARMUP)
      const cpuMain = Object.fromEntries(Object.keys(paths).map((p) => [p, 0]))
      const jsMain = Object.fromEntries(Object.keys(paths).map((p) => [p, 0]))
      for (let done = 0; done < CALLS; done += ROUND) {
        const n = Math.min(ROUND, CALLS - done)
        for (const [p, run] of Object.entries(paths)) {
          const c0 = process.cpuUsage()
          const e0 = performance.eventLoopUtilization()
          samples[p].push(...(await run(spec, n)))
          const c = process.cpuUsage(c0)
          cpuMain[p] += (c.user + c.system) / 1000
          jsMain[p] += performance.eventLoopUtilization(e0).active
        }
      }
      const out = {}
      for (const p of Object.keys(paths)) {
        out[p] = { ...C.percentiles(samples[p], [50, 90, 99]), mainCpuPerCallMs: cpuMain[p] / CALLS, mainJsBusyPerCallMs: jsMain[p] / CALLS }
      }
      for (const p of ['glue', 'preload', 'page']) {
        out[p].ratioP50 = out[p].p50 / out.direct.p50
        out[p].ratioP99 = out[p].p99 / out.direct.p99
        out[p].addedP50Ms = out[p].p50 - out.direct.p50
      }
      results.calls[key] = { label: spec.label, ...out }
      for (const p of Object.keys(paths)) {
        log(
          `   ${p.padEnd(8)} p50 ${out[p].p50.toFixed(3)} ms  p99 ${out[p].p99.toFixed(3)} ms` +
            (p === 'direct' ? '' : `  (×${out[p].ratioP50.toFixed(1)} p50, ×${out[p].ratioP99.toFixed(1)} p99)`) +
            `  main process: CPU ${out[p].mainCpuPerCallMs.toFixed(3)} ms/call, JS thread busy ${out[p].mainJsBusyPerCallMs.toFixed(3)} ms/call`,
        )
      }
    }
  } finally {
    await service.destroy()
    await electron.__reset()
    fs.rmSync(root, { recursive: true, force: true })
  }
  results.machine.loadavgAfter = require('node:os').loadavg().map((x) => +x.toFixed(2))
  results.totalMs = C.nowMs() - started
  if (process.env.BRIDGE_OUT) fs.writeFileSync(process.env.BRIDGE_OUT, JSON.stringify(results, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
