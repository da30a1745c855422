'use strict'
// What the server benchmarks (presence.js, chatroom.js, media.js) share: a release
// imsync-server on a free loopback port, tokens from its signed admin API, a process's CPU
// time, and the few protobuf primitives their hand-encoded light clients need.

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')
const { spawn, execFileSync } = require('node:child_process')

/** Where the benches' release builds go (BENCHMARKS.md gives the build command). */
const RELEASE = '/work/reltarget/x86_64-unknown-linux-gnu/release'

/** The server binary: IMSYNC_SERVER_BIN, else a release build. */
function serverBinary() {
  if (process.env.IMSYNC_SERVER_BIN) return process.env.IMSYNC_SERVER_BIN
  const candidates = [path.join(RELEASE, 'imsync-server'), '/work/reltarget/release/imsync-server']
  const target = path.join(__dirname, '..', 'target')
  if (fs.existsSync(target)) for (const d of fs.readdirSync(target)) candidates.push(path.join(target, d, 'release', 'imsync-server'))
  const found = candidates.find((p) => fs.existsSync(p))
  if (!found) throw new Error('no release imsync-server: build it first (see BENCHMARKS.md) or set IMSYNC_SERVER_BIN')
  return found
}

/** Starts the server with `appKey`/`appSecret` in `dataDir`; resolves `{ bin, url, child, dataDir }`. */
async function startServer({ appKey, appSecret, dataDir, args = [] }) {
  const bin = serverBinary()
  const all = ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--app-key', appKey, '--app-secret', appSecret, '--rate-limit', '0', ...args]
  const child = spawn(bin, all, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } })
  const url = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      const m = /^listening on (http:\/\/\S+)$/.exec(line)
      m ? resolve(m[1]) : reject(new Error(line))
    })
    child.once('exit', (c) => reject(new Error(`imsync-server exited ${c}`)))
  })
  return { bin, url, child, dataDir }
}

/** A token for `userId` from the signed admin API. */
async function token(url, appKey, appSecret, userId) {
  const nonce = crypto.randomUUID()
  const timestamp = String(Date.now())
  const res = await fetch(`${url}/user/getToken`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'App-Key': appKey,
      Nonce: nonce,
      Timestamp: timestamp,
      Signature: crypto.createHmac('sha256', appSecret).update(nonce + timestamp).digest('hex'),
    },
    body: JSON.stringify({ userId }),
  })
  const json = await res.json()
  if (json.code !== 200) throw new Error(JSON.stringify(json))
  return json.token
}

/** A process's CPU time so far, in ms (utime + stime of /proc/<pid>/stat). */
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim() || 100)
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) * TICK_MS
}

// ---- protobuf ------------------------------------------------------------------------------

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
/** A varint field. */
const vfield = (field, n) => Buffer.concat([tag(field, 0), varint(n)])
/** A length-delimited field. */
const bfield = (field, bytes) => Buffer.concat([tag(field, 2), varint(bytes.length), bytes])
/** A string field. */
const sfield = (field, s) => bfield(field, Buffer.from(s, 'utf8'))
/** A Frame: id and one request kind. */
const frame = (id, kindField, body) => Buffer.concat([vfield(1, id), bfield(kindField, body)])
const pingFrame = (id) => frame(id, 5, vfield(1, Date.now()))

/** Every field of a message, in order: [{ field, wire, value (bigint or Buffer) }]. */
function fields(buf) {
  const out = []
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
    if (wire === 0) out.push({ field, wire, value: readVarint() })
    else if (wire === 2) {
      const len = Number(readVarint())
      out.push({ field, wire, value: buf.subarray(i, i + len) })
      i += len
    } else if (wire === 1) i += 8
    else if (wire === 5) i += 4
    else throw new Error(`wire type ${wire}`)
  }
  return out
}
/** The first value of field `n`. */
const get = (list, n) => list.find((f) => f.field === n)?.value

module.exports = { RELEASE, serverBinary, startServer, token, cpuMs, varint, vfield, bfield, sfield, frame, pingFrame, fields, get }
