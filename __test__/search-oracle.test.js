'use strict'
// Search against a brute-force oracle. A seeded corpus of mixed Chinese / English (varied
// case) / emoji (multi-code-point ones too) / digits / FTS-syntax text over ~20
// conversations, with file, reference, image and custom messages, is inserted through
// batchInsertMessage; then for many keywords of 1–8 code points searchMessages (count 100
// and paged via startTime), searchMessageInTimeRange and searchConversationByContent must
// return exactly the oracle's messages in the oracle's order (sentTime desc, messageId desc)
// with the oracle's total count.
//
// The oracle: fold each code point to its lowercase when that is one code point (else keep
// it); a message matches when one of its searchable texts (text → content.content, file →
// content.name, reference → content.content, custom → each searchProps value, never across
// two values) contains the folded keyword.
//
// Seed: IMSYNC_ORACLE_SEED (default fixed) — printed in every failure message.

const test = require('node:test')
const assert = require('node:assert/strict')

const {
  T0,
  PRIVATE,
  DISCUSSION,
  GROUP,
  CUSTOMER_SERVICE,
  SYSTEM,
  ME,
  openEngine,
  ok,
  conv,
  allMessages,
  convKey,
  rng,
  fold,
  foldChar,
} = require('./helpers/engine')

const SEED = Number(process.env.IMSYNC_ORACLE_SEED || 20241121)
const N_MESSAGES = 3500

const CJK = ['你好', '世界', '消息', '搜索', '数据库', '会议', '明天', '下午', '项目', '测试', '中文', '同步', '文件', '图片',
  '重要', '通知', '聊天', '记录', '我', '们', '的', '是', '在', '了', '不', '人', '有', '这', '一', '个', '上', '好',
  'こんにちは', 'カタカナ', '안녕하세요', '한국어']
const LATIN = ['Hello', 'hello', 'HELLO', 'world', 'World', 'Meeting', 'tomorrow', 'PROJECT', 'Search', 'database', 'sync',
  'Report', 'Q3', 'alpha', 'BETA', 'Gamma', 'release', 'Chat', 'iPhone', 'macOS', 'e-mail', 'the', 'a', 'of']
const CASED = ['Ärger', 'ärger', 'ÉCOLE', 'école', 'straße', 'STRASSE', 'ΣΟΦΙΑ', 'σοφία', 'Привет', 'МИР', 'мир',
  'İstanbul', 'ǅemal', 'ǆ', '\u212Aelvin', 'kelvin', '\u2126mega', 'ωmega', 'ẞ', 'Ǆ']
const EMOJI = ['😀', '👍', '👍🏽', '👨‍👩‍👧', '🇨🇳', '🇺🇸', '1️⃣', '❤️', '🎉', '🙂', '😀😀', '🔥']
const SYNTAX = ['"quoted"', '"', 'a*b', '*', 'NEAR(', 'NEAR(a b)', 'AND', 'OR', 'NOT', '-', '^', ':', 'key:value', '(', ')', '+',
  '{x}', "it's", '\\', '%', '_']

function makeText(r) {
  const parts = []
  const n = r.int(1, 12)
  for (let i = 0; i < n; i++) {
    const k = r.next()
    if (k < 0.35) parts.push(r.pick(CJK))
    else if (k < 0.6) parts.push(r.pick(LATIN))
    else if (k < 0.72) parts.push(r.pick(CASED))
    else if (k < 0.84) parts.push(r.pick(EMOJI))
    else if (k < 0.92) parts.push(String(r.int(0, 99999)))
    else parts.push(r.pick(SYNTAX))
  }
  let out = ''
  for (const p of parts) out += out && r.chance(0.6) ? ` ${p}` : p
  return out
}

const CONVERSATIONS = [
  conv(PRIVATE, 'alice', ''),
  conv(PRIVATE, 'bob', ''),
  conv(PRIVATE, 'carol', ''),
  conv(PRIVATE, 'dave', ''),
  conv(PRIVATE, 'erin', ''),
  conv(PRIVATE, 'alice', 'work'),
  conv(PRIVATE, 'frank', 'chA'),
  conv(GROUP, 'g-team', ''),
  conv(GROUP, 'g-team', 'chA'),
  conv(GROUP, 'g-team', 'chB'),
  conv(GROUP, 'g-family', ''),
  conv(GROUP, 'g-family', 'chA'),
  conv(GROUP, 'g-big', ''),
  conv(GROUP, 'alice', ''), // same target id as a private conversation
  conv(DISCUSSION, 'd-1', ''),
  conv(CUSTOMER_SERVICE, 'cs-1', ''),
  conv(SYSTEM, 'sys', ''),
  conv(SYSTEM, 'sys', 'chB'),
  conv(GROUP, 'g-quiet', ''),
  conv(PRIVATE, 'zed', ''),
]

/** Builds the corpus: inputs for batchInsertMessage plus the oracle's view of each. */
function buildCorpus(r) {
  const out = []
  const usedTimes = []
  for (let i = 0; i < N_MESSAGES; i++) {
    const c = r.chance(0.25) ? CONVERSATIONS[r.int(0, 2)] : r.pick(CONVERSATIONS) // some conversations are busier
    let sentTime
    if (usedTimes.length && r.chance(0.12)) sentTime = r.pick(usedTimes) // ties across and within conversations
    else sentTime = T0 + r.int(0, 50_000_000)
    usedTimes.push(sentTime)
    const incoming = r.chance(0.5)
    const sender = incoming ? (c.conversationType === PRIVATE ? c.targetId : r.pick(['ann', 'ben', 'cat', 'dan'])) : ME
    const uid = `o${i}`
    let messageType
    let content
    let fields
    const k = r.next()
    if (k < 0.66) {
      messageType = 'RC:TxtMsg'
      const text = makeText(r)
      content = { content: text, extra: makeText(r) }
      fields = [text]
    } else if (k < 0.74) {
      messageType = 'RC:FileMsg'
      const name = `${makeText(r)}.${r.pick(['pdf', 'TXT', 'docx', '文档'])}`
      content = { name, size: r.int(1, 1e7), type: 'file', fileUrl: `https://files/${makeText(r)}` }
      fields = [name]
    } else if (k < 0.8) {
      messageType = 'RC:ReferenceMsg'
      const text = makeText(r)
      content = { content: text, referMsg: { content: makeText(r) }, referMsgUserId: 'ann', objName: 'RC:TxtMsg' }
      fields = [text]
    } else if (k < 0.9) {
      messageType = 'app:card'
      const title = makeText(r)
      const desc = r.chance(0.85) ? makeText(r) : ''
      content = { title, desc, note: makeText(r) }
      fields = [title, desc].filter((s) => s.length > 0)
    } else if (k < 0.94) {
      messageType = 'app:plain'
      content = { title: makeText(r), text: makeText(r) }
      fields = []
    } else {
      messageType = 'RC:ImgMsg'
      content = { content: makeText(r), imageUri: `https://img/${makeText(r)}` }
      fields = []
    }
    out.push({
      input: {
        conversationType: c.conversationType,
        targetId: c.targetId,
        channelId: c.channelId,
        messageType,
        content,
        sentTime,
        senderUserId: sender,
        messageDirection: incoming ? 2 : 1,
        messageId: uid,
      },
      uid,
      key: convKey(c),
      conversationType: c.conversationType,
      targetId: c.targetId,
      channelId: c.channelId,
      messageType,
      sentTime,
      fields,
      folded: fields.map(fold),
      allText: JSON.stringify(content),
    })
  }
  return out
}

function codePoints(s) {
  return [...s]
}

/** Keywords: corpus substrings by code point, mixed-case variants, cross-field, non-searchable, absent. */
function buildKeywords(r, corpus) {
  const kws = new Set()
  const searchable = corpus.filter((m) => m.fields.length)
  const sub = (text) => {
    const cps = codePoints(text)
    const len = r.int(1, Math.min(8, cps.length))
    const start = r.int(0, cps.length - len)
    return cps.slice(start, start + len).join('')
  }
  for (let i = 0; i < 220; i++) kws.add(sub(r.pick(r.pick(searchable).fields)))
  // Mixed-case variants of sampled keywords.
  const sampled = [...kws]
  for (let i = 0; i < 70; i++) {
    const kw = r.pick(sampled)
    kws.add(
      codePoints(kw)
        .map((ch) => {
          const up = ch.toUpperCase()
          const low = ch.toLowerCase()
          const c = r.chance(0.5) ? up : low
          return codePoints(c).length === 1 ? c : ch
        })
        .join(''),
    )
  }
  // Across the two searchProps of a custom message (must only match within one value).
  for (const m of corpus.filter((x) => x.messageType === 'app:card' && x.fields.length === 2).slice(0, 15)) {
    const a = codePoints(m.fields[0])
    const b = codePoints(m.fields[1])
    kws.add(a.slice(-r.int(1, Math.min(3, a.length))).join('') + b.slice(0, r.int(1, Math.min(3, b.length))).join(''))
  }
  // Text found only in fields that are not searchable.
  for (const m of corpus.filter((x) => x.fields.length === 0 || x.messageType === 'RC:FileMsg').slice(0, 25)) {
    kws.add(sub(m.allText.replace(/[{}"\\]/g, ' ').trim() || 'x'))
  }
  // Probably absent: rare CJK, random ASCII, odd emoji joins, whitespace.
  const rare = '龘靐齉爩麤龖鱻骉猋毳淼森焱垚'
  for (let i = 0; i < 25; i++) {
    const len = r.int(1, 8)
    let s = ''
    for (let j = 0; j < len; j++) s += r.chance(0.5) ? rare[r.int(0, rare.length - 1)] : String.fromCharCode(r.int(33, 126))
    kws.add(s)
  }
  for (const k of [' ', '  ', '😀👍', '👨', '\u200d', '👧', '🏽', '\ufe0f', '🇨', 'ß', 'SS', 'ss', 'i̇', 'İ', 'k', 'K', '\u212A', 'ω', 'Ω', 'σ', 'Σ', 'ǆ', 'ǅ', 'Ǆ']) {
    kws.add(k)
  }
  return [...kws].filter((k) => k.length > 0 && codePoints(k).length <= 8)
}

function matches(m, kw) {
  const f = fold(kw)
  return m.folded.some((t) => t.includes(f))
}

function order(a, b) {
  return b.sentTime - a.sentTime || b.messageId - a.messageId
}

test('search calls agree with a brute-force substring oracle on a generated corpus', async (t) => {
  const r = rng(SEED)
  const { engine } = await openEngine(t)
  const tag = `seed ${SEED}`
  await ok(engine.registerMessageType('app:card', true, true, ['title', 'desc'], false))
  await ok(engine.registerMessageType('app:plain', true, true, [], false))
  const corpus = buildCorpus(r)
  for (let i = 0; i < corpus.length; i += 500) {
    const batch = corpus.slice(i, i + 500).map((m) => m.input)
    const res = await ok(engine.batchInsertMessage(batch, false), 'batchInsertMessage')
    assert.deepEqual(res, { inserted: batch.length, duplicates: 0 })
  }
  // Learn each message's local id.
  const byUid = new Map(corpus.map((m) => [m.uid, m]))
  for (const c of CONVERSATIONS) {
    const stored = await allMessages(engine, c)
    for (const s of stored) {
      const m = byUid.get(s.messageUId)
      assert.ok(m, `unknown stored message ${s.messageUId}`)
      assert.equal(m.key, convKey(s))
      m.messageId = s.messageId
    }
  }
  const live = () => corpus.filter((m) => !m.deleted)
  assert.ok(corpus.every((m) => typeof m.messageId === 'number'), 'every message was read back')
  const keywords = buildKeywords(r, corpus)
  assert.ok(keywords.length > 300, `${keywords.length} keywords`)

  const TYPE_FILTERS = [undefined, [], ['RC:TxtMsg'], ['RC:FileMsg', 'app:card'], ['RC:ReferenceMsg'], ['app:plain', 'RC:ImgMsg']]
  const targets = [...new Set(CONVERSATIONS.map((c) => `${c.conversationType}|${c.targetId}`))].map((s) => {
    const [type, targetId] = s.split('|')
    return { conversationType: Number(type), targetId }
  })
  let checks = 0

  const oracleSearch = (scope, kw, { before = Infinity, types, min = -Infinity, max = Infinity } = {}) =>
    live()
      .filter(
        (m) =>
          m.conversationType === scope.conversationType &&
          m.targetId === scope.targetId &&
          (scope.channelId === undefined || m.channelId === scope.channelId) &&
          m.sentTime < before &&
          m.sentTime >= min &&
          m.sentTime <= max &&
          (!types || types.length === 0 || types.includes(m.messageType)) &&
          matches(m, kw),
      )
      .sort(order)

  const same = (got, want, what) => {
    checks++
    const g = got.messages.map((m) => m.messageUId)
    const w = want.map((m) => m.uid)
    if (JSON.stringify(g) !== JSON.stringify(w)) {
      assert.deepEqual(g, w, `${tag}: ${what}`)
    }
    for (const m of got.messages) assert.equal(m.messageId, byUid.get(m.messageUId).messageId)
  }

  async function checkKeyword(kw, i) {
    const kr = rng(SEED + i * 7919)
    // searchMessages, count 100: one conversation with its channel, one target with all channels.
    const exact = kr.pick(CONVERSATIONS)
    const all = kr.pick(targets)
    for (const scope of [exact, all, { ...exact, channelId: undefined }]) {
      const types = kr.pick(TYPE_FILTERS)
      const want = oracleSearch(scope, kw, { types })
      const got = await ok(engine.searchMessages(scope, kw, 0, 100, types), `searchMessages ${kw}`)
      same(got, want.slice(0, 100), `searchMessages(${JSON.stringify(scope)}, ${JSON.stringify(kw)}, 0, 100, ${JSON.stringify(types)})`)
      assert.equal(got.count, want.length, `${tag}: count of searchMessages ${JSON.stringify(kw)} in ${JSON.stringify(scope)}`)
    }
    // Paging through the busiest matching target with startTime.
    if (i % 3 === 0) {
      const scope = kr.pick([targets[0], { conversationType: PRIVATE, targetId: 'bob' }, { conversationType: GROUP, targetId: 'g-team' }])
      const size = kr.int(1, 12)
      let start = 0
      for (let page = 0; page < 60; page++) {
        const want = oracleSearch(scope, kw, { before: start === 0 ? Infinity : start })
        const got = await ok(engine.searchMessages(scope, kw, start, size), 'searchMessages page')
        same(got, want.slice(0, size), `page ${page} of searchMessages(${JSON.stringify(scope)}, ${JSON.stringify(kw)}, ${start}, ${size})`)
        assert.equal(got.count, want.length, `${tag}: count of page ${page} for ${JSON.stringify(kw)}`)
        if (got.messages.length < size) break
        start = got.messages[got.messages.length - 1].sentTime
      }
    }
    // searchMessageInTimeRange: all channels, inclusive range, offset/limit.
    if (i % 2 === 0) {
      const scope = kr.pick(targets)
      const times = live().map((m) => m.sentTime)
      let a = kr.pick(times)
      let b = kr.chance(0.3) ? a : kr.pick(times)
      if (b < a) [a, b] = [b, a]
      if (kr.chance(0.2)) [a, b] = [0, T0 * 2]
      const want = oracleSearch(scope, kw, { min: a, max: b })
      const offset = kr.chance(0.5) ? 0 : kr.int(0, Math.max(0, want.length))
      const limit = kr.int(1, 100)
      const got = await ok(
        engine.searchMessageInTimeRange({ ...scope, channelId: kr.pick([undefined, '', 'chA']) }, { keyword: kw, startTime: a, endTime: b, offset, limit }),
        'searchMessageInTimeRange',
      )
      same(got, want.slice(offset, offset + limit), `searchMessageInTimeRange(${JSON.stringify(scope)}, ${JSON.stringify({ kw, a, b, offset, limit })})`)
      assert.equal(got.count, want.length, `${tag}: count of searchMessageInTimeRange ${JSON.stringify(kw)}`)
    }
    // searchConversationByContent: types and channel.
    const types = kr.pick([[], ['RC:TxtMsg'], ['RC:FileMsg', 'app:card'], ['RC:ReferenceMsg', 'RC:TxtMsg']])
    const channel = kr.pick([undefined, undefined, '', 'chA', 'chB'])
    const wantConvs = new Set(
      live()
        .filter((m) => (channel === undefined || m.channelId === channel) && (types.length === 0 || types.includes(m.messageType)) && matches(m, kw))
        .map((m) => m.key),
    )
    const got = await ok(engine.searchConversationByContent(kw, types, channel), 'searchConversationByContent')
    checks++
    assert.deepEqual(got.map(convKey).sort(), [...wantConvs].sort(), `${tag}: searchConversationByContent(${JSON.stringify(kw)}, ${JSON.stringify(types)}, ${JSON.stringify(channel)})`)
    const st = got.map((c) => c.sortTime)
    assert.deepEqual(st, [...st].sort((x, y) => y - x), `${tag}: conversations most recent first`)
  }

  const runAll = async (list, offset) => {
    const CONCURRENCY = 6
    for (let i = 0; i < list.length; i += CONCURRENCY) {
      await Promise.all(list.slice(i, i + CONCURRENCY).map((kw, j) => checkKeyword(kw, offset + i + j)))
    }
  }
  await runAll(keywords, 0)

  // The index follows deletes: delete some messages by id, some by time, one whole conversation.
  const victims = r.shuffle(live().filter((m) => m.key === convKey(CONVERSATIONS[0]))).slice(0, 60)
  for (let i = 0; i < victims.length; i += 20) {
    const chunk = victims.slice(i, i + 20)
    await ok(engine.deleteMessages(chunk.map((m) => m.messageId)))
    for (const m of chunk) m.deleted = true
  }
  const cut = T0 + 20_000_000
  await ok(engine.deleteMessagesByTimestamp(CONVERSATIONS[7], cut, false))
  for (const m of live()) if (m.key === convKey(CONVERSATIONS[7]) && m.sentTime < cut) m.deleted = true
  await ok(engine.clearMessages(CONVERSATIONS[1]))
  for (const m of live()) if (m.key === convKey(CONVERSATIONS[1])) m.deleted = true
  await runAll(r.shuffle([...keywords]).slice(0, 120), 100000)
  t.diagnostic(`${tag}: ${corpus.length} messages, ${keywords.length} keywords, ${checks} comparisons`)
  assert.ok(checks > 1500, `${checks} comparisons`)
  await ok(engine.close())
})

test('oracle self-check: the fold keeps one code point per code point', () => {
  assert.equal(fold('HeLLo'), 'hello')
  assert.equal(fold('İ'), 'İ', 'İ lowercases to two code points, so it is kept')
  assert.equal(fold('\u212A'), 'k', 'Kelvin sign folds to k')
  assert.equal(fold('ẞ'), 'ß')
  assert.equal(fold('ΣΟΦΙΑ'), 'σοφια')
  assert.equal(foldChar('ǅ'), 'ǆ')
  assert.equal(fold('你好😀'), '你好😀')
})

test('control characters in text and keywords are plain text too (U+0000, U+001F, tab, newlines)', async (t) => {
  const { engine } = await openEngine(t)
  const c = conv(PRIVATE, 'ctl', '')
  const docs = ['ab\u001fcd', 'x\u0000y', 'tab\there', 'new\nline', 'cr\r\nlf', 'plain b c text', 'unit\u001f']
  const stored = []
  for (let i = 0; i < docs.length; i++) {
    stored.push(await ok(engine.insertMessage(c, { messageType: 'RC:TxtMsg', content: { content: docs[i] }, sentTime: T0 + i })))
  }
  const failures = []
  for (const kw of ['b\u001fc', 'b c', '\u001f', 't\u001f', '\u0000', 'x\u0000y', 'x\u0000', '\t', 'b\th', '\n', '\r\n', 'ab']) {
    const want = stored.filter((m) => fold(m.content.content).includes(fold(kw))).sort(order).map((m) => m.messageId)
    const r = await engine.searchMessages(c, kw, 0, 100)
    const got = r.code === 0 ? r.data.messages.map((m) => m.messageId) : `code ${r.code}: ${r.msg}`
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${JSON.stringify(kw)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
    const rc = await engine.searchConversationByContent(kw, [])
    const gotConvs = rc.code === 0 ? rc.data.length : `code ${rc.code}: ${rc.msg}`
    if (gotConvs !== (want.length ? 1 : 0)) failures.push(`searchConversationByContent ${JSON.stringify(kw)}: ${gotConvs}`)
  }
  assert.deepEqual(failures, [])
  await ok(engine.close())
})
