'use strict'
// Shared helpers of the sync and bridge benchmarks (benches/sync.js, benches/bridge.js):
// the reference server as a child process, its signed admin API over keep-alive HTTP, a
// deterministic mixed Chinese/English corpus, percentiles and small formatting helpers.
// No dependencies beyond Node itself.

const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const ROOT = path.resolve(__dirname, '..', '..')
const APP_KEY = 'sync-bench-key'
const APP_SECRET = 'sync-bench-secret'

/** The addon the benchmark measures: NAPI_RS_NATIVE_LIBRARY_PATH (a private copy) or the work tree's. */
function loadEngine() {
  return require(path.join(ROOT, 'index.js')).Engine
}

function addonPath() {
  return process.env.NAPI_RS_NATIVE_LIBRARY_PATH || path.join(ROOT, 'imsync.linux-x64-gnu.node')
}

function serverBinary() {
  if (process.env.IMSYNC_SERVER_BIN) return process.env.IMSYNC_SERVER_BIN
  const p = path.join(ROOT, 'target', 'release', process.platform === 'win32' ? 'imsync-server.exe' : 'imsync-server')
  if (!fs.existsSync(p)) throw new Error(`imsync-server is not built (${p}): run \`cargo build --release -p imsync-server\` (benches/sync-run.sh does)`)
  return p
}

function tmpDir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imsync-${tag}-`))
}

/** Starts imsync-server on 127.0.0.1:0 with the rate limit off; resolves { child, url, pid, stop() }. */
function startServer(dataDir) {
  const child = spawn(
    serverBinary(),
    ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--app-key', APP_KEY, '--app-secret', APP_SECRET, '--rate-limit', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000)
  })
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout })
    lines.once('line', (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line)
      if (!m) return reject(new Error(`unexpected server output: ${line}`))
      lines.on('line', () => {}) // keep draining
      const stop = () =>
        new Promise((res) => {
          if (child.exitCode !== null || child.signalCode !== null) return res()
          child.once('exit', () => res())
          child.kill('SIGTERM')
        })
      resolve({ child, url: m[1], pid: child.pid, stop })
    })
    child.once('exit', (code) => reject(new Error(`imsync-server exited with ${code}: ${stderr}`)))
  })
}

/** Signed admin API client over a keep-alive agent. */
function adminClient(baseUrl, { maxSockets = 64 } = {}) {
  const u = new URL(baseUrl)
  const agent = new http.Agent({ keepAlive: true, maxSockets })
  // Nonces only need to be unique per server database (each run starts a fresh one) and are
  // kept short: the server keeps every nonce for 10 minutes and scans them on each request.
  const noncePrefix = crypto.randomBytes(2).toString('hex')
  let seq = 0
  function post(route, body) {
    const nonce = `${noncePrefix}${(++seq).toString(36)}`
    const timestamp = String(Date.now())
    const signature = crypto.createHmac('sha256', APP_SECRET).update(nonce + timestamp).digest('hex')
    const payload = Buffer.from(JSON.stringify(body))
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: route,
          method: 'POST',
          agent,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': payload.length,
            'App-Key': APP_KEY,
            Nonce: nonce,
            Timestamp: timestamp,
            Signature: signature,
          },
        },
        (res) => {
          const chunks = []
          res.on('data', (c) => chunks.push(c))
          res.on('end', () => {
            let json
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'))
            } catch (e) {
              return reject(new Error(`${route}: HTTP ${res.statusCode}, not JSON`))
            }
            if (json.code !== 200) return reject(new Error(`${route}: HTTP ${res.statusCode} ${JSON.stringify(json)}`))
            resolve(json)
          })
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
  }
  return {
    post,
    token: async (userId) => (await post('/user/getToken', { userId })).token,
    close: () => agent.destroy(),
  }
}

// ---- corpus ---------------------------------------------------------------------------

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Common chat words; the first ones are drawn most often (Zipf-like weights).
const ZH = (
  '我 的 你 了 是 不 在 他 我们 这 有 就 人 好 都 一个 也 会 说 要 没有 今天 什么 还 可以 知道 现在 那 吧 啊 ' +
  '明天 时间 一下 朋友 工作 觉得 喜欢 已经 问题 一起 自己 真的 因为 所以 大家 开始 晚上 早上 下午 会议 ' +
  '项目 预算 文件 周末 电话 消息 地址 发送 收到 确认 看看 谢谢 没关系 不好意思 哈哈 好的 可能 需要 ' +
  '安排 计划 报告 客户 老师 同学 学校 公司 北京 上海 深圳 吃饭 咖啡 天气 下雨 出发 到了 路上 等一下 ' +
  '马上 回来 休息 生日 快乐 新年 中午 机场 火车 酒店 照片 视频 链接 密码 账号 更新 版本 测试 上线 ' +
  '数据 服务器 手机 电脑 网络 系统 设计 讨论 修改 提交 合同 价格 订单 快递 周一 周五 下周 月底 ' +
  '记得 别忘了 加油 辛苦了 没问题 稍等 在吗 收到了 好久不见 最近 怎么样 挺好 不错 开心 麻烦'
).split(' ')
const EN = (
  'the to you i and a is it that for of in on me we be have are this ok can my do at so will not with ' +
  'just what but if your get no all good time was see about up there go know now when how today tomorrow ' +
  'meeting call later thanks please yes sure lunch dinner coffee work project budget review deadline ' +
  'file report draft send sent update check link photo video office home team client price order ' +
  'ticket flight hotel weekend monday friday next week morning night soon great nice cool sorry ' +
  'problem issue fixed release build test server database phone laptop password account email ' +
  'address meet talk plan share idea quick question done ready wait minute hour late early'
).split(' ')

function zipfPicker(words, rand) {
  const cum = []
  let s = 0
  for (let i = 0; i < words.length; i++) {
    s += 1 / (i + 1) ** 0.9
    cum.push(s)
  }
  return () => {
    const x = rand() * s
    let lo = 0
    let hi = cum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cum[mid] > x) hi = mid
      else lo = mid + 1
    }
    return words[lo]
  }
}

/**
 * `n` chat messages, 5–60 characters (code points), deterministic for a seed: about 45%
 * Chinese, 35% English, 20% mixed in one message, with some punctuation and digits.
 */
function corpus(n, seed = 42) {
  const rand = rng(seed)
  const zh = zipfPicker(ZH, rand)
  const en = zipfPicker(EN, rand)
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const len = 5 + Math.floor(rand() * 56)
    const mode = rand()
    let s = ''
    let prevZh = false
    while ([...s].length < len) {
      const useZh = mode < 0.45 ? true : mode < 0.8 ? false : rand() < 0.5
      const r = rand()
      if (useZh) {
        s += zh()
        if (r < 0.08) s += '，'
        else if (r < 0.1) s += '。'
        prevZh = true
      } else {
        if (s.length && (!prevZh || rand() < 0.5)) s += ' '
        s += r < 0.03 ? String(Math.floor(rand() * 100)) : en()
        if (r > 0.97) s += ','
        prevZh = false
      }
    }
    const cps = [...s].slice(0, len)
    if (cps[0] === ' ') cps[0] = 'A'
    out[i] = cps.join('')
  }
  return out
}

// ---- statistics and formatting -----------------------------------------------------------

/** Percentile (nearest rank) of numbers; sorts a copy. */
function percentiles(samples, ps = [50, 90, 99]) {
  const a = Float64Array.from(samples).sort()
  const out = {}
  for (const p of ps) {
    const i = Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))
    out[`p${p}`] = a.length ? a[i] : NaN
  }
  out.min = a.length ? a[0] : NaN
  out.max = a.length ? a[a.length - 1] : NaN
  out.mean = a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN
  out.n = a.length
  return out
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6

function log(...a) {
  process.stderr.write(`${a.join(' ')}\n`)
}

function machine() {
  const cpus = os.cpus()
  let model = cpus.length ? cpus[0].model : 'unknown'
  try {
    const m = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) model = m[1].trim()
  } catch {
    // not Linux
  }
  return {
    nproc: os.availableParallelism ? os.availableParallelism() : cpus.length,
    cpuModel: model,
    memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    loadavg: os.loadavg().map((x) => +x.toFixed(2)),
  }
}

/** Reads VmRSS/Threads of a pid from /proc (Linux), or nulls. */
function procStatus(pid = 'self') {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (k) => {
      const m = new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(s)
      return m ? Number(m[1]) : null
    }
    return { rssKiB: kb('VmRSS'), threads: kb('Threads') }
  } catch {
    return { rssKiB: null, threads: null }
  }
}

/** CPU seconds (user+system) of a pid from /proc/PID/stat, or null. */
function procCpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    const tck = 100 // USER_HZ on Linux
    return (Number(f[11]) + Number(f[12])) / tck
  } catch {
    return null
  }
}

/**
 * CPU milliseconds per thread name of this process (Linux /proc/self/task), e.g.
 * { 'node (main)': …, node: … (V8 platform/GC threads), 'tokio-rt-worker': …,
 * 'imsync-db-write': … }; {} elsewhere. 10 ms clock ticks: use over long windows.
 */
function threadCpuMs(pid = 'self') {
  const out = {}
  let tids = []
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      let name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      if (String(tid) === String(pid === 'self' ? process.pid : pid)) name = `${name} (main)`
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ms = ((Number(f[11]) + Number(f[12])) * 1000) / 100
      out[name] = (out[name] || 0) + ms
    } catch {
      // the thread ended
    }
  }
  return out
}

/** b - a per thread name (threads that ended in between count from 0). */
function threadCpuDiff(a, b) {
  const out = {}
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] || 0)
    if (d > 0) out[k] = d
  }
  return out
}

module.exports = {
  threadCpuMs,
  threadCpuDiff,
  ROOT,
  APP_KEY,
  APP_SECRET,
  loadEngine,
  addonPath,
  serverBinary,
  tmpDir,
  startServer,
  adminClient,
  corpus,
  rng,
  percentiles,
  nowMs,
  log,
  machine,
  procStatus,
  procCpuSeconds,
}
