'use strict'
// Drop-in behaviour of the renderer object (issue 11, first slice), across the real process
// boundary of the test `electron` stand-in:
//  - any method name answers: a call imsync does not serve resolves { code: 35004, msg }
//    naming it instead of throwing "is not a function", without breaking what apps do with
//    the object (typeof checks, Object.keys, enums, `await RongIMLib`, JSON.stringify, Symbols).

const test = require('node:test')
const assert = require('node:assert/strict')
const util = require('node:util')

const h = require('./electron/harness')
const { electron } = h

const rendererApi = require('imsync/renderer')

/**
 * Page code checking the object `im` (RongIMLib or window.imsync) answers any method name and
 * otherwise looks like the plain API object. Returns a structured-clone-safe report.
 */
const ANY_METHOD_PROBE = `
  const report = {}
  report.unknown = await im.someUnknownCall(1)
  report.unknownExt = await im.electronExtension.someUnknownCall()
  report.typeofUnknown = typeof im.someUnknownCall
  report.sameFunction = im.someUnknownCall === im.someUnknownCall
  report.typeofInit = typeof im.init
  report.typeofSearch = typeof im.electronExtension.searchMessages
  report.then = typeof im.then
  report.thenIn = 'then' in im
  report.extThen = typeof im.electronExtension.then
  // Awaiting the object must not hang: it is not a thenable.
  report.awaited = (await Promise.race([Promise.resolve(im).then((v) => v === im), new Promise((r) => setTimeout(() => r('hung'), 2000))]))
  report.keys = Object.keys(im)
  report.extKeys = Object.keys(im.electronExtension)
  report.unknownInKeys = report.keys.includes('someUnknownCall')
  report.unknownIn = 'someUnknownCall' in im
  report.hasOwn = Object.prototype.hasOwnProperty.call(im, 'someUnknownCall')
  report.json = JSON.stringify(im) === JSON.stringify(Object.assign({}, im))
  report.jsonHasEnums = JSON.parse(JSON.stringify(im)).ConversationType.PRIVATE
  report.private = im.ConversationType.PRIVATE
  report.textType = im.MessageType.TEXT
  report.unknownEnum = typeof im.SomeEnum
  report.symbol = typeof im[Symbol.iterator]
  report.toStringTag = Object.prototype.toString.call(im)
  report.string = String(im)
  report.toJSON = typeof im.toJSON
  report.esModule = typeof im.__esModule
  report.default = typeof im.default
  report.vueRef = typeof im.__v_isRef
  report.known = (await im.electronExtension.getAllConversationList()).code
  return report
`

function checkAnyMethod(r, { unknownAnswers = true } = {}) {
  if (unknownAnswers) {
    assert.equal(r.unknown.code, 35004)
    assert.match(r.unknown.msg, /\bsomeUnknownCall\b/)
    assert.equal(r.unknownExt.code, 35004)
    assert.match(r.unknownExt.msg, /electronExtension\.someUnknownCall\b/)
    assert.equal(r.typeofUnknown, 'function')
    assert.equal(r.sameFunction, true)
  }
  assert.equal(r.typeofInit, 'function')
  assert.equal(r.typeofSearch, 'function')
  assert.equal(r.then, 'undefined')
  assert.equal(r.thenIn, false)
  assert.equal(r.extThen, 'undefined')
  assert.equal(r.awaited, true, 'await RongIMLib resolves the object itself')
  assert.equal(r.unknownInKeys, false)
  assert.equal(r.unknownIn, false)
  assert.equal(r.hasOwn, false)
  assert.ok(r.keys.includes('init') && r.keys.includes('ConversationType') && r.keys.includes('electronExtension'))
  assert.ok(r.extKeys.includes('searchMessages'))
  assert.equal(r.json, true)
  assert.equal(r.jsonHasEnums, 1)
  assert.equal(r.private, 1)
  assert.equal(r.textType, 'RC:TxtMsg')
  assert.equal(r.unknownEnum, 'undefined')
  assert.equal(r.symbol, 'undefined')
  assert.equal(r.toStringTag, '[object Object]')
  assert.equal(r.string, '[object Object]')
  assert.equal(r.toJSON, 'undefined')
  assert.equal(r.esModule, 'undefined')
  assert.equal(r.default, 'undefined')
  assert.equal(r.vueRef, 'undefined')
  assert.equal(r.known, 0)
}

test('the module export answers any method name with 35004 and otherwise is the plain object', async () => {
  const api = rendererApi
  assert.deepEqual(await api.someUnknownCall(1), {
    code: 35004,
    msg: 'imsync: someUnknownCall is not supported by imsync (not an IMLib call it serves)',
  })
  assert.equal((await api.electronExtension.installPlugin()).code, 35004)
  assert.equal(api.someUnknownCall.name, 'someUnknownCall')
  assert.equal(api.then, undefined)
  assert.equal(await api, api)
  assert.equal(api.electronExtension.then, undefined)
  for (const k of ['catch', 'finally', 'toJSON', 'default', 'length', 'nodeType', 'inspect', '__esModule', '__v_isRef', '$$typeof', 'SomeEnum', '', 'a-b', '1x']) {
    assert.equal(api[k], undefined, k)
  }
  assert.equal(api[Symbol.iterator], undefined)
  assert.equal(api[Symbol.toPrimitive], undefined)
  assert.equal(typeof api.toString, 'function', 'Object.prototype members are themselves')
  assert.equal(api.hasOwnProperty, Object.prototype.hasOwnProperty)
  assert.equal(typeof api.init, 'function')
  assert.equal(api.ErrorCode.NOT_SUPPORT, 35004)
  assert.ok(!Object.keys(api).includes('someUnknownCall'))
  assert.equal('someUnknownCall' in api, false)
  assert.equal(JSON.stringify(api), JSON.stringify({ ...api }))
  assert.doesNotThrow(() => util.inspect(api))
  assert.doesNotThrow(() => `${api}`)
  // Outside a renderer the known calls still answer 35005 (no ipcRenderer), unknown ones 35004.
  assert.equal((await api.getTags()).code, 35005)
})

test('a secure window (executeInMainWorld): unknown calls answer 35004 in the page, nothing reaches main', async (t) => {
  const { service, spy } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow()
  const names = []
  const onInvoke = (wc, channel, args) => {
    if (wc === win.webContents) names.push(args[0])
  }
  electron.__probe.on('invoke', onInvoke)
  t.after(() => electron.__probe.removeListener('invoke', onInvoke))
  const r = await h.page(win, `const im = imsync\n${ANY_METHOD_PROBE}`)
  checkAnyMethod(r)
  assert.deepEqual(names, ['getAllConversationList'], 'only the known call went to the main process')
  assert.deepEqual(spy.calls.map((c) => c.method), ['open', 'getAllConversationList'])
})

test('the vendor configuration (contextIsolation off): window.RongIMLib answers any method name', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openLegacyWindow()
  checkAnyMethod(await h.page(win, `const im = RongIMLib\n${ANY_METHOD_PROBE}`))
})

test('initContextBridge with contextIsolation off: window[name] answers any method name', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow({ webPreferences: { contextIsolation: false, sandbox: true } })
  checkAnyMethod(await h.page(win, `const im = imsync\n${ANY_METHOD_PROBE}`))
})

test('older Electron (exposeInMainWorld copies own properties): known members work, unknown names are undefined (documented)', async (t) => {
  const { service } = h.startService(t)
  await service.open('alice')
  const win = await h.openWindow({ webPreferences: { __imsyncTestNoExecuteInMainWorld: true } })
  const r = await h.page(
    win,
    `const im = imsync
    const report = { typeofUnknown: typeof im.someUnknownCall, typeofExt: typeof im.electronExtension.someUnknownCall }
    const probe = await (async () => { ${ANY_METHOD_PROBE.replace(/report\.unknown(Ext)? = await .*\n/g, '')} })()
    return { ...probe, ...report }`,
  )
  assert.equal(r.typeofUnknown, 'undefined')
  assert.equal(r.typeofExt, 'undefined')
  checkAnyMethod(r, { unknownAnswers: false })
})
