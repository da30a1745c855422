'use strict'
// Crash consistency: a child process (fixtures/crash-writer.js) writes 500-message batches
// with batchInsertMessage until the parent SIGKILLs it at a random moment after a few
// batches were acknowledged. The parent then opens the database and checks that every
// acknowledged batch is wholly present, every batch is wholly present or wholly absent
// (and present batches are a prefix), and the conversation rows and the search index agree
// with the messages. Kill points: on an ack, on the start of the next batch (a write in
// flight), and a random busy-wait after an ack. IMSYNC_CRASH_SEED replays a run's choices.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { fork } = require('node:child_process')

const { Engine, APPKEY, ME, tmpDir, ok, allMessages, rng, convKey } = require('./helpers/engine')
const { BATCH, CONVERSATIONS, batchMessages } = require('./fixtures/crash-batch')

const SEED = Number(process.env.IMSYNC_CRASH_SEED || Date.now() % 1e9)
const WRITER = path.join(__dirname, 'fixtures', 'crash-writer.js')

function busyWait(ms) {
  const until = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6))
  while (process.hrtime.bigint() < until);
}

/** Runs the writer until the plan says kill; resolves what the parent learned. */
function runWriter(dir, plan) {
  return new Promise((resolve, reject) => {
    const child = fork(WRITER, [dir, APPKEY, ME], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const acked = new Set()
    let maxStarted = -1
    let killed = false
    const kill = () => {
      if (!killed) {
        killed = true
        child.kill('SIGKILL')
      }
    }
    child.on('message', (m) => {
      // Messages that arrive after the kill are still true (an ack means the call resolved),
      // so they are recorded; they just trigger nothing.
      if (m.type === 'error') {
        // An error report from the writer is a failure (a write refused before any kill).
        const wasKilled = killed
        kill()
        if (!wasKilled) reject(new Error(`writer failed: ${JSON.stringify(m)}`))
        return
      }
      if (m.type === 'start') {
        maxStarted = Math.max(maxStarted, m.batch)
        if (!killed && plan.kind === 'on-start' && m.batch === plan.acks) kill()
      }
      if (m.type === 'ack') {
        acked.add(m.batch)
        if (!killed && acked.size >= plan.acks && plan.kind === 'on-ack') kill()
        if (!killed && acked.size >= plan.acks && plan.kind === 'after-ack') {
          busyWait(plan.waitMs)
          kill()
        }
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => resolve({ code, signal, acked, maxStarted, killed }))
  })
}

/** Reads the whole database back and checks it against the batches and itself. */
async function verify(engine, { acked }, label) {
  const perBatch = new Map() // batch -> count
  const perConvBatch = new Map() // convKey -> Map(batch -> count)
  const list = await ok(engine.getAllConversationList(), 'getAllConversationList')
  for (const c of CONVERSATIONS) {
    const all = await allMessages(engine, c)
    const counts = new Map()
    for (const m of all) {
      const match = /^batch:(\d+):(\d+) /.exec(m.content.content)
      assert.ok(match, `${label}: foreign message ${JSON.stringify(m.content)}`)
      const b = Number(match[1])
      perBatch.set(b, (perBatch.get(b) || 0) + 1)
      counts.set(b, (counts.get(b) || 0) + 1)
      assert.equal(m.messageUId, `b${b}-${match[2]}`)
    }
    perConvBatch.set(convKey(c), counts)
    // getMessageCount agrees with what paging sees.
    assert.equal(await ok(engine.getMessageCount(c)), all.length, `${label}: getMessageCount of ${convKey(c)}`)
    const row = list.find((x) => convKey(x) === convKey(c))
    if (all.length === 0) {
      if (row) assert.equal(row.latestMessage, null, `${label}: empty ${convKey(c)} has no latestMessage`)
      continue
    }
    assert.ok(row, `${label}: conversation row for ${convKey(c)}`)
    assert.equal(row.latestMessage && row.latestMessage.messageId, all[0].messageId, `${label}: latestMessage of ${convKey(c)}`)
    const unread = all.filter((m) => m.messageDirection === 2 && m.isCounted && !m.receivedStatusInfo.isRead)
    assert.equal(row.unreadMessageCount, unread.length, `${label}: unreadMessageCount of ${convKey(c)}`)
    assert.equal(row.lastUnreadTime, unread.length ? Math.max(...unread.map((m) => m.sentTime)) : 0, `${label}: lastUnreadTime`)
    assert.equal(row.hasMentioned, unread.some((m) => m.isMentioned), `${label}: hasMentioned of ${convKey(c)}`)
  }
  const present = [...perBatch.keys()].sort((a, b) => a - b)
  for (const b of present) assert.equal(perBatch.get(b), BATCH, `${label}: batch ${b} is partial (${perBatch.get(b)} of ${BATCH})`)
  for (const b of acked) assert.ok(perBatch.has(b), `${label}: acknowledged batch ${b} is missing`)
  present.forEach((b, i) => assert.equal(b, i, `${label}: present batches are a prefix (${present})`))
  // The search index agrees with the messages: the last present batch and the first absent one.
  const probe = [0, present.length - 1, present.length].filter((b) => b >= 0)
  for (const c of CONVERSATIONS) {
    for (const b of probe) {
      const want = perConvBatch.get(convKey(c)).get(b) || 0
      const r = await ok(engine.searchMessages(c, `batch:${b}:`, 0, 1), 'searchMessages')
      assert.equal(r.count, want, `${label}: search index of ${convKey(c)} for batch ${b}`)
    }
  }
  return present.length
}

test('a writer SIGKILLed mid-batchInsertMessage leaves whole batches and consistent conversation rows', async (t) => {
  const r = rng(SEED)
  const kinds = ['on-ack', 'on-start', 'after-ack', 'on-start', 'after-ack', 'on-ack']
  const started = Date.now()
  const summary = []
  for (let run = 0; run < kinds.length; run++) {
    if (Date.now() - started > 40000) break // keep the whole test well under a minute
    const plan = { kind: kinds[run], acks: r.int(2, 5), waitMs: r.next() * 120 }
    const label = `seed ${SEED} run ${run} ${JSON.stringify(plan)}`
    const dir = tmpDir('crash')
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const outcome = await runWriter(dir, plan)
    assert.equal(outcome.killed, true, `${label}: the parent killed the writer`)
    assert.equal(outcome.signal, 'SIGKILL', `${label}: exit ${outcome.code}`)
    const engine = new Engine({ appkey: APPKEY, dbpath: dir, logOutputLevel: 1 })
    t.after(() => engine.close())
    await ok(engine.open(ME), `${label}: reopen`)
    const present = await verify(engine, outcome, label)
    // The database keeps working: the next batch goes in whole.
    const next = await ok(engine.batchInsertMessage(batchMessages(present, ME), false), `${label}: insert after crash`)
    assert.deepEqual(next, { inserted: BATCH, duplicates: 0 })
    // The batch that was in flight (if it was lost) can be written again without duplicates.
    const again = await ok(engine.batchInsertMessage(batchMessages(present, ME), false))
    assert.deepEqual(again, { inserted: 0, duplicates: BATCH })
    await verify(engine, { acked: new Set([...outcome.acked, present]) }, `${label} (after)`)
    await ok(engine.close())
    summary.push(`${plan.kind}/${plan.acks}: acked ${outcome.acked.size}, started ${outcome.maxStarted + 1}, present ${present}`)
  }
  assert.ok(summary.length >= 3, 'at least three kill points were tried')
  t.diagnostic(`seed ${SEED}: ${summary.join('; ')}`)
})
