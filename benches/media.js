'use strict'
// Media upload and download (issue 12): a 100 MB file (10^8 random bytes) goes from alice to
// bob through a release imsync-server on loopback, in one Node process that plays both users
// (an Electron main process with both accounts):
//
//   imsync    alice's engine.sendMediaMessage(RC:FileMsg, { path }) (the file streamed from disk
//             by the addon, then the message sent), then bob's engine.downloadMediaMessage of
//             the message he received (streamed to <dbpath>/media/bob/).
//   baseline  what an Electron developer writes by hand in the main process with Node's
//             fetch: POST /media/upload, then one PATCH whose body is fs.createReadStream as a
//             web stream (Readable.toWeb, duplex 'half'), progress counted in a TransformStream;
//             and a fetch GET of the file URL piped to disk with stream.pipeline. No message is
//             sent (the imsync upload figure includes storing and sending it, a few ms).
//
// Each transfer is timed from the call to its resolution (throughput = bytes / time, MB =
// 10^6 bytes). While it runs, the process's RSS is sampled every 10 ms (growth = max − the
// value just before the call), the event-loop delay is recorded with
// perf_hooks.monitorEventLoopDelay({ resolution: 1 }) (p99), progress events are counted and
// checked to be monotonic, and the CPU time of this process and of the server is taken. The
// downloaded file's sha256 must equal the original's (any wrong byte fails the bench).
// MEDIA_ROUNDS rounds (default 3); the order alternates (imsync first in odd rounds, the
// baseline first in even ones) so neither side always runs on a warmer page cache.
//
// Each side of each round (its upload, then its download) runs in a fresh Node process started
// by this script, with the same server, file and users: in one process, a transfer that grew
// the heap (the fetch upload grows it by ~117 MB) leaves freed memory behind that the next
// transfers reuse, so their RSS growth would read ~0 whoever they are. MEDIA_ONE_PROCESS=1 runs
// everything in this process instead. Medians and every round are printed, then one JSON line.
//
//   CARGO_TARGET_DIR=/work/reltarget cargo build --release --target x86_64-unknown-linux-gnu -p imsync-server -p imsync
//   npm run bench:media                              # = node --expose-gc benches/media.js
//   MEDIA_BYTES=20000000 MEDIA_ROUNDS=1 node benches/media.js    # quick run
//   IMSYNC_SERVER_BIN=/path/to/imsync-server NAPI_RS_NATIVE_LIBRARY_PATH=/path/to/imsync.node node benches/media.js
//
// Without those variables the release builds in /work/reltarget are used (see BENCHMARKS.md):
// imsync-server, and libimsync.so copied to a temporary imsync.node.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { Readable } = require('node:stream')
const { pipeline } = require('node:stream/promises')

const BYTES = Number(process.env.MEDIA_BYTES || 100_000_000)
const ROUNDS = Number(process.env.MEDIA_ROUNDS || 3)
const APP_KEY = 'media-bench'
const APP_SECRET = 'media-bench-secret'
const PRIVATE = 1
const { RELEASE } = require('./server-lib')
const GOALS = { throughput_mb_s: 200, rss_growth_mb: 16, event_loop_p99_ms: 10, progress_events: 100 }
const MB = 1e6
// MEDIA_ONE_PROCESS=1: every transfer in this process instead of a fresh worker per side and round.
const ONE_PROCESS = process.env.MEDIA_ONE_PROCESS === '1'

// A worker process runs one side of one round (see main); MEDIA_WORKER holds what it needs.
const WORKER = process.env.MEDIA_WORKER ? JSON.parse(process.env.MEDIA_WORKER) : null

// ---- the addon: the release build unless one is named -------------------------------------
const tmp = WORKER ? WORKER.tmp : fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-media-bench-'))
if (!process.env.NAPI_RS_NATIVE_LIBRARY_PATH) {
  const lib = path.join(RELEASE, 'libimsync.so')
  if (!fs.existsSync(lib)) throw new Error(`no release addon at ${lib}: build it first (see BENCHMARKS.md)`)
  fs.copyFileSync(lib, path.join(tmp, 'imsync.node'))
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = path.join(tmp, 'imsync.node')
}
let Engine = null // loaded by the process that uses it (workers inherit the path above)

// ---- server (benches/server-lib.js) -------------------------------------------------------
const lib = require('./server-lib')
const { cpuMs } = lib
const startServer = () =>
  lib.startServer({
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    dataDir: path.join(tmp, 'server'),
    args: ['--max-file-size', `${Math.ceil((2 * BYTES) / 1048576)}MB`],
  })
const token = (url, userId) => lib.token(url, APP_KEY, APP_SECRET, userId)

// ---- files -------------------------------------------------------------------------------
// Made and hashed by child processes (head, sha256sum), so this process's memory holds
// nothing but the transfers being measured.
function makeFile(file, bytes) {
  execFileSync('sh', ['-c', 'head -c "$1" /dev/urandom > "$2"', 'sh', String(bytes), file])
  if (fs.statSync(file).size !== bytes) throw new Error(`could not write ${bytes} bytes to ${file}`)
  return sha256(file)
}

function sha256(file) {
  return execFileSync('sha256sum', ['-b', file]).toString().split(' ')[0]
}

// ---- one measured transfer ----------------------------------------------------------------
/**
 * Runs `work(onProgress)` and measures it. `onProgress(progress, done)` is what the transfer
 * calls for each progress report (imsync's MEDIA_PROGRESS events, the baseline's own).
 */
async function measure(label, serverPid, work) {
  if (global.gc) global.gc()
  const events = []
  const onProgress = (progress, done) => events.push({ progress, done })
  const rssBefore = process.memoryUsage.rss()
  let rssMax = rssBefore
  const sampler = setInterval(() => {
    const r = process.memoryUsage.rss()
    if (r > rssMax) rssMax = r
  }, 10)
  const h = monitorEventLoopDelay({ resolution: 1 })
  const serverCpu0 = cpuMs(serverPid)
  const cpu0 = process.cpuUsage()
  h.enable()
  const t0 = performance.now()
  const result = await work(onProgress)
  const ms = performance.now() - t0
  h.disable()
  const cpu = process.cpuUsage(cpu0)
  const serverCpu = cpuMs(serverPid) - serverCpu0
  clearInterval(sampler)
  rssMax = Math.max(rssMax, process.memoryUsage.rss())
  let monotonic = true
  // The largest jump between consecutive reports, in whole percents (from 0): 1 when every
  // percent was reported.
  let maxStep = events.length ? events[0].progress : 100
  for (let i = 1; i < events.length; i++) {
    if (events[i].progress < events[i - 1].progress || events[i].done < events[i - 1].done) monotonic = false
    maxStep = Math.max(maxStep, events[i].progress - events[i - 1].progress)
  }
  const last = events[events.length - 1]
  return {
    label,
    ms,
    mb_s: BYTES / MB / (ms / 1000),
    rss_growth_mb: (rssMax - rssBefore) / MB,
    rss_before_mb: rssBefore / MB,
    event_loop_p99_ms: h.percentile(99) / 1e6,
    event_loop_max_ms: h.max / 1e6,
    progress_events: events.length,
    progress_percents: new Set(events.map((e) => e.progress)).size,
    progress_monotonic: monotonic,
    progress_max_step: maxStep,
    progress_final: last ? last.progress : null,
    client_cpu_ms: (cpu.user + cpu.system) / 1000,
    server_cpu_ms: serverCpu,
    result,
  }
}

// ---- imsync ------------------------------------------------------------------------------
/** An engine whose MEDIA_PROGRESS and MESSAGES events can be listened to. */
function user(name, serverUrl) {
  Engine = Engine || require('../index.js').Engine
  const engine = new Engine({ appkey: APP_KEY, dbpath: path.join(tmp, name), serverUrl, logOutputLevel: 1 })
  const listeners = new Set()
  engine.onEvent((event, payload) => {
    for (const l of listeners) l(event, payload)
  })
  const on = (fn) => (listeners.add(fn), () => listeners.delete(fn))
  return { name, engine, on }
}

function check(res, what) {
  if (res.code !== 0) throw new Error(`${what}: ${res.code} ${res.msg}`)
  return res.data
}

function progressOf(u, transferId, onProgress) {
  return u.on((event, p) => {
    if (event === 'MEDIA_PROGRESS' && p.transferId === transferId) onProgress(p.progress, p.done)
  })
}

async function imsyncUpload(alice, bob, file, name, serverPid, round) {
  const received = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bob did not receive ${name} within 60 s`)), 60_000)
    const off = bob.on((event, p) => {
      if (event !== 'MESSAGES') return
      const m = p.messages.find((x) => x.messageType === 'RC:FileMsg' && x.content && x.content.name === name)
      if (m) {
        clearTimeout(timer)
        off()
        resolve(m)
      }
    })
  })
  const transferId = `up-${round}`
  let off
  const r = await measure('imsync upload', serverPid, async (onProgress) => {
    off = progressOf(alice, transferId, onProgress)
    return check(
      await alice.engine.sendMediaMessage({ conversationType: PRIVATE, targetId: bob.name }, { messageType: 'RC:FileMsg', path: file, name, transferId }, {}),
      'sendMediaMessage',
    )
  })
  off()
  if (r.result.content.size !== BYTES) throw new Error(`sent content.size ${r.result.content.size}, expected ${BYTES}`)
  r.url = r.result.content.fileUrl
  r.message = await received
  return r
}

async function imsyncDownload(bob, message, serverPid, round) {
  const transferId = `down-${round}`
  let off
  const r = await measure('imsync download', serverPid, async (onProgress) => {
    off = progressOf(bob, transferId, onProgress)
    return check(await bob.engine.downloadMediaMessage(message.messageId, { transferId }), 'downloadMediaMessage')
  })
  off()
  r.file = r.result.localPath
  return r
}

// ---- baseline: fetch by hand ---------------------------------------------------------------
async function baselineUpload(serverUrl, tok, file, name, serverPid) {
  return measure('fetch upload', serverPid, async (onProgress) => {
    const size = (await fs.promises.stat(file)).size
    const created = await fetch(`${serverUrl}/media/upload`, {
      method: 'POST',
      headers: { 'X-Imsync-Token': tok, 'X-Upload-Length': String(size), 'X-Upload-Name': encodeURIComponent(name), 'X-Upload-Type': 'application/octet-stream' },
    })
    if (created.status !== 201) throw new Error(`POST /media/upload: ${created.status} ${await created.text()}`)
    const { uploadId } = await created.json()
    let sent = 0
    let percent = -1
    const counted = Readable.toWeb(fs.createReadStream(file)).pipeThrough(
      new TransformStream({
        transform(chunk, controller) {
          sent += chunk.byteLength
          const p = Math.floor((sent * 100) / size)
          if (p !== percent) onProgress((percent = p), sent)
          controller.enqueue(chunk)
        },
      }),
    )
    const res = await fetch(`${serverUrl}/media/upload/${uploadId}`, {
      method: 'PATCH',
      headers: { 'X-Imsync-Token': tok, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: counted,
      duplex: 'half',
    })
    const json = await res.json()
    if (res.status !== 200 || !json.file) throw new Error(`PATCH: ${res.status} ${JSON.stringify(json)}`)
    return json.file
  })
}

async function baselineDownload(url, dest, serverPid) {
  return measure('fetch download', serverPid, async (onProgress) => {
    const res = await fetch(url)
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`)
    const total = Number(res.headers.get('content-length'))
    let got = 0
    let percent = -1
    await pipeline(
      Readable.fromWeb(res.body),
      async function* (source) {
        for await (const chunk of source) {
          got += chunk.length
          const p = Math.floor((got * 100) / total)
          if (p !== percent) onProgress((percent = p), got)
          yield chunk
        }
      },
      fs.createWriteStream(dest),
    )
    return dest
  })
}

// ---- report ------------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const f1 = (x) => Math.round(x * 10) / 10
const f2 = (x) => Math.round(x * 100) / 100

function row(r, round) {
  return {
    round,
    transfer: r.label,
    'MB/s': f1(r.mb_s),
    'time ms': Math.round(r.ms),
    'RSS +MB': f1(r.rss_growth_mb),
    'RSS before': f1(r.rss_before_mb),
    'loop p99 ms': f2(r.event_loop_p99_ms),
    'loop max ms': f2(r.event_loop_max_ms),
    progress: `${r.progress_events} (step ≤ ${r.progress_max_step}%, last ${r.progress_final})${r.progress_monotonic ? '' : ' NOT MONOTONIC'}`,
    'cpu ms (this/server)': `${Math.round(r.client_cpu_ms)}/${Math.round(r.server_cpu_ms)}`,
    sha256: r.sha_ok === undefined ? '-' : r.sha_ok ? 'ok' : 'WRONG',
  }
}

/** One side ('imsync' or 'fetch') of one round: an upload, then the download of that file. */
async function runSide(side, round, ctx) {
  const { serverUrl, serverPid, tokens, file, original } = ctx
  let results
  if (side === 'imsync') {
    const alice = user('alice', serverUrl)
    const bob = user('bob', serverUrl)
    for (const u of [alice, bob]) check(await u.engine.connect(tokens[u.name]), `${u.name} connect`)
    const up = await imsyncUpload(alice, bob, file, `bench-${round}.bin`, serverPid, round)
    const down = await imsyncDownload(bob, up.message, serverPid, round)
    down.sha_ok = sha256(down.file) === original
    fs.rmSync(down.file)
    for (const u of [alice, bob]) {
      await u.engine.disconnect()
      await u.engine.close()
    }
    results = [up, down]
  } else {
    const up = await baselineUpload(serverUrl, tokens.alice, file, `baseline-${round}.bin`, serverPid)
    if (up.result.size !== BYTES) throw new Error(`baseline upload size ${up.result.size}`)
    const dest = path.join(tmp, `baseline-${round}.bin`)
    const down = await baselineDownload(up.result.url, dest, serverPid)
    down.sha_ok = sha256(dest) === original
    fs.rmSync(dest)
    results = [up, down]
  }
  for (const r of results) {
    delete r.result
    delete r.message
  }
  return results
}

/** runSide in a fresh Node process (its results come back as the last line of its stdout). */
function inWorker(side, round, ctx) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', __filename], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, MEDIA_WORKER: JSON.stringify({ ...ctx, side, round }) },
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${side} worker of round ${round} exited ${code}`))
      resolve(JSON.parse(out.trim().split('\n').pop()))
    })
  })
}

let server = null
async function main() {
  server = await startServer()
  const pid = server.child.pid
  console.error(`imsync-server ${server.bin} (pid ${pid}); addon ${process.env.NAPI_RS_NATIVE_LIBRARY_PATH}`)
  console.error(`${BYTES.toLocaleString('en')} bytes, ${ROUNDS} rounds; ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`)

  const file = path.join(tmp, 'payload.bin')
  const original = makeFile(file, BYTES)
  console.error(`payload ${file} sha256 ${original}`)

  const tokens = { alice: await token(server.url, 'alice'), bob: await token(server.url, 'bob') }
  const ctx = { tmp, serverUrl: server.url, serverPid: pid, tokens, file, original }

  const kinds = ['imsync upload', 'imsync download', 'fetch upload', 'fetch download']
  const all = Object.fromEntries(kinds.map((k) => [k, []]))
  const rows = []
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? ['imsync', 'fetch'] : ['fetch', 'imsync']
    for (const side of order) {
      const results = ONE_PROCESS ? await runSide(side, round, ctx) : await inWorker(side, round, ctx)
      for (const r of results) {
        all[r.label].push(r)
        rows.push(row(r, round))
        console.error(JSON.stringify(row(r, round)))
        if (r.sha_ok === false) {
          console.table(rows)
          throw new Error(`round ${round}: ${r.label} wrote a file whose sha256 differs from the original`)
        }
      }
    }
  }

  const med = (k, field) => median(all[k].map((r) => r[field]))
  const summary = {}
  for (const k of kinds) {
    summary[k] = {
      mb_s: f1(med(k, 'mb_s')),
      rss_growth_mb: f1(med(k, 'rss_growth_mb')),
      event_loop_p99_ms: f2(med(k, 'event_loop_p99_ms')),
      progress_events: med(k, 'progress_events'),
      progress_monotonic: all[k].every((r) => r.progress_monotonic),
      progress_max_step: Math.max(...all[k].map((r) => r.progress_max_step)),
      progress_ends_at_100: all[k].every((r) => r.progress_final === 100),
      client_cpu_ms: Math.round(med(k, 'client_cpu_ms')),
      server_cpu_ms: Math.round(med(k, 'server_cpu_ms')),
    }
  }
  const ratio = (dir, field) => f2(summary[`imsync ${dir}`][field] / summary[`fetch ${dir}`][field])
  const ratios = {
    upload_throughput: ratio('upload', 'mb_s'),
    download_throughput: ratio('download', 'mb_s'),
    upload_rss_growth: ratio('upload', 'rss_growth_mb'),
    download_rss_growth: ratio('download', 'rss_growth_mb'),
    upload_event_loop_p99: ratio('upload', 'event_loop_p99_ms'),
    download_event_loop_p99: ratio('download', 'event_loop_p99_ms'),
  }
  const goal = (k) => {
    const s = summary[k]
    return {
      transfer: k,
      [`MB/s (≥ ${GOALS.throughput_mb_s})`]: `${s.mb_s} ${s.mb_s >= GOALS.throughput_mb_s ? 'met' : 'MISSED'}`,
      [`RSS +MB (≤ ${GOALS.rss_growth_mb})`]: `${s.rss_growth_mb} ${s.rss_growth_mb <= GOALS.rss_growth_mb ? 'met' : 'MISSED'}`,
      [`loop p99 ms (≤ ${GOALS.event_loop_p99_ms})`]: `${s.event_loop_p99_ms} ${s.event_loop_p99_ms <= GOALS.event_loop_p99_ms ? 'met' : 'MISSED'}`,
      [`progress (≥ ${GOALS.progress_events}, every 1 %)`]: `${s.progress_events}, step ≤ ${s.progress_max_step}% ${s.progress_events >= GOALS.progress_events && s.progress_max_step <= 1 && s.progress_monotonic && s.progress_ends_at_100 ? 'met' : 'MISSED'}`,
      'cpu ms this/server': `${s.client_cpu_ms}/${s.server_cpu_ms}`,
    }
  }

  console.log(`\nAll rounds (${(BYTES / MB).toFixed(0)} MB each way; MB = 10^6 bytes; sha256 of every download checked):`)
  console.table(rows)
  console.log('\nMedians against the goals (throughput ≥ 200 MB/s each way, RSS growth ≤ 16 MB, event-loop p99 ≤ 10 ms, ≥ 1 progress event per 1 %):')
  console.table(kinds.map(goal))
  console.log('imsync / fetch baseline (medians):', ratios)
  console.log(
    JSON.stringify({
      bench: 'media',
      bytes: BYTES,
      rounds: ROUNDS,
      goals: GOALS,
      medians: summary,
      ratios,
      all_rounds: Object.fromEntries(kinds.map((k) => [k, all[k].map((r) => ({ mb_s: f1(r.mb_s), rss_growth_mb: f1(r.rss_growth_mb), event_loop_p99_ms: f2(r.event_loop_p99_ms), progress_events: r.progress_events, progress_max_step: r.progress_max_step, client_cpu_ms: Math.round(r.client_cpu_ms), server_cpu_ms: Math.round(r.server_cpu_ms), sha256_ok: r.sha_ok }))])),
      cpus: os.cpus().length,
      loadavg: os.loadavg().map(f2),
    }),
  )

  server.child.kill('SIGTERM')
  await new Promise((r) => server.child.once('exit', r))
  fs.rmSync(tmp, { recursive: true, force: true })
}

if (WORKER) {
  runSide(WORKER.side, WORKER.round, WORKER).then(
    (results) => process.stdout.write(JSON.stringify(results) + '\n', () => process.exit(0)),
    (e) => {
      console.error(e)
      process.exit(1)
    },
  )
} else {
  main().catch((e) => {
    console.error(e)
    if (server) server.child.kill('SIGTERM')
    fs.rmSync(tmp, { recursive: true, force: true })
    process.exit(1)
  })
}
