'use strict'
// The two JavaScript worlds of a renderer in the test stand-in, inside one child process:
// - the PAGE world: a vm context (its own Object, Array, Promise, Function …) with window,
//   console and timers, and nothing else: no require, no process, no ipcRenderer;
// - the ISOLATED world: this Node realm, where the preload runs when contextIsolation is on.
// With contextIsolation off, the preload runs in the page world itself.
//
// Values crossing worlds through contextBridge follow Electron's rules (docs: "Parameter /
// Error / Return Type support"): primitives as is; objects and arrays copied (prototypes
// dropped); functions proxied, a NEW proxy each time a function crosses (so the same
// function passed twice arrives as two different functions), except that a proxy going back
// to its own world unwraps to the original; promises proxied; errors copied with message.

const vm = require('node:vm')
const util = require('node:util')
const fs = require('node:fs')
const path = require('node:path')

/** Files "chosen by the user" (__imsyncTestChooseFile) -> their disk paths. */
const chosenFiles = new WeakMap()

const webPreferences = JSON.parse(process.env.IMSYNC_ELECTRON_WEBPREFS || '{}')
// Electron defaults: contextIsolation on (12+), sandbox on (20+) unless nodeIntegration.
const contextIsolation = webPreferences.contextIsolation !== false
const sandbox = webPreferences.sandbox === undefined ? webPreferences.nodeIntegration !== true : webPreferences.sandbox !== false
const frame = webPreferences.__imsyncTestFrame === 'sub' ? 'sub' : 'main'
const executeInMainWorldAvailable = webPreferences.__imsyncTestNoExecuteInMainWorld !== true

function post(message) {
  if (process.connected) process.send(message, () => {})
}

function consoleFor(world) {
  const out = {}
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    out[level] = (...args) => post({ t: 'console', world, level, text: util.format(...args) })
  }
  return out
}

// ---- the page world ----------------------------------------------------------------------

const pageContext = vm.createContext({})
{
  const g = vm.runInContext('globalThis', pageContext)
  Object.assign(g, {
    console: consoleFor('page'),
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    queueMicrotask,
    structuredClone,
    Blob,
    File,
    crypto: globalThis.crypto,
    // Stands in for a user picking a file in an <input type=file> (tests only): a File whose
    // disk path webUtils.getPathForFile knows, as Electron's does for chosen files.
    __imsyncTestChooseFile: (filePath, type = '') => {
      const file = new File([fs.readFileSync(filePath)], path.basename(filePath), { type })
      chosenFiles.set(file, filePath)
      return file
    },
  })
  vm.runInContext('var window = globalThis; var self = globalThis;', pageContext)
}
const pageGlobal = vm.runInContext('globalThis', pageContext)
const page = vm.runInContext(
  `({
    Object, Array, Promise, Error,
    makeProxy: (h) => function () { return h(this, Array.prototype.slice.call(arguments)) },
  })`,
  pageContext,
)

// ---- copying between worlds --------------------------------------------------------------

/** proxy function -> { original, world it came from } */
const proxies = new WeakMap()

const HOST = 'isolated'
const PAGE = 'page'

function isPromise(v) {
  return v instanceof Promise || v instanceof page.Promise
}

function isError(v) {
  return v instanceof Error || v instanceof page.Error
}

function isArray(v) {
  return Array.isArray(v) // realm-independent
}

/** Copies `value` into world `to` ('page' or 'isolated'). */
function pass(value, to, cache = new Map()) {
  if (value === null || value === undefined) return value
  const type = typeof value
  if (type === 'boolean' || type === 'number' || type === 'string' || type === 'bigint') return value
  if (type === 'symbol') return undefined
  if (cache.has(value)) return cache.get(value)
  if (type === 'function') {
    const known = proxies.get(value)
    if (known && known.from === to) return known.original
    const from = to === PAGE ? HOST : PAGE
    const target = value
    const handler = (thisArg, args) => {
      const inArgs = args.map((a) => pass(a, from))
      return pass(target.apply(undefined, inArgs), to)
    }
    const proxy = to === PAGE ? page.makeProxy(handler) : function () { return handler(this, Array.prototype.slice.call(arguments)) }
    proxies.set(proxy, { original: target, from })
    cache.set(value, proxy)
    return proxy
  }
  if (isPromise(value)) {
    const P = to === PAGE ? page.Promise : Promise
    const out = new P((resolve, reject) => {
      value.then(
        (v) => resolve(pass(v, to)),
        (e) => reject(pass(e, to)),
      )
    })
    cache.set(value, out)
    return out
  }
  if (isError(value)) {
    const E = to === PAGE ? page.Error : Error
    const out = new E(String(value.message))
    cache.set(value, out)
    return out
  }
  if (isArray(value)) {
    const out = to === PAGE ? new page.Array() : []
    cache.set(value, out)
    for (let i = 0; i < value.length; i++) out[i] = pass(value[i], to, cache)
    return out
  }
  // A Blob (File) crosses as itself: Electron clones it with its backing, so
  // webUtils.getPathForFile still knows a chosen file after it crossed.
  if (value instanceof Blob) return value
  if (value instanceof Date || value instanceof RegExp || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    return structuredClone(value)
  }
  const out = to === PAGE ? new page.Object() : {}
  cache.set(value, out)
  for (const k of Object.keys(value)) out[k] = pass(value[k], to, cache)
  return out
}

// ---- contextBridge -----------------------------------------------------------------------

function requireIsolation() {
  if (!contextIsolation) throw new Error('contextBridge API can only be used when contextIsolation is enabled')
}

const contextBridge = {
  exposeInMainWorld(apiKey, api) {
    requireIsolation()
    if (typeof apiKey !== 'string') throw new TypeError('apiKey must be a string')
    if (Object.prototype.hasOwnProperty.call(pageGlobal, apiKey)) {
      throw new Error(`Cannot bind an API on top of an existing property on the window object`)
    }
    Object.defineProperty(pageGlobal, apiKey, { value: pass(api, PAGE), enumerable: true, writable: false, configurable: false })
  },
}
if (executeInMainWorldAvailable) {
  /** Electron >= 35: runs a serialized function in the page world with copied arguments. */
  contextBridge.executeInMainWorld = function executeInMainWorld({ func, args = [] } = {}) {
    requireIsolation()
    if (typeof func !== 'function') throw new TypeError('func must be a function')
    if (webPreferences.__imsyncTestBrokenExecuteInMainWorld) throw new Error('executeInMainWorld failed (test)')
    const fn = vm.runInContext(`(${Function.prototype.toString.call(func)})`, pageContext)
    const result = fn(...args.map((a) => pass(a, PAGE)))
    return pass(result, HOST)
  }
}

module.exports = {
  chosenFiles,
  webPreferences,
  contextIsolation,
  sandbox,
  frame,
  pageContext,
  pageGlobal,
  contextBridge,
  consoleFor,
  post,
  pass,
}
