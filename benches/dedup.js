'use strict'
// setCheckDuplicateMessage at scale (issue 11): what the receive duplicate check costs on a
// database that already holds many messages — the seed's warning ("with many local messages
// the default check can slow receiving", 002 L4484-4503) measured.
//
//   bash benches/dedup-run.sh                           # the reported sizes
//   DEDUP_PREFILL=100000 DEDUP_MESSAGES=5000 bash benches/dedup-run.sh   # quick
//
// Two users' databases are filled with DEDUP_PREFILL (1,000,000) received messages from
// alice (corpus texts, sentTimes over the past year) through batchInsertMessage. Then the
// same DEDUP_MESSAGES (20,000) messages are published to both through the admin API (one
// publish, both recipients: identical content and sentTime) while they are offline, and each
// connects and pulls them: one with the check on (the engine's default), one with it off
// (the baseline: the same work minus the check). Timed from connect() to
// PULL_OFFLINE_MESSAGE_FINISHED; DEDUP_ROUNDS (3) rounds, alternating which pulls first.
// A check that wrongly dropped a message would show as a count below the published total.
//
// Prints a summary and writes JSON to DEDUP_OUT when set.

const fs = require('node:fs')
const path = require('node:path')

const C = require('./sync-lib/common')

const env = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt)
const PREFILL = env('DEDUP_PREFILL', 1_000_000)
const MESSAGES = env('DEDUP_MESSAGES', 20_000)
const ROUNDS = env('DEDUP_ROUNDS', 3)
const CONCURRENCY = env('DEDUP_PUBLISH_CONCURRENCY', 32)
const BATCH = 500
const PRIVATE = 1
const ALICE = { conversationType: PRIVATE, targetId: 'alice' }

const Engine = C.loadEngine()
const log = C.log

function check(r, what) {
  if (!r || r.code !== 0) throw new Error(`${what} failed: ${JSON.stringify(r)}`)
  return r.data
}

function makeEngine(serverUrl, dbpath) {
  const engine = new Engine({ appkey: C.APP_KEY, dbpath, serverUrl, logOutputLevel: 1 })
  const waiters = []
  let received = 0
  engine.onEvent((name, payload) => {
    if (name === 'MESSAGES') received += payload.messages.length
    for (const w of waiters.filter((x) => x.name === name)) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve(payload)
    }
  })
  const once = (name) => new Promise((resolve) => waiters.push({ name, resolve }))
  return { engine, once, received: () => received }
}

async function prefill(user, dbpath, texts) {
  const e = new Engine({ appkey: C.APP_KEY, dbpath, logOutputLevel: 1 })
  check(await e.open(user), 'open')
  const start = Date.now() - 365 * 86_400_000
  const step = Math.max(1, Math.floor((365 * 86_400_000) / PREFILL))
  const t0 = C.nowMs()
  for (let i = 0; i < PREFILL; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(PREFILL, i + BATCH); j++) {
      batch.push({
        conversationType: PRIVATE,
        targetId: 'alice',
        senderUserId: 'alice',
        messageDirection: 2,
        messageType: 'RC:TxtMsg',
        content: { content: texts[j % texts.length] },
        sentTime: start + j * step,
        messageUId: `P${j}`,
      })
    }
    check(await e.batchInsertMessage(batch), 'batchInsertMessage')
  }
  check(await e.close(), 'close')
  log(`  prefilled ${user}: ${PREFILL} messages in ${((C.nowMs() - t0) / 1000).toFixed(1)} s`)
}

async function publishAll(admin, texts, tag) {
  let next = 0
  const worker = async () => {
    while (next < texts.length) {
      const i = next++
      await admin.post('/message/private/publish', {
        fromUserId: 'alice',
        toUserId: ['bob-on', 'bob-off'],
        objectName: 'RC:TxtMsg',
        content: JSON.stringify({ content: `${tag} ${i} ${texts[i]}` }),
      })
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
}

async function pull(server, admin, user, dbpath, checkDuplicate) {
  const u = makeEngine(server.url, dbpath)
  check(await u.engine.setCheckDuplicateMessage(checkDuplicate), 'setCheckDuplicateMessage')
  const token = await admin.token(user)
  const finished = u.once('PULL_OFFLINE_MESSAGE_FINISHED')
  const t0 = C.nowMs()
  check(await u.engine.connect(token), 'connect')
  await finished
  const ms = C.nowMs() - t0
  const count = check(await u.engine.getMessageCount(ALICE), 'getMessageCount')
  check(await u.engine.disconnect(true), 'disconnect')
  return { ms, received: u.received(), stored: count }
}

async function main() {
  const root = C.tmpDir('dedup-bench')
  const server = await C.startServer(path.join(root, 'server'))
  const admin = C.adminClient(server.url)
  const texts = C.corpus(Math.max(MESSAGES, 50_000))
  const db = { 'bob-on': path.join(root, 'on'), 'bob-off': path.join(root, 'off') }
  log(`== prefill (${PREFILL} messages each)`)
  for (const [user, dir] of Object.entries(db)) await prefill(user, dir, texts)
  // Both connect once so later pulls are offline pulls of exactly what was published.
  for (const [user, dir] of Object.entries(db)) await pull(server, admin, user, dir, true)
  const rounds = []
  let expected = PREFILL
  for (let r = 0; r < ROUNDS; r++) {
    log(`== round ${r + 1}: publish ${MESSAGES} to both`)
    await publishAll(admin, texts.slice(0, MESSAGES), `r${r}`)
    expected += MESSAGES
    const order = r % 2 === 0 ? ['bob-on', 'bob-off'] : ['bob-off', 'bob-on']
    const round = {}
    for (const user of order) {
      round[user] = await pull(server, admin, user, db[user], user === 'bob-on')
      log(`  ${user}: ${round[user].ms.toFixed(0)} ms, stored ${round[user].stored} (want ${expected})`)
      if (round[user].stored !== expected) throw new Error(`${user} stored ${round[user].stored}, want ${expected}: the check dropped distinct messages`)
    }
    round.ratio = round['bob-on'].ms / round['bob-off'].ms
    rounds.push(round)
  }
  admin.close()
  await server.stop()
  fs.rmSync(root, { recursive: true, force: true })
  const ratios = rounds.map((r) => r.ratio).sort((a, b) => a - b)
  const result = {
    prefill: PREFILL,
    messages: MESSAGES,
    rounds,
    medianRatio: ratios[Math.floor(ratios.length / 2)],
    machine: C.machine(),
  }
  console.log(
    `setCheckDuplicateMessage at ${PREFILL} stored messages, ${MESSAGES} pulled per round:\n` +
      rounds.map((r, i) => `  round ${i + 1}: check on ${r['bob-on'].ms.toFixed(0)} ms, off ${r['bob-off'].ms.toFixed(0)} ms, on/off ${r.ratio.toFixed(2)}×`).join('\n') +
      `\n  median on/off: ${result.medianRatio.toFixed(2)}×`,
  )
  if (process.env.DEDUP_OUT) fs.writeFileSync(process.env.DEDUP_OUT, JSON.stringify(result, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
