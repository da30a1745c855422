'use strict'
// searchConversationByContent, one build against another (issue 13): the same corpus and
// keywords through two addon builds, alternating per keyword class, answers compared.
//
//   CS_A=/path/a.node CS_B=/path/b.node node --expose-gc benches/conversation-search.js
//
// Environment: CS_A, CS_B (the two .node files; B defaults to A), CS_MESSAGES (100000),
// CS_CALLS (60 timed calls per class and build). Each build runs in its own child process
// on a copy of one database written by build A, so both search the same file.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { generate, KEYWORD_CLASSES, sampleKeywords, rng } = require('./corpus.js')

const N = Number(process.env.CS_MESSAGES || 100_000)
const CALLS = Number(process.env.CS_CALLS || 60)
const A = process.env.CS_A
const B = process.env.CS_B || A
const USER = 'bench-user'
const TYPES = ['RC:TxtMsg']

const ok = (r, what) => {
  if (!r || r.code !== 0) throw new Error(`${what}: ${JSON.stringify(r)}`)
  return r.data
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}

/** Child: time every class's keywords through the build at argv[3] on the database at argv[4]. */
async function child(addon, dir, keywordsFile) {
  const { Engine } = require(addon)
  const engine = new Engine({ appkey: 'bench', dbpath: dir, logOutputLevel: 1 })
  ok(await engine.open(USER), 'open')
  const classes = JSON.parse(fs.readFileSync(keywordsFile, 'utf8'))
  const out = {}
  for (const [name, keywords] of Object.entries(classes)) {
    const times = []
    const answers = []
    for (let i = 0; i < keywords.length; i++) {
      const t0 = process.hrtime.bigint()
      const list = ok(await engine.searchConversationByContent(keywords[i], TYPES), 'search')
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      if (i >= 5) times.push(ms)
      answers.push(list.map((c) => c.targetId).sort().join(','))
    }
    out[name] = { p50: pct(times, 50), p99: pct(times, 99), n: times.length, answers }
  }
  ok(await engine.close(), 'close')
  process.stdout.write(JSON.stringify(out))
}

async function main() {
  if (!A) throw new Error('CS_A=<addon .node> is required')
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-cs-'))
  try {
    const corpus = generate({ messages: N, conversations: 1000 })
    const { Engine } = require(A)
    const db = path.join(work, 'db')
    const engine = new Engine({ appkey: 'bench', dbpath: db, logOutputLevel: 1 })
    ok(await engine.open(USER), 'open')
    for (let i = 0; i < N; i += 500) {
      const batch = []
      for (let j = i; j < Math.min(i + 500, N); j++) batch.push(corpus.message(j))
      ok(await engine.batchInsertMessage(batch, false), 'batchInsertMessage')
    }
    ok(await engine.close(), 'close')
    const rand = rng(11)
    const classes = {}
    for (const cls of KEYWORD_CLASSES) classes[cls.name] = sampleKeywords(corpus, cls, CALLS + 5, rand, false).map((k) => k.keyword)
    const keywordsFile = path.join(work, 'keywords.json')
    fs.writeFileSync(keywordsFile, JSON.stringify(classes))
    const run = (addon, tag) => {
      const copy = path.join(work, `db-${tag}`)
      fs.cpSync(db, copy, { recursive: true })
      const text = execFileSync(process.execPath, [__filename, 'child', addon, copy, keywordsFile], { maxBuffer: 1 << 30 })
      return JSON.parse(text)
    }
    const a = run(A, 'a')
    const b = run(B, 'b')
    const rows = []
    for (const name of Object.keys(classes)) {
      const same = a[name].answers.every((x, i) => x === b[name].answers[i])
      rows.push({ class: name, aP50: a[name].p50, aP99: a[name].p99, bP50: b[name].p50, bP99: b[name].p99, n: a[name].n, answersAgree: same })
    }
    console.log(JSON.stringify({ messages: N, load: os.loadavg()[0], rows }, null, 1))
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

if (process.argv[2] === 'child') child(process.argv[3], process.argv[4], process.argv[5]).catch((e) => { console.error(e); process.exit(1) })
else main().catch((e) => { console.error(e); process.exit(1) })
