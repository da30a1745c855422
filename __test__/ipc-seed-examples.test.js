'use strict'
// The vendor docs' Electron code examples (seed 002, copied verbatim into
// electron/fixtures/seed-examples.js) run unchanged against imsync:
// - the vendor's main.js (RCInit, BrowserWindow with contextIsolation off, rcService.destroy
//   on before-quit) and preload.js (require the renderer module, initContextBridge) run in
//   the stand-in Electron with `@rongcloud/electron(-renderer)` resolving to imsync;
// - every page example runs with `RongIMLib` bound to the renderer API object, in that
//   vendor window and in a secure window (contextIsolation, sandbox), and what each example
//   saw is exactly what the Engine resolved.
// Only the placeholders that are not JavaScript (`[<messageId>]`, `'<path/to/preload.js>'`)
// and the example message id `1` are replaced; the string placeholders ('<目标用户ID>' …) stay
// as they are (they are valid ids). Two examples use `option` but declare `options` (a typo
// in the seed): they are run as printed (a ReferenceError before any call) and once with the
// typo fixed. The media senders' examples are not JavaScript as printed (a SyntaxError) and
// run once more with the printing errors fixed (their `file` placeholder given a value); the
// translate plugin's walk-through (its steps 2–5, run as one script) gets a stand-in
// installer for '@rongcloud/plugin-translate' in place of its `import` lines; `<时间戳>` is a
// time stamp. Calls imsync does not serve yet (media uploads; remote delete until the Engine
// has it) must answer 35004 naming themselves.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const h = require('./electron/harness')
const { electron, Engine } = h
const seed = require('./electron/fixtures/seed-examples')
const rcElectron = require('@rongcloud/electron')

const byName = Object.fromEntries(seed.map((s) => [s.name, s]))
// A snippet that `follows` another runs appended to it (seed-examples.js).
const PAGE = seed.filter((s) => s.world === 'page' && !s.follows)
const followersOf = (name) => seed.filter((s) => s.follows === name)

const direct = (engine, method, ...args) => Engine.prototype[method].apply(engine, args)
const T_OLD = 1632728000000 // before the examples' fixed timestamps (1632728573423)

/** Data the examples look for, written with the Engine directly (not through the spy). */
async function seedData(engine) {
  const ok = async (p) => {
    const r = await p
    assert.equal(r.code, 0, JSON.stringify(r))
    return r.data
  }
  const ins = (targetId, content, extra = {}, type = 1) =>
    ok(direct(engine, 'insertMessage', { conversationType: type, targetId }, { messageType: 'RC:TxtMsg', content: { content }, ...extra }))
  // getHistoryMessages / …ByMessageTypes / …AroundTimestamp use '<目标用户Id>'.
  await ins('<目标用户Id>', 'first', { sentTime: T_OLD })
  await ins('<目标用户Id>', 'second', { sentTime: T_OLD + 1 })
  await ok(direct(engine, 'insertMessage', { conversationType: 1, targetId: '<目标用户Id>' }, { messageType: 'RC:FileMsg', content: { name: 'a.txt', size: 1, type: 'txt', fileUrl: 'x' }, sentTime: T_OLD + 2 }))
  // The status examples' message: a received message.
  const received = await ins('user1', 'received message', { senderUserId: 'user1', messageDirection: 2 })
  return { received }
}

/** Per-example setup, run just before it (the examples clear '<目标用户ID>' on the way). */
const before = {
  'electronExtension.searchMessages': (e) =>
    direct(e, 'insertMessage', { conversationType: 1, targetId: '<目标用户ID>', channelId: '' }, { messageType: 'RC:TxtMsg', content: { content: '这里有搜索关键字' }, sentTime: T_OLD }),
  'electronExtension.searchMessageInTimeRange': (e) =>
    direct(e, 'insertMessage', { conversationType: 1, targetId: '<目标用户ID>' }, { messageType: 'RC:TxtMsg', content: { content: 'hello there' }, sentTime: T_OLD + 10 }),
  'electronExtension.searchMessagesByUser': (e) =>
    direct(e, 'insertMessage', { conversationType: 1, targetId: '<会话 ID>', channelId: '' }, { messageType: 'RC:TxtMsg', content: { content: 'by user' }, senderUserId: '用户 ID', messageDirection: 2, sentTime: T_OLD }),
  'electronExtension.searchConversationByContent': (e) =>
    direct(e, 'insertMessage', { conversationType: 1, targetId: 'kw' }, { messageType: 'RC:TxtMsg', content: { content: 'has <keyword> inside' } }),
}

/** The media senders' examples (upload, then send): run with a placeholder file. */
const MEDIA_EXAMPLES = ['sendFileMessage', 'sendHQVoiceMessage', 'sendSightMessage']
/** The time stamp the examples use for `<时间戳>`. */
const TIMESTAMP = 1632728573423

/**
 * The media examples with their two printing errors fixed (a comment's second line printed as
 * code inside `options`, and `},` ending the `const` before the call) and the `file`
 * placeholder ("待上传文件", the file to upload) given a value.
 */
function fixedMediaExample(code) {
  return code
    .replace(/\n\s*'attachment': 直接下载。[^\n]*/, '')
    .replace(/\n},\n/, '\n}\n')
    .replace(/(\n\s*)file, \/\/ 待上传文件/, "$1file: { name: 'report.pdf', size: 3, type: 'application/pdf' }, // 待上传文件")
}

/**
 * Stand-in for '@rongcloud/plugin-translate' (page code): the vendor's translate plugin calls
 * RongCloud's translation service, which imsync has no stand-in for; this installer follows
 * the same plugin contract and records what the seed's walk-through does with it.
 */
const TRANSLATE_STAND_IN = `
  globalThis.translateLog = []
  globalThis.RCTranslateStandIn = {
    LanguageVerify: { zh_CN: 'zh_CN', en: 'en' },
    TranslateCode: { TranslateCodeSuccess: 0 },
    installer: {
      tag: 'RCTranslate',
      verify(runtime) {
        translateLog.push(['verify', runtime.tag])
        return true
      },
      setup(context, runtime, options) {
        const calls = ['getAppkey', 'getCurrentUserId', 'getOSInfo', 'sendMessage'].filter((k) => typeof context[k] === 'function')
        translateLog.push(['setup', calls, runtime.tag, options === undefined])
        const client = {
          isSupport() {
            translateLog.push(['isSupport', this === client])
            return true
          },
          setAuthToken(token) {
            translateLog.push(['setAuthToken', token, this === client])
          },
          translateText(params) {
            translateLog.push(['translateText', params, this === client])
            return Promise.resolve({ code: 0, data: '[' + params.source + '→' + params.target + '] ' + params.content, msg: '' })
          },
        }
        return client
      },
    },
  }
`

/** The example code to run, with its non-JavaScript placeholders filled in. */
function codeOf(example, ctx) {
  let code = example.code
  // An import is not a statement a page script can eval: the modules are bound instead.
  if (example.name === 'installPlugin (translate plugin)') {
    code = code
      .replace("import * as RCTranslate from '@rongcloud/plugin-translate'", 'const RCTranslate = globalThis.RCTranslateStandIn')
      .replace("import * as RongIMLib from '@rongcloud/imlib-next'", '')
  }
  for (const next of followersOf(example.name)) code += `\n${next.code}`
  if (example.name === 'clearHistoryMessages') code = code.replace('<时间戳>', String(TIMESTAMP))
  if (example.name === 'electronExtension.deleteMessages') code = code.replace('[<messageId>]', `[${ctx.deletable}]`)
  if (/setMessage(ReceivedStatusInfo|ReceivedStatus|SentStatus)$/.test(example.name)) {
    code = code.replace('const messageId = 1 //', `const messageId = ${ctx.received} //`)
  }
  return code
}

const RUNNER = `
  globalThis.seedLog = []
  globalThis.seedWaiters = new Set()
  globalThis.seedWait = (pred) => new Promise((resolve) => {
    const check = () => {
      if (seedLog.some(pred)) {
        seedWaiters.delete(check)
        resolve()
      }
    }
    seedWaiters.add(check)
    check()
  })
  // watch: API member names whose answers are recorded (for examples that do not log them).
  globalThis.runSeed = async (RongIMLib, name, code, watch) => {
    const answers = []
    if (watch && watch.length) {
      const inner = RongIMLib
      RongIMLib = Object.create(inner)
      for (const n of watch) {
        // defineProperty: a frozen API object's members would refuse an assignment.
        Object.defineProperty(RongIMLib, n, {
          value: (...a) => {
            const p = inner[n](...a)
            Promise.resolve(p).then((v) => answers.push([n, v]))
            return p
          },
        })
      }
    }
    const tag = (level) => (...args) => {
      seedLog.push({ name, level, args })
      for (const w of [...seedWaiters]) w()
    }
    const console = { log: tag('log'), warn: tag('warn'), error: tag('error'), info: tag('info') }
    // Direct eval inside a function whose parameters are RongIMLib and console: the example's
    // own top-level declarations stay in the eval; its completion value is its promise chain.
    const run = new Function('RongIMLib', 'console', 'return eval(arguments[2])')
    let value
    let threw = null
    try {
      value = run(RongIMLib, console, code)
      if (value && typeof value.then === 'function') value = await value
    } catch (e) {
      threw = String(e && e.message ? e.message : e)
    }
    return { threw, answers, value: typeof value === 'function' ? 'function' : value, logs: seedLog.filter((l) => l.name === name).map((l) => [l.level, ...l.args]) }
  }
`

/** Runs every page example in `win` (RongIMLib = `rong` in the page) and checks each. */
async function runPageExamples(win, rong, service, spy) {
  const engine = service.engine
  const ctx = await seedData(engine)
  ctx.received = ctx.received.messageId
  const deletable = await direct(engine, 'insertMessage', { conversationType: 1, targetId: '<目标用户ID>' }, { messageType: 'RC:TxtMsg', content: { content: 'to delete' } })
  ctx.deletable = deletable.data.messageId
  await h.page(win, RUNNER + TRANSLATE_STAND_IN)
  const run = async (name, code, watch) => {
    const from = spy.calls.length
    const r = await h.page(win, `return await runSeed(${rong}, ${JSON.stringify(name)}, ${JSON.stringify(code)}, ${JSON.stringify(watch || [])})`)
    r.calls = spy.calls.slice(from)
    // (registerMessageType answers nothing the example waits for: let its call settle.)
    await Promise.all(r.calls.map((c) => c.promise))
    return r
  }
  const results = {}
  for (const ex of PAGE) {
    if (before[ex.name]) assert.equal((await before[ex.name](engine)).code, 0)
    results[ex.name] = await run(ex.name, codeOf(ex, ctx))
  }
  const only = (name, method) => {
    const r = results[name]
    assert.equal(r.threw, null, `${name} threw ${r.threw}`)
    assert.deepEqual(r.calls.map((c) => c.method), [method], name)
    return { r, result: r.calls[0].result, args: r.calls[0].args }
  }
  const logOf = (r) => r.logs.map((l) => l.slice(1))

  // init: resolves at once, reaches nothing.
  assert.equal(results.init.threw, null)
  assert.deepEqual(results.init.value, { code: 0 })
  assert.deepEqual(results.init.calls, [])

  // connect: the Engine's answer, seen by the example (no serverUrl here: refused at once).
  {
    const { r, result } = only('connect', 'connect')
    assert.deepEqual(r.calls[0].args, ['<Your-Token>'])
    if (result.code === 0) assert.deepEqual(logOf(r), [['连接成功，连接用户 id 为: ', result.data.userId]])
    else assert.deepEqual(r.logs, [['warn', '连接失败，code:', result.code]])
  }

  // Events: the listener examples, driven by engine events, observed through sentinels.
  {
    const log = () => h.page(win, 'return seedLog.map((l) => [l.name, ...l.args])')
    // Resolves when a matching log entry exists (the control call has a 10 s deadline).
    const wait = (pred) => h.page(win, `await seedWait(${pred})`, 10000)
    h.emitEngineEvent(engine, 'CONNECTING', undefined)
    h.emitEngineEvent(engine, 'CONNECTED', undefined)
    await wait(`(l) => l.args[0] === '已经连接到服务器'`)
    let all = await log()
    assert.ok(all.some((l) => l[1] === '正在连接服务器'))
    // The MESSAGES listeners were all removed by the last listener example
    // (removeEventListeners(Events.MESSAGES)): a MESSAGES event logs nothing.
    const count = all.length
    h.emitEngineEvent(engine, 'MESSAGES', { messages: [{ messageUId: 'x' }] })
    h.emitEngineEvent(engine, 'CONNECTED', undefined)
    await wait(`(l, i) => i >= ${count} && l.args[0] === '已经连接到服务器'`)
    all = await log()
    assert.deepEqual(all.slice(count).map((l) => l[1]), ['已经连接到服务器'])
  }

  // setCheckDuplicateMessage(false)
  assert.deepEqual(only('electronExtension.setCheckDuplicateMessage', 'setCheckDuplicateMessage').args, [false])

  // getHistoryMessages (local): the example logs list and hasMore.
  {
    const { r, result } = only('getHistoryMessages (local)', 'getHistoryMessages')
    assert.equal(result.code, 0)
    assert.equal(result.data.list.length, 3)
    assert.deepEqual(logOf(r), [[result.data.list], [result.data.hasMore]])
  }

  // The two examples with the seed's `option`/`options` typo.
  for (const [name, method, check] of [
    ['electronExtension.getHistoryMessagesByMessageTypes', 'getHistoryMessagesByMessageTypes', (res, r) => {
      assert.deepEqual(res.data.list.map((m) => m.messageType), ['RC:TxtMsg', 'RC:TxtMsg'])
      assert.deepEqual(logOf(r), [[res.data.list], [res.data.hasMore]])
    }],
    ['electronExtension.getMessagesAroundTimestamp', 'getMessagesAroundTimestamp', (res, r) => {
      assert.equal(res.data.length, 3)
      assert.deepEqual(logOf(r), [[res.data]])
    }],
  ]) {
    const asPrinted = results[name]
    assert.match(asPrinted.threw, /option is not defined/, `${name} as printed`)
    assert.deepEqual(asPrinted.calls, [])
    const fixed = await run(`${name} (typo fixed)`, byName[name].code.replace(/\(conversation, option\)/, '(conversation, options)'))
    assert.equal(fixed.threw, null)
    assert.deepEqual(fixed.calls.map((c) => c.method), [method])
    assert.equal(fixed.calls[0].result.code, 0, JSON.stringify(fixed.calls[0].result))
    check(fixed.calls[0].result, fixed)
  }

  // Calls the Engine may not have yet: the example logs the code and message it got.
  for (const [name, method] of [
    ['getRemoteHistoryMessages', 'getRemoteHistoryMessages'],
    ['electronExtension.getContinuousMessages', 'getContinuousMessages'],
    ['recallMessage', 'recallMessage'],
  ]) {
    const r = results[name]
    assert.equal(r.threw, null, name)
    if (typeof Engine.prototype[method] !== 'function') {
      assert.deepEqual(r.calls, [])
      assert.deepEqual(logOf(r), [[35004, `not supported yet: ${method}`]], name)
    } else {
      assert.deepEqual(r.calls.map((c) => c.method), [method])
    }
  }

  // insertMessage: the example's message comes back stored.
  {
    const { r, result } = only('electronExtension.insertMessage', 'insertMessage')
    assert.equal(result.code, 0)
    assert.equal(result.data.senderUserId, '<userId>')
    assert.equal(result.data.messageDirection, 1)
    assert.deepEqual(result.data.content, { content: '插入一条消息' })
    assert.deepEqual(logOf(r), [['消息插入成功', result.data]])
  }
  {
    const { r, result } = only('electronExtension.batchInsertMessage', 'batchInsertMessage')
    assert.deepEqual(result, { code: 0, data: { inserted: 1, duplicates: 0 } })
    assert.deepEqual(logOf(r), [['批量插入成功', result.data]])
  }
  for (const name of ['electronExtension.clearMessages', 'electronExtension.deleteMessagesByTimestamp']) {
    const { r, result } = only(name, name.split('.')[1])
    assert.deepEqual(result, { code: 0 })
    assert.deepEqual(logOf(r), [['成功清理此会话下的消息']])
  }
  {
    const { r, result, args } = only('electronExtension.deleteMessages', 'deleteMessages')
    assert.deepEqual(args, [[ctx.deletable]])
    assert.deepEqual(result, { code: 0 })
    assert.deepEqual(logOf(r), [['成功删除消息']])
  }
  // Search: `{ messages, count }` logged as res.data.
  for (const [name, method, expected] of [
    ['electronExtension.searchMessages', 'searchMessages', 1],
    ['electronExtension.searchMessageInTimeRange', 'searchMessageInTimeRange', 1],
    ['electronExtension.searchMessagesByUser', 'searchMessagesByUser', 1],
  ]) {
    const { r, result } = only(name, method)
    assert.equal(result.code, 0, JSON.stringify(result))
    assert.equal(result.data.count, expected, name)
    assert.deepEqual(logOf(r), [[0, result.data]])
  }
  // registerMessageType: the example keeps the class in a const (its completion value is
  // empty); the registration reached the engine. (The class itself: ipc-bridge.test.js.)
  {
    const { args, result } = only('registerMessageType', 'registerMessageType')
    assert.deepEqual(args, ['s:person', true, true, [], false])
    assert.deepEqual(result, { code: 0 })
  }
  // Message status examples: each logs res.code.
  for (const [name, method, args] of [
    ['electronExtension.setMessageReceivedStatusInfo', 'setMessageReceivedStatusInfo', [ctx.received, { isRead: true, isListened: true, isDownload: false, isRetrieved: false }]],
    ['electronExtension.setMessageReceivedStatus', 'setMessageReceivedStatus', [ctx.received, 1]],
    ['electronExtension.setMessageSentStatus', 'setMessageSentStatus', [ctx.received, 30]],
    ['electronExtension.setMessageStatusToRead', 'setMessageStatusToRead', [{ conversationType: 1, targetId: '<目标用户ID>', channelId: '' }, 1632728573423]],
  ]) {
    const got = only(name, method)
    assert.deepEqual(got.args, args, name)
    assert.equal(got.result.code, 0, `${name}: ${JSON.stringify(got.result)}`)
    assert.deepEqual(logOf(got.r), [[0]])
  }
  // Conversations: res.code and res.data logged.
  for (const [name, method, check] of [
    ['electronExtension.getAllConversationList', 'getAllConversationList', (d) => assert.ok(d.length >= 4)],
    ['electronExtension.getConversationList', 'getConversationList', (d) => {
      const all = results['electronExtension.getAllConversationList'].calls[0].result.data
      assert.deepEqual(d, all.slice(0, 10))
    }],
    ['electronExtension.getConversations', 'getConversations', (d) => assert.deepEqual(d.map((c) => c.targetId), ['user1'])],
    ['electronExtension.searchConversationByContent', 'searchConversationByContent', (d) => assert.deepEqual(d.map((c) => c.targetId), ['kw'])],
  ]) {
    const { r, result } = only(name, method)
    assert.equal(result.code, 0)
    check(result.data)
    assert.deepEqual(logOf(r), [[0, result.data]])
  }
  // The quick start's getConversationList(): with no argument, every conversation (the seed:
  // on Electron the vendor ignores the parameters and answers the whole list).
  {
    const { r, result } = only('getConversationList() (quick start)', 'getAllConversationList')
    assert.equal(result.code, 0)
    assert.ok(result.data.length >= 3, JSON.stringify(result.data.map((c) => c.targetId)))
    assert.deepEqual(logOf(r), [['获取会话列表成功', result.data]])
  }
  // The quick start's sendMessage: not connected here (no server), so the send fails with
  // 30002 and the example logs that code; the message is stored FAILED.
  {
    const { r, result, args } = only('sendMessage (quick start)', 'sendMessage')
    assert.deepEqual(args[0], { targetId: '<TargetId>', conversationType: 1 })
    assert.deepEqual({ messageType: args[1].messageType, content: args[1].content }, { messageType: 'RC:TxtMsg', content: { content: 'message content' } })
    assert.equal(result.code, 30002, JSON.stringify(result))
    assert.equal(result.data.sentStatus, 20)
    assert.deepEqual(logOf(r), [['消息发送失败: ', 30002]])
  }
  // The quick start's getHistoryMessages (timestamp: now, count 20): the failed message.
  {
    const { r, result, args } = only('getHistoryMessages (quick start)', 'getHistoryMessages')
    assert.equal(typeof args[1].timestamp, 'number')
    assert.equal(args[1].count, 20)
    assert.equal(result.code, 0)
    assert.deepEqual(result.data.list.map((m) => m.content.content), ['message content'])
    assert.deepEqual(logOf(r), [['获取历史消息成功', result.data.list, false]])
  }
  // The media senders' examples: as printed they are not JavaScript (a comment's second line
  // printed as code, `},` before the call): a SyntaxError before any call. With those fixed,
  // each sender refuses the placeholder (not a File) naming msgBody.file, without reaching the
  // main process (ipc-media.test.js sends real files).
  for (const name of MEDIA_EXAMPLES) {
    const asPrinted = results[name]
    assert.match(asPrinted.threw, /Unexpected/, `${name} as printed`)
    assert.deepEqual(asPrinted.calls, [])
    const fixed = await run(`${name} (printing errors fixed)`, fixedMediaExample(byName[name].code), [name])
    assert.equal(fixed.threw, null, `${name} fixed: ${fixed.threw}`)
    assert.deepEqual(fixed.calls, [], `${name}: nothing reaches the engine`)
    assert.equal(fixed.answers.length, 1, name)
    const [[member, answer]] = fixed.answers
    assert.equal(member, name)
    // The placeholder file is a plain object, not a File: refused in the window (33003).
    assert.equal(answer.code, 33003, `${name}: ${JSON.stringify(answer)}`)
    assert.match(answer.msg, new RegExp(`\\b${name}\\b.*msgBody\\.file`))
    assert.deepEqual(fixed.logs, [], 'the example logs only a success')
  }
  // sendTypingStatusMessage: its completion value is the call's answer (not connected: 30002).
  {
    const { r, result, args } = only('sendTypingStatusMessage', 'sendTypingStatusMessage')
    assert.deepEqual(args, [{ conversationType: 1, targetId: '<targetId>' }, 'RC:TxtMsg'])
    assert.equal(result.code, 30002)
    assert.deepEqual(r.value, result)
  }
  // getFirstUnreadMessageInfo: nothing unread there → data null, logged.
  {
    const { r, result } = only('getFirstUnreadMessageInfo', 'getFirstUnreadMessageInfo')
    assert.deepEqual(result, { code: 0, data: null })
    assert.deepEqual(logOf(r), [[null]])
  }
  // Remote delete (the top-level deleteMessages and clearHistoryMessages): the Engine's
  // deleteRemoteMessages / clearHistoryMessages when it has them (not connected here, so the
  // example logs the code and message it got), else 35004 naming the call, without reaching
  // the main process.
  for (const [name, method, expectedArgs] of [
    ['deleteMessages (remote)', 'deleteRemoteMessages', [
      { conversationType: 1, targetId: '<目标用户ID>' },
      [
        { messageId: 'BS40-P5A0-D106-9GPP', sentTime: 1632728405345, messageDirection: 1 },
        { messageId: 'BS40-QEBR-VJM6-9GPP', sentTime: 1632728573423, messageDirection: 1 },
      ],
    ]],
    ['clearHistoryMessages', 'clearHistoryMessages', [{ conversationType: 1, targetId: '<目标用户ID>' }, TIMESTAMP]],
  ]) {
    const r = results[name]
    assert.equal(r.threw, null, name)
    if (typeof Engine.prototype[method] !== 'function') {
      assert.deepEqual(r.calls, [], name)
      // Answered by the renderer object (the member is not forwarded yet) or, when js/methods.js
      // lists the method before the addon has it, by the main process; either names the call.
      const member = name.split(' ')[0]
      const logs = logOf(r)
      assert.equal(logs.length, 1, name)
      assert.equal(logs[0][0], 35004, name)
      assert.ok(
        logs[0][1] === `imsync: ${member} is not supported by imsync (not an IMLib call it serves)` || logs[0][1] === `not supported yet: ${method}`,
        `${name}: ${JSON.stringify(logs)}`,
      )
    } else {
      const { result, args } = only(name, method)
      assert.deepEqual(args, expectedArgs, name)
      if (result.code === 0) assert.deepEqual(logOf(r), [[name === 'clearHistoryMessages' ? '清除成功' : '删除成功']])
      else assert.deepEqual(logOf(r), [[result.code, result.msg]], name)
    }
  }
  // getConversationList({ count, startTime, order }): order 0 from now, 10 at most: the
  // Engine's page of the local list.
  {
    const { r, result, args } = only('getConversationList({ count, startTime, order })', 'getConversationList')
    assert.deepEqual(args, [0, 10])
    assert.equal(result.code, 0)
    assert.ok(result.data.length >= 3)
    assert.deepEqual(logOf(r), [[0, result.data]])
  }
  // The ByLevels examples (the seed prints them for the Web SDK) list ULTRA_GROUP, which the
  // Electron solution stores nothing of: accepted as printed, it adds 0. Without it, the
  // same count.
  for (const name of ['getTotalUnreadCountByLevels', 'getTotalUnreadMentionedCountByLevels']) {
    const { r, result, args } = only(name, name)
    assert.deepEqual(args, [[1, 3, 10], [1, 2]])
    assert.deepEqual(result, { code: 0, data: 0 })
    assert.deepEqual(logOf(r), [[0]])
    const plain = await run(`${name} (without ULTRA_GROUP)`, byName[name].code.replace('  RongIMLib.ConversationType.ULTRA_GROUP,\n', ''))
    assert.deepEqual(plain.calls.map((c) => [c.method, c.args]), [[name, [[1, 3], [1, 2]]]])
    assert.deepEqual(plain.calls[0].result, { code: 0, data: 0 })
    assert.deepEqual(logOf(plain), [[0]])
  }
  // The translate plugin's walk-through (steps 2–5), with a stand-in installer: init,
  // installPlugin returns setup's client (its methods see `this` as that client), connect
  // (no server here: refused at once), then isSupport, setAuthToken, translateText.
  {
    const r = results['installPlugin (translate plugin)']
    assert.equal(r.threw, null)
    assert.deepEqual(r.calls.map((c) => c.method), ['connect'])
    assert.deepEqual(r.calls[0].args, ['<token>'])
    assert.notEqual(r.calls[0].result.code, 0)
    assert.deepEqual(logOf(r), [['翻译成功', '[en→zh_CN] ']])
    assert.deepEqual(await h.page(win, 'return translateLog'), [
      ['verify', 'electron'],
      ['setup', ['getAppkey', 'getCurrentUserId', 'getOSInfo', 'sendMessage'], 'electron', true],
      ['isSupport', true],
      ['setAuthToken', '<鉴权token>', true],
      ['translateText', { content: '', target: 'zh_CN', source: 'en' }, true],
    ])
  }
  // Every page example was checked above.
  return results
}

test("the vendor's main.js and preload.js run unchanged, and so do the page examples in that window", async (t) => {
  const dir = h.tmpDir('vendor-app')
  const userData = path.join(dir, 'userData')
  electron.app.setPath('userData', userData)
  const preloadFile = path.join(dir, 'preload.js')
  fs.writeFileSync(preloadFile, `${byName['preload.js: require the renderer module'].code}\n${byName['preload.js: initContextBridge (contextIsolation)'].code}\n`)
  const mainFile = path.join(dir, 'main.js')
  fs.writeFileSync(mainFile, byName['main.js: RCInit in the main process'].code.replace("'<path/to/preload.js>'", JSON.stringify(preloadFile)))
  t.after(async () => {
    for (const s of rcElectron.created.splice(0)) await s.destroy()
    await electron.__reset()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  require(mainFile)
  electron.app.emit('ready')
  assert.equal(rcElectron.created.length, 1)
  const service = rcElectron.created[0]
  assert.equal(service.windowMode, 'auto')
  const [win] = electron.BrowserWindow.getAllWindows()
  const ready = await h.withDeadline(win.webContents.__whenReady(), 20000, 'vendor window')
  assert.equal(ready.preloadError, null)
  assert.equal(ready.contextIsolation, false)
  assert.equal(ready.sandbox, false)
  assert.equal(service.hasWindow(win), true, 'the window the vendor main.js created is registered')
  const spy = h.spyEngine(service.engine)
  assert.equal((await service.open('alice')).code, 0)
  await runPageExamples(win, 'window.imsync', service, spy)
  // The database is where the vendor's main.js put it: app.getPath('userData').
  assert.ok(fs.readdirSync(userData, { recursive: true }).map(String).some((f) => f.endsWith('alice.db')))
  // before-quit → rcService.destroy(): the handler is gone, the engine closes.
  electron.app.quit()
  assert.equal(service.destroyed, true)
  await service.destroy()
  assert.deepEqual(electron.ipcMain.__handlerChannels, [])
  assert.equal(spy.count('close'), 1)
  assert.equal(electron.app.__quitCount, 1)
})

test('the page examples run unchanged in a secure window (contextIsolation, sandbox)', async (t) => {
  const { service, spy } = h.startService(t)
  assert.equal((await service.open('alice')).code, 0)
  const win = await h.openWindow()
  await runPageExamples(win, 'window.imsync', service, spy)
})

// The vendor docs live beside the repository in the project workspace (../shared), not in
// it: a checkout without them skips this one check (the snippets themselves still run).
const SEED_FILE = path.join(h.ROOT, '..', 'shared', 'reference', 'seeds', '002_7c5513e7d30605ec.txt')

test('the example snippets are the seed text, verbatim', { skip: !fs.existsSync(SEED_FILE) && 'the seed docs (../shared) are not beside this checkout' }, () => {
  const lines = fs.readFileSync(SEED_FILE, 'utf8').split('\n')
  for (const ex of seed) {
    assert.equal(ex.code, lines.slice(ex.lines[0] - 1, ex.lines[1]).join('\n'), ex.name)
  }
  assert.equal(seed.filter((s) => s.world === 'page').length, seed.length - 3)
  for (const s of seed.filter((x) => x.follows)) assert.ok(byName[s.follows] && byName[s.follows].lines[0] < s.lines[0], `${s.name} follows an earlier example`)
})
