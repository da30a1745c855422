'use strict'
// Child process of local-db.js: times opening an existing database to its first answered
// query in a fresh process, the way an app starts. Prints one JSON line.
// IMSYNC_PROBE_KEY=<key> opens an encrypted database (encryptionKey).
//   node open-probe.js imsync   <dbpath> <userId>
//   node open-probe.js baseline <file>

const path = require('node:path')

const ms = (a, b) => Number(b - a) / 1e6

async function main() {
  const [mode, target, userId] = process.argv.slice(2)
  const t0 = process.hrtime.bigint()
  if (mode === 'imsync') {
    const { Engine } = require(path.join(__dirname, '..', 'index.js'))
    const t1 = process.hrtime.bigint()
    const options = { appkey: 'bench', dbpath: target, logOutputLevel: 1 }
    // The encryption comparison passes its key here (not on the command line).
    if (process.env.IMSYNC_PROBE_KEY) options.encryptionKey = process.env.IMSYNC_PROBE_KEY
    const engine = new Engine(options)
    const opened = await engine.open(userId)
    const t2 = process.hrtime.bigint()
    const first = await engine.getConversationList(0, 50)
    const t3 = process.hrtime.bigint()
    if (opened.code !== 0 || first.code !== 0 || !first.data.length) {
      throw new Error(`open ${JSON.stringify(opened)} / first query code ${first.code} ${first.msg || ''}`)
    }
    await engine.close()
    console.log(JSON.stringify({ requireMs: ms(t0, t1), openMs: ms(t1, t2), firstQueryMs: ms(t2, t3), totalMs: ms(t1, t3) }))
  } else {
    const { Baseline } = require('./baseline.js')
    const t1 = process.hrtime.bigint()
    const db = new Baseline(target)
    const t2 = process.hrtime.bigint()
    const first = db.getConversationList(0, 50)
    const t3 = process.hrtime.bigint()
    if (!first.data.length) throw new Error('baseline: empty conversation list')
    db.db.close()
    console.log(JSON.stringify({ requireMs: ms(t0, t1), openMs: ms(t1, t2), firstQueryMs: ms(t2, t3), totalMs: ms(t1, t3) }))
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
