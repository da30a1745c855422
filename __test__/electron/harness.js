'use strict'
// Helpers of the IPC tests (__test__/ipc-*.test.js): the stand-in electron in this process
// (the main process), windows whose renderers are child processes, the imsync service with
// a spied engine, and deadlines (no sleeps: every wait ends on a message or a deadline).

const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { ROOT } = require('./register')
const electron = require('electron')
const { bundlePreload } = require('../../examples/electron-app/build-preload')

const { Engine } = require('../../index.js')

const FIXTURES = path.join(__dirname, 'fixtures')
const APPKEY = 'ipc-test-key'

function tmpDir(tag = 'ipc') {
  return fs.mkdtempSync(path.join(os.tmpdir(), `imsync-${tag}-`))
}

/** Rejects when `promise` has not settled within `ms`. */
function withDeadline(promise, ms, label) {
  let timer
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline: ${label} did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/** A promise with its resolve function (a gate the test opens). */
function deferred() {
  let resolve
  let reject
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

// ---- engine events -------------------------------------------------------------------------
// The tests inject engine events (name, payload) into the callbacks the service passed to
// engine.onEvent. While the native Engine has no onEvent yet, a JS stand-in for it is
// installed on the prototype; once it exists, the real one is still called (wrapped).

const eventSinks = new WeakMap()
/** Engines that subscribed to events, in order (e.g. the one a service created inside an app). */
const subscribedEngines = []
{
  const proto = Engine.prototype
  const real = typeof proto.onEvent === 'function' ? proto.onEvent : null
  Object.defineProperty(proto, 'onEvent', {
    configurable: true,
    writable: true,
    value: function onEvent(callback) {
      let list = eventSinks.get(this)
      if (!list) {
        eventSinks.set(this, (list = []))
        subscribedEngines.push(this)
      }
      list.push(callback)
      return real ? real.call(this, callback) : undefined
    },
  })
}

/** Delivers an engine event as the Engine would: every onEvent callback gets (name, payload). */
function emitEngineEvent(engine, name, payload) {
  const list = eventSinks.get(engine) || []
  for (const cb of list) cb(name, payload)
  return list.length
}

let bundled = null
/** The fixture preload bundled into one file, as a sandboxed preload must be. */
function sandboxedPreload() {
  if (!bundled) {
    bundled = bundlePreload({
      entry: path.join(FIXTURES, 'preload.js'),
      outFile: path.join(tmpDir('preload'), 'preload.bundle.js'),
      modules: { 'imsync/renderer': path.join(ROOT, 'js', 'renderer.js') },
    })
  }
  return bundled
}

/**
 * Opens a window (a renderer child process) and waits until its preload ran.
 * Default: the secure configuration (contextIsolation, sandbox, no nodeIntegration) with
 * the bundled fixture preload, which exposes window.imsync.
 */
async function openWindow({ view = false, preload, webPreferences = {}, allowPreloadError = false } = {}) {
  const prefs = {
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    preload: preload || sandboxedPreload(),
    ...webPreferences,
  }
  const Ctor = view ? electron.WebContentsView : electron.BrowserWindow
  const win = new Ctor({ webPreferences: prefs })
  const ready = await withDeadline(win.webContents.__whenReady(), 20000, 'renderer start')
  if (!allowPreloadError) assert.equal(ready.preloadError, null, `preload failed: ${JSON.stringify(ready.preloadError)}`)
  win.__ready = ready
  return win
}

/** A window in the vendor's configuration: contextIsolation off, nodeIntegration, no sandbox. */
function openLegacyWindow() {
  return openWindow({
    preload: path.join(FIXTURES, 'preload-legacy.js'),
    webPreferences: { contextIsolation: false, sandbox: false, nodeIntegration: true },
  })
}

/** Runs `code` (an async function body) in the page world of `win`. */
function page(win, code, timeoutMs = 20000) {
  return win.webContents.__evalInPage(code, { timeoutMs })
}

/** Runs `code` (async function body; `require`, `electron` in scope) in the preload world. */
function preloadWorld(win, code, timeoutMs = 20000) {
  return win.webContents.__evalInPreload(code, { timeoutMs })
}

/**
 * Wraps every method of `engine` (own wrappers shadowing the prototype) to record calls:
 * { method, args, result } in `calls`, in call order. `gates[method]` (a promise), when
 * set, is awaited before the real method runs; `entered[method]` is called on entry.
 */
function spyEngine(engine) {
  const calls = []
  const gates = {}
  const entered = {}
  const proto = Object.getPrototypeOf(engine)
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === 'constructor') continue
    const desc = Object.getOwnPropertyDescriptor(proto, name)
    if (!desc || typeof desc.value !== 'function') continue
    const real = desc.value
    engine[name] = function (...args) {
      const record = { method: name, args, result: undefined, settled: false, promise: null }
      calls.push(record)
      if (entered[name]) entered[name](record)
      const run = async () => {
        if (gates[name]) await gates[name]
        const result = await real.apply(engine, args)
        record.result = result
        record.settled = true
        return result
      }
      record.promise = run()
      return record.promise
    }
  }
  return { calls, gates, entered, count: (m) => calls.filter((c) => !m || c.method === m).length }
}

/**
 * init() with a fresh dbpath, the engine spied, cleaned up when the test ends.
 * Returns { service, spy, dbpath }.
 */
function startService(t, options = {}) {
  const init = require('imsync')
  const dbpath = options.dbpath || tmpDir('db')
  const service = init({ appkey: APPKEY, logOutputLevel: 1, ...options, dbpath })
  const spy = spyEngine(service.engine)
  t.after(async () => {
    await service.destroy()
    await electron.__reset()
    fs.rmSync(dbpath, { recursive: true, force: true })
  })
  return { service, spy, dbpath }
}

/** Counts webContents.send() per webContents id and channel (from now until stop()). */
function countSends() {
  const counts = new Map()
  const on = (wc, channel, args) => {
    const key = `${wc.id}|${channel}|${channel === 'imsync:event' ? args[0] : ''}`
    counts.set(key, (counts.get(key) || 0) + 1)
  }
  electron.__probe.on('send', on)
  return {
    get: (wc, channel = 'imsync:event', name = '') => counts.get(`${wc.id}|${channel}|${name}`) || 0,
    stop: () => electron.__probe.removeListener('send', on),
  }
}

/** Waits for `probe()` to be truthy (re-checked on each event of `emitter`), with a deadline. */
function waitForEvent(emitter, event, predicate = () => true, ms = 20000) {
  return withDeadline(
    new Promise((resolve) => {
      const on = (...a) => {
        if (predicate(...a)) {
          emitter.removeListener(event, on)
          resolve(a)
        }
      }
      emitter.on(event, on)
    }),
    ms,
    `event ${event}`,
  )
}

module.exports = {
  Engine,
  emitEngineEvent,
  lastSubscribedEngine: () => subscribedEngines[subscribedEngines.length - 1],
  electron,
  ROOT,
  FIXTURES,
  APPKEY,
  tmpDir,
  withDeadline,
  deferred,
  sandboxedPreload,
  openWindow,
  openLegacyWindow,
  page,
  preloadWorld,
  spyEngine,
  startService,
  waitForEvent,
  countSends,
}
