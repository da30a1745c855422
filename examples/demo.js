// The README's main job: builds a local message database through the native Engine and
// shows insert, history, search and the conversation list, with timings. No network is
// needed (the sync engine arrives with imsync-server; this demo is the local half).
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('../index.js')

const PRIVATE = 1
const GROUP = 3
const RECEIVE = 2

function ms(start) {
  return `${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(2)} ms`
}

async function timed(label, call) {
  const start = process.hrtime.bigint()
  const res = await call()
  if (res.code !== 0) throw new Error(`${label} failed: ${res.code} ${res.msg}`)
  console.log(`  ${label}  (${ms(start)})`)
  return res.data
}

function show(messages) {
  for (const m of messages) {
    const who = m.messageDirection === RECEIVE ? m.senderUserId : 'me'
    const text = m.content.content ?? m.content.name ?? JSON.stringify(m.content)
    console.log(`      [${new Date(m.sentTime).toISOString().slice(11, 19)}] ${who}: ${text}`)
  }
}

async function main() {
  const dbpath = fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-demo-'))
  console.log(`imsync demo: local message database under ${dbpath}\n`)
  const engine = new Engine({ appkey: 'demo-app', dbpath, logOutputLevel: 1 })
  await timed("open('alice')", () => engine.open('alice'))

  const bob = { conversationType: PRIVATE, targetId: 'bob' }
  const team = { conversationType: GROUP, targetId: 'team' }
  const t0 = Date.UTC(2026, 10, 21, 9, 0, 0)
  const chat = [
    [bob, 'bob', '早上好！今天的会议改到下午三点。'],
    [bob, 'alice', 'Good morning — 3 pm works for me.'],
    [team, 'carol', '季度报告的初稿已经发到群里了 📄'],
    [team, 'dave', 'Thanks Carol, I will review the Budget section.'],
    [bob, 'bob', '记得带上预算表。'],
    [team, 'carol', '会议纪要：预算需要在周五前确认。'],
  ]
  console.log('\n1. Insert a conversation history (kept sentTime, so imported history keeps its order)')
  await timed(`batchInsertMessage(${chat.length} messages)`, () =>
    engine.batchInsertMessage(
      chat.map(([conv, from, text], i) => ({
        ...conv,
        messageType: 'RC:TxtMsg',
        content: { content: text },
        senderUserId: from,
        messageDirection: from === 'alice' ? 1 : RECEIVE,
        sentTime: t0 + i * 60_000,
      })),
      false,
    ),
  )
  await timed('insertMessage(file message "预算表.xlsx")', () =>
    engine.insertMessage(bob, {
      messageType: 'RC:FileMsg',
      content: { name: '预算表.xlsx', size: 24_576, type: 'xlsx', fileUrl: 'https://files.example/1' },
      senderUserId: 'bob',
      messageDirection: RECEIVE,
      sentTime: t0 + 10 * 60_000,
    }, { isUnread: true }),
  )

  const bulk = 20_000
  const start = process.hrtime.bigint()
  const words = ['会议', '预算', '报告', 'meeting', 'budget', 'report', '你好', 'hello', '明天', 'tomorrow']
  for (let b = 0; b < bulk / 500; b++) {
    const batch = []
    for (let i = 0; i < 500; i++) {
      const n = b * 500 + i
      batch.push({
        conversationType: PRIVATE,
        targetId: `user${n % 100}`,
        messageType: 'RC:TxtMsg',
        content: { content: `${words[n % words.length]} #${n} ${words[(n * 7) % words.length]}` },
        senderUserId: `user${n % 100}`,
        messageDirection: RECEIVE,
        sentTime: t0 - (bulk - n) * 1000,
      })
    }
    const res = await engine.batchInsertMessage(batch, false)
    if (res.code !== 0) throw new Error(res.msg)
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9
  console.log(`  bulk import: ${bulk} messages over 100 conversations in ${(secs * 1000).toFixed(0)} ms (${Math.round(bulk / secs)} msgs/s)`)

  console.log('\n2. History (newest first), one page')
  const page = await timed('getHistoryMessages(bob, { count: 20 })', () => engine.getHistoryMessages(bob, { count: 20 }))
  show(page.list)

  console.log('\n3. Local search: exact substring, any length, Chinese included')
  for (const [conv, kw] of [[bob, '预'], [bob, '预算'], [team, '会议'], [team, 'budget'], [bob, 'xlsx']]) {
    const res = await timed(`searchMessages(${conv.targetId}, ${JSON.stringify(kw)})`, () =>
      engine.searchMessages(conv, kw, 0, 10),
    )
    console.log(`      ${res.count} match(es)`)
    show(res.messages)
  }
  const convs = await timed('searchConversationByContent("预算", [RC:TxtMsg, RC:FileMsg])', () =>
    engine.searchConversationByContent('预算', ['RC:TxtMsg', 'RC:FileMsg']),
  )
  console.log(`      found in: ${convs.map((c) => c.targetId).join(', ')}`)
  const fts = await timed('searchMessages(bob, \'AND NEAR( "*\') — FTS syntax is searched as text', () =>
    engine.searchMessages(bob, 'AND NEAR( "*', 0, 10),
  )
  console.log(`      ${fts.count} match(es)`)

  console.log('\n4. Conversation list (kept in the same transaction as every write)')
  const list = await timed('getConversationList(0, 5)', () => engine.getConversationList(0, 5))
  for (const c of list) {
    const last = c.latestMessage?.content?.content ?? c.latestMessage?.content?.name
    console.log(`      ${c.targetId.padEnd(8)} unread ${String(c.unreadMessageCount).padStart(2)}  last: ${last}`)
  }

  console.log('\n5. Bad input gets a clear error and changes nothing')
  const bad = await engine.getHistoryMessages(bob, { count: 101 })
  console.log(`      getHistoryMessages(bob, { count: 101 }) → ${bad.code} ${bad.msg}`)
  const room = await engine.insertMessage({ conversationType: 4, targetId: 'room' }, { messageType: 'RC:TxtMsg', content: { content: 'x' } })
  console.log(`      insertMessage(chatroom) → ${room.code} ${room.msg}`)

  await timed('close()', () => engine.close())
  fs.rmSync(dbpath, { recursive: true, force: true })
  console.log('\ndone.')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
