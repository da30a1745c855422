'use strict'
// The forwarded-method list exists once (ARCHITECTURE.md §10 "Methods list"): js/methods.js,
// which js/main.js allow-lists and js/renderer.js forwards. These tests fail when either side
// keeps its own copy, when a listed method is not forwarded by the renderer (in a sandboxed
// window, through the bundled preload) or not served by the Engine, and when a window can
// reach a main-process-only call (rekey, encryptDatabase, recoverDatabase).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const h = require('./electron/harness')
const { electron, Engine } = h

const methods = require('../js/methods.js')
const mainModule = require('imsync')
const rendererApi = require('imsync/renderer')

const MAIN_ONLY = ['rekey', 'encryptDatabase', 'recoverDatabase']

/** The renderer member that forwards `method` when it is not the member of that name. */
function servingMember(method) {
  const via = (rendererApi.__imsyncMethods && rendererApi.__imsyncMethods.servedBy) || {}
  return via[method] || method
}

test('js/methods.js is the one list: main and renderer use the same frozen arrays', () => {
  assert.equal(mainModule.METHODS, methods.METHODS)
  assert.equal(mainModule.IMLIB_METHODS, methods.IMLIB_METHODS)
  assert.equal(mainModule.EXTENSION_METHODS, methods.EXTENSION_METHODS)
  assert.equal(rendererApi.__imsyncMethods.top, methods.IMLIB_METHODS)
  assert.equal(rendererApi.__imsyncMethods.electronExtension, methods.EXTENSION_METHODS)
  for (const list of [methods.METHODS, methods.IMLIB_METHODS, methods.EXTENSION_METHODS]) assert.ok(Object.isFrozen(list))
  assert.deepEqual([...methods.METHODS], [...methods.IMLIB_METHODS, ...methods.EXTENSION_METHODS])
  assert.equal(new Set(methods.METHODS).size, methods.METHODS.length, 'no duplicates')
  // js/methods.js requires nothing (a sandboxed preload bundles it as is).
  assert.doesNotMatch(fs.readFileSync(path.join(h.ROOT, 'js', 'methods.js'), 'utf8'), /\brequire\s*\(/)
})

test('neither js/main.js nor js/renderer.js keeps a copy of the list', () => {
  for (const f of ['main.js', 'renderer.js']) {
    const src = fs.readFileSync(path.join(h.ROOT, 'js', f), 'utf8')
    assert.match(src, /require\('\.\/methods\.js'\)/, `${f} requires ./methods.js`)
    // A copy is a run of quoted method names; the few a file names on purpose (sendMessage's
    // insert + send, the registration it waits for, the media calls whose paths main checks
    // and the getMessage that reads a resend's localPath, …) stay far below that.
    const quoted = methods.METHODS.filter((m) => src.includes(`'${m}'`) || src.includes(`"${m}"`))
    assert.ok(quoted.length <= 7, `${f} quotes ${quoted.length} forwarded method names: ${quoted.join(', ')}`)
  }
})

test('RENAMED (methods.js): each vendor-named member serves its Engine method, declared once', async () => {
  const { RENAMED } = methods
  assert.ok(Object.isFrozen(RENAMED))
  assert.deepEqual(RENAMED, { deleteMessages: 'deleteRemoteMessages' })
  for (const [member, method] of Object.entries(RENAMED)) {
    // The member's own name is not a forwarded top-level name (it would be served twice).
    assert.ok(!methods.IMLIB_METHODS.includes(member), `${member} is not itself in IMLIB_METHODS`)
    assert.ok(!methods.EXTENSION_METHODS.includes(method), `${method} is a top-level Engine method`)
    if (methods.IMLIB_METHODS.includes(method)) {
      // The window test below calls it through this member and sees it reach main by the Engine name.
      assert.equal(servingMember(method), member)
      assert.equal(rendererApi[member].name, member)
    } else {
      // Not listed yet (the Engine side lands separately): the member answers 35004 naming itself.
      const r = await rendererApi[member]()
      assert.equal(r.code, 35004)
      assert.match(r.msg, new RegExp(`\\b${member}\\b`))
    }
  }
  // electronExtension.deleteMessages stays the local delete by ids (the Engine's deleteMessages).
  assert.ok(methods.EXTENSION_METHODS.includes('deleteMessages'))
  assert.notEqual(rendererApi.electronExtension.deleteMessages, rendererApi.deleteMessages)
})

test('every listed method is an Engine method; main-process-only calls are not listed', () => {
  for (const m of methods.METHODS) assert.equal(typeof Engine.prototype[m], 'function', `Engine.prototype.${m}`)
  for (const m of [...MAIN_ONLY, 'close', 'onEvent', 'constructor']) {
    assert.ok(!methods.METHODS.includes(m), `${m} is not forwarded`)
  }
  for (const m of MAIN_ONLY) {
    assert.equal(typeof Engine.prototype[m], 'function', `${m} is on the Engine`)
    assert.equal(typeof mainModule.ImsyncService.prototype[m], 'function', `service.${m}() (main process)`)
  }
})

test('a sandboxed window forwards every listed method, each reaching the main handler by its own name', async (t) => {
  // No user database open: every call is answered by the engine without touching anything.
  const { spy } = h.startService(t)
  const win = await h.openWindow()
  const seen = []
  const onInvoke = (wc, channel, args) => {
    if (wc === win.webContents && channel === 'imsync:call') seen.push(args[0])
  }
  electron.__probe.on('invoke', onInvoke)
  t.after(() => electron.__probe.removeListener('invoke', onInvoke))
  const calls = [
    ...methods.IMLIB_METHODS.map((m) => ({ method: m, expr: `imsync[${JSON.stringify(servingMember(m))}]` })),
    ...methods.EXTENSION_METHODS.map((m) => ({ method: m, expr: `imsync.electronExtension[${JSON.stringify(m)}]` })),
  ]
  const answers = await h.page(
    win,
    `
    const out = []
    for (const c of ${JSON.stringify(calls)}) {
      const fn = eval(c.expr)
      if (typeof fn !== 'function') { out.push({ method: c.method, missing: true }); continue }
      const r = await fn()
      out.push({ method: c.method, code: r && r.code, msg: r && r.msg })
    }
    return out
  `,
    60000,
  )
  for (const a of answers) {
    assert.ok(!a.missing, `${a.method}: the renderer object has no member forwarding it`)
    // registerMessageType returns the message class at once (its registration is the call).
    if (a.method === 'registerMessageType') continue
    assert.equal(typeof a.code, 'number', `${a.method}: an envelope`)
    assert.notEqual(a.code, 35004, `${a.method}: ${a.msg}`)
    assert.doesNotMatch(String(a.msg), /not an imsync API method/, `${a.method} is allow-listed`)
  }
  assert.deepEqual([...new Set(seen)].sort(), [...methods.METHODS].sort(), 'each listed method reached main by its name')
  // ...and reached the engine (main forwards every allow-listed name to the Engine).
  assert.deepEqual([...new Set(spy.calls.map((c) => c.method))].sort(), [...methods.METHODS].sort())
})

test('a window cannot reach rekey, encryptDatabase or recoverDatabase', async (t) => {
  const { service, spy } = h.startService(t)
  assert.equal((await service.open('alice')).code, 0)
  const win = await h.openWindow()
  const before = spy.calls.length
  for (const m of MAIN_ONLY) {
    // Raw IPC from the preload world: refused by the allow-list.
    const raw = await h.preloadWorld(win, `return await electron.ipcRenderer.invoke('imsync:call', ${JSON.stringify(m)}, ['k'])`)
    assert.equal(raw.code, 33003, `${m}: ${JSON.stringify(raw)}`)
    assert.match(raw.msg, /not an imsync API method/)
    // Through the API object: not a member the renderer forwards.
    const viaApi = await h.page(win, `const f = imsync[${JSON.stringify(m)}]; return typeof f === 'function' ? await f('k') : 'no member'`)
    assert.ok(viaApi === 'no member' || viaApi.code === 35004, `${m} through the API object: ${JSON.stringify(viaApi)}`)
    // The main process's generic call applies the allow-list too.
    assert.equal((await service.call(m, ['k'])).code, 33003)
  }
  assert.equal(spy.calls.length, before, 'nothing reached the engine')
  assert.equal(service.engine.userId, 'alice', 'the database is still open (recoverDatabase did not run)')
})
