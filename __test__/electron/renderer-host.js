'use strict'
// Entry of a renderer child process of the test `electron` stand-in (one per webContents).
// Runs the window's preload like Electron does, then serves the test's control requests
// (run code in the page world, in the preload world, load a page script).
//
// Preload rules copied from Electron:
// - sandbox: true → the preload is wrapped as
//   (function (require, process, Buffer, global, setImmediate, clearImmediate, exports, module) {…})
//   and its `require` only knows 'electron', 'events', 'timers' and 'url' (anything else throws
//   "module not found: <id>"): a sandboxed preload must be one self-contained file.
// - sandbox: false → Node's require (with `electron` resolving to this stand-in).
// - contextIsolation: true → the preload runs in its own (isolated) world; false → in the
//   page's world, sharing `window` with the page.

const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')
const Module = require('node:module')

const world = require('./renderer-world')
const electron = require('./renderer-side')

process.contextIsolated = world.contextIsolation
process.sandboxed = world.sandbox
// Without context isolation, preload code and the modules it requires share the page's
// window (in Electron their globalThis IS the page's window).
if (!world.contextIsolation) globalThis.window = world.pageGlobal

// A preload's console output (isolated world) goes to the test, like the page's.
{
  const c = world.consoleFor('preload')
  for (const k of Object.keys(c)) console[k] = c[k]
}

process.on('disconnect', () => process.exit(0))
process.on('uncaughtException', (e) => {
  world.post({ t: 'console', world: 'process', level: 'error', text: `uncaught: ${e && e.stack}` })
})
process.on('unhandledRejection', (e) => {
  world.post({ t: 'console', world: 'process', level: 'error', text: `unhandled rejection: ${e && e.stack}` })
})

const SANDBOX_MODULES = {
  electron: () => electron,
  events: () => require('node:events'),
  timers: () => require('node:timers'),
  url: () => require('node:url'),
}

function sandboxRequire(id) {
  const key = String(id).replace(/^node:/, '')
  if (Object.prototype.hasOwnProperty.call(SANDBOX_MODULES, key)) return SANDBOX_MODULES[key]()
  throw new Error(`module not found: ${id}`)
}

const sandboxProcess = {
  contextIsolated: world.contextIsolation,
  sandboxed: true,
  type: 'renderer',
  platform: process.platform,
  arch: process.arch,
  pid: process.pid,
  versions: { ...process.versions },
  env: {},
  argv: [],
}

let preloadRequire = sandboxRequire

function runPreload(file) {
  const source = fs.readFileSync(file, 'utf8')
  if (!world.sandbox && world.contextIsolation) {
    preloadRequire = Module.createRequire(file)
    require(file)
    return
  }
  const wrapper = `(function (require, process, Buffer, global, setImmediate, clearImmediate, exports, module) {${source}\n})`
  const fn = world.contextIsolation
    ? vm.runInThisContext(wrapper, { filename: file })
    : vm.runInContext(wrapper, world.pageContext, { filename: file })
  const mod = { exports: {} }
  const req = world.sandbox ? sandboxRequire : Module.createRequire(file)
  preloadRequire = req
  const proc = world.sandbox ? sandboxProcess : process
  const glob = world.contextIsolation ? globalThis : world.pageGlobal
  fn.call(mod.exports, req, proc, Buffer, glob, setImmediate, clearImmediate, mod.exports, mod)
}

function errorInfo(e) {
  return { message: String(e && e.message ? e.message : e), stack: String(e && e.stack ? e.stack : e) }
}

const AsyncFunction = (async () => {}).constructor

async function control(m) {
  switch (m.op) {
    case 'eval-page':
      return vm.runInContext(`(async () => {\n${m.code}\n})()`, world.pageContext, { filename: 'page-eval.js' })
    case 'eval-preload':
      return new AsyncFunction('require', 'electron', m.code)(preloadRequire, electron)
    case 'load-page-script':
      vm.runInContext(fs.readFileSync(m.file, 'utf8'), world.pageContext, { filename: m.file })
      return true
    default:
      throw new Error(`unknown control op ${m.op}`)
  }
}

process.on('message', (m) => {
  if (!m || m.t !== 'ctl') return
  control(m).then(
    (value) => {
      try {
        world.post({ t: 'ctl-reply', id: m.id, value })
      } catch (e) {
        world.post({ t: 'ctl-reply', id: m.id, error: errorInfo(new Error(`result is not structured-clone safe: ${e.message}`)) })
      }
    },
    (e) => world.post({ t: 'ctl-reply', id: m.id, error: errorInfo(e) }),
  )
})

let preloadError = null
const preload = world.webPreferences.preload
if (preload) {
  try {
    runPreload(path.resolve(preload))
  } catch (e) {
    preloadError = errorInfo(e)
    world.post({ t: 'console', world: 'preload', level: 'error', text: `Unable to load preload script: ${preload}\n${e && e.stack}` })
  }
}
world.post({ t: 'ready', preloadError, contextIsolation: world.contextIsolation, sandbox: world.sandbox })
