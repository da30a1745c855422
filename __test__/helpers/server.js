'use strict'
// The real imsync-server for the JS tests: started on a free loopback port per test (killed
// when the test ends), and its signed admin API.

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')

const { withDeadline } = require('../electron/harness')

const ROOT = path.join(__dirname, '..', '..')

function serverBinary() {
  const exe = process.platform === 'win32' ? 'imsync-server.exe' : 'imsync-server'
  // `npm test` builds it with an explicit --target (target/<triple>/debug); a plain cargo
  // build puts it in target/debug. Take the newest.
  const target = path.join(ROOT, 'target')
  const dirs = fs.existsSync(target) ? fs.readdirSync(target).map((d) => path.join(target, d)) : []
  const candidates = [target, ...dirs]
    .flatMap((d) => ['debug', 'release'].map((profile) => path.join(d, profile, exe)))
    .filter((p) => fs.existsSync(p))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
  if (candidates.length) return candidates[0]
  assert.fail('imsync-server is not built: run `cargo build -p imsync-server` first')
}

/**
 * Starts imsync-server for test `t` with the given app key and secret (no send-rate limit) and
 * any further flags (`args`);
 * resolves `{ url, child, admin(route, body), getToken(userId) }`.
 */
async function startServer(t, { appKey, appSecret, args: extra = [] }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-server-'))
  const args = ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--app-key', appKey, '--app-secret', appSecret, '--rate-limit', '0', ...extra]
  const child = spawn(serverBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000)
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
  const url = await withDeadline(
    new Promise((resolve, reject) => {
      readline.createInterface({ input: child.stdout }).once('line', (line) => {
        const m = /^listening on (http:\/\/\S+)$/.exec(line)
        if (m) resolve(m[1])
        else reject(new Error(`unexpected first line from imsync-server: ${line}`))
      })
      exited.then((code) => reject(new Error(`imsync-server exited (${code}) before listening: ${stderr}`)))
    }),
    15000,
    'imsync-server start',
  )

  function signedHeaders() {
    const nonce = crypto.randomUUID()
    const timestamp = String(Date.now())
    return {
      'Content-Type': 'application/json',
      'App-Key': appKey,
      Nonce: nonce,
      Timestamp: timestamp,
      Signature: crypto.createHmac('sha256', appSecret).update(nonce + timestamp).digest('hex'),
    }
  }
  /** A signed admin call; asserts `code: 200`. */
  async function admin(route, body) {
    const res = await fetch(`${url}${route}`, { method: 'POST', headers: signedHeaders(), body: JSON.stringify(body) })
    const json = await res.json()
    assert.equal(json.code, 200, `${route} ${JSON.stringify(body)}: ${JSON.stringify(json)}`)
    return json
  }
  async function getToken(userId) {
    const json = await admin('/user/getToken', { userId })
    assert.equal(typeof json.token, 'string')
    return json.token
  }
  return { url, child, admin, getToken }
}

module.exports = { serverBinary, startServer }
