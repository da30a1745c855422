'use strict'
// Main-process half of the test `electron` stand-in: app, ipcMain, BrowserWindow,
// WebContentsView, webContents. Each webContents owns a renderer child process
// (renderer-host.js, forked with serialization: 'advanced'); ipcRenderer.invoke/send in the
// child arrive here as ipcMain handlers/listeners with an Electron-shaped event
// ({ sender, senderFrame, processId, frameId, reply }), and webContents.send() goes back.
//
// Behaviour copied from Electron where imsync depends on it:
// - ipcMain.handle: one handler per channel (a second one throws); no handler →
//   invoke rejects with "Error invoking remote method '<ch>': Error: No handler registered
//   for '<ch>'"; a throwing handler → "Error invoking remote method '<ch>': <error>".
// - Results and arguments are structured-cloned (v8 serialization); a value that cannot be
//   cloned fails the call ("An object could not be cloned").
// - A renderer that dies: 'render-process-gone' on its webContents (which is not destroyed);
//   replies and webContents.send() to it are dropped silently.
// - webContents.send() on a destroyed webContents throws ("Object has been destroyed").
// - BrowserWindow construction emits app 'browser-window-created'; WebContentsView does not.
//
// Test helpers (not Electron API) are prefixed with `__` or documented as such below.

const { EventEmitter } = require('node:events')
const { fork } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const HOST = path.join(__dirname, 'renderer-host.js')
const NODE_PATH_DIR = path.join(__dirname, 'node_path')
const DEFAULT_TIMEOUT_MS = 20000

let nextWebContentsId = 1
let nextWindowId = 1

// ---- app ---------------------------------------------------------------------------------

class App extends EventEmitter {
  constructor() {
    super()
    this._paths = new Map()
    this._quitCount = 0
  }

  getPath(name) {
    if (!this._paths.has(name)) {
      const base = process.env.IMSYNC_ELECTRON_USERDATA || fs.mkdtempSync(path.join(os.tmpdir(), 'imsync-electron-'))
      fs.mkdirSync(base, { recursive: true })
      this._paths.set(name, name === 'userData' ? base : path.join(base, name))
    }
    return this._paths.get(name)
  }

  setPath(name, value) {
    this._paths.set(name, value)
  }

  getName() {
    return 'imsync-test'
  }

  getVersion() {
    return '0.0.0-test'
  }

  isReady() {
    return true
  }

  whenReady() {
    return Promise.resolve()
  }

  /** Emits before-quit (preventable), then will-quit and quit. */
  quit() {
    const before = preventable()
    this.emit('before-quit', before)
    if (before.defaultPrevented) return
    const will = preventable()
    this.emit('will-quit', will)
    if (will.defaultPrevented) return
    this._quitCount++
    this.emit('quit', preventable(), 0)
  }

  /** Test helper: how many times the app actually quit. */
  get __quitCount() {
    return this._quitCount
  }
}

function preventable() {
  return {
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true
    },
  }
}

// ---- ipcMain -----------------------------------------------------------------------------

class IpcMain extends EventEmitter {
  constructor() {
    super()
    this._handlers = new Map()
  }

  handle(channel, listener) {
    if (this._handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`)
    if (typeof listener !== 'function') throw new TypeError('Expected handler to be a function')
    this._handlers.set(channel, listener)
  }

  handleOnce(channel, listener) {
    this.handle(channel, (...a) => {
      this.removeHandler(channel)
      return listener(...a)
    })
  }

  removeHandler(channel) {
    this._handlers.delete(channel)
  }

  /** Test helper: the channels with a handler. */
  get __handlerChannels() {
    return [...this._handlers.keys()]
  }
}

// ---- frames and webContents ----------------------------------------------------------------

class WebFrameMain {
  constructor(webContents, routingId, parent) {
    this._wc = webContents
    this.routingId = routingId
    this.parent = parent
  }

  get processId() {
    return this._wc._processId
  }

  get top() {
    return this.parent ? this.parent.top : this
  }

  get frames() {
    return this.parent ? [] : [this._wc._subFrame]
  }

  get url() {
    return this.parent ? 'https://ads.example.invalid/frame.html' : this._wc._url
  }

  get origin() {
    try {
      return new URL(this.url).origin
    } catch {
      return 'null'
    }
  }
}

const allWebContents = new Map()

class WebContents extends EventEmitter {
  constructor(webPreferences = {}) {
    super()
    this.id = nextWebContentsId++
    this._webPreferences = { ...webPreferences }
    this._destroyed = false
    this._url = 'about:blank'
    this.mainFrame = new WebFrameMain(this, 1, null)
    this._subFrame = new WebFrameMain(this, 2, this.mainFrame)
    this._ctl = new Map()
    this._nextCtl = 1
    this.__console = []
    allWebContents.set(this.id, this)
    this._spawn()
  }

  _spawn() {
    const prefs = this._webPreferences
    const env = {
      ...process.env,
      IMSYNC_ELECTRON_ROLE: 'renderer',
      IMSYNC_ELECTRON_WEBPREFS: JSON.stringify(prefs),
      IMSYNC_ELECTRON_WEBCONTENTS_ID: String(this.id),
      NODE_PATH: [NODE_PATH_DIR, process.env.NODE_PATH].filter(Boolean).join(path.delimiter),
    }
    const child = fork(HOST, [], { serialization: 'advanced', env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this._child = child
    this._processId = child.pid
    this._gone = false
    let readyResolve
    let readyReject
    this._ready = new Promise((res, rej) => {
      readyResolve = res
      readyReject = rej
    })
    this._ready.catch(() => {})
    child.on('message', (m) => this._onMessage(child, m, readyResolve))
    child.on('error', () => {})
    child.on('exit', (code, signal) => {
      if (this._child !== child) return
      this._gone = true
      readyReject(new Error(`renderer of webContents ${this.id} exited before it was ready (${signal || code})`))
      for (const [id, p] of this._ctl) {
        this._ctl.delete(id)
        p.reject(new Error(`renderer of webContents ${this.id} exited (${signal || code}) during ${p.op}`))
      }
      if (!this._destroyed && !child.__expectedExit) {
        const reason = signal === 'SIGKILL' ? 'killed' : code === 0 ? 'clean-exit' : 'crashed'
        this.emit('render-process-gone', preventable(), { reason, exitCode: code ?? -1 })
      }
      this.emit('__exit', { code, signal })
    })
  }

  _post(child, message) {
    if (!child.connected) return false
    try {
      child.send(message, () => {})
      return true
    } catch (e) {
      if (/could not be cloned|DataCloneError/i.test(String(e && e.message))) throw e
      return false
    }
  }

  _event(m) {
    const frame = m.frameGone ? null : m.frame === 'sub' ? this._subFrame : this.mainFrame
    return {
      sender: this,
      senderFrame: frame,
      processId: this._processId,
      frameId: frame ? frame.routingId : -1,
      ports: [],
      preventDefault() {},
      reply: (channel, ...args) => this.send(channel, ...args),
    }
  }

  _onMessage(child, m, readyResolve) {
    if (!m || typeof m !== 'object') return
    switch (m.t) {
      case 'ready':
        readyResolve(m)
        this.emit('__ready', m)
        return
      case 'invoke':
        this._onInvoke(child, m)
        return
      case 'send':
        if (this._destroyed) return
        ipcMain.emit(m.channel, this._event(m), ...m.args)
        return
      case 'ctl-reply': {
        const p = this._ctl.get(m.id)
        if (!p) return
        this._ctl.delete(m.id)
        clearTimeout(p.timer)
        if (m.error) p.reject(Object.assign(new Error(`${p.op} failed in renderer ${this.id}: ${m.error.message}`), { remoteStack: m.error.stack }))
        else p.resolve(m.value)
        return
      }
      case 'console': {
        const entry = { level: m.level, world: m.world, text: m.text }
        this.__console.push(entry)
        if (process.env.IMSYNC_ELECTRON_VERBOSE) process.stderr.write(`[renderer ${this.id} ${m.world} ${m.level}] ${m.text}\n`)
        this.emit('console-message', preventable(), m.level, m.text)
        this.emit('__console', entry)
        return
      }
      default:
    }
  }

  _onInvoke(child, m) {
    const channel = m.channel
    const reply = (payload) => {
      if (this._child !== child) return
      try {
        this._post(child, { t: 'invoke-reply', id: m.id, ...payload })
      } catch (e) {
        this._post(child, {
          t: 'invoke-reply',
          id: m.id,
          error: `Error invoking remote method '${channel}': Error: An object could not be cloned. (${e.message})`,
        })
      }
    }
    if (this._destroyed) return
    probe.emit('invoke', this, channel, m.args)
    const handler = ipcMain._handlers.get(channel)
    if (!handler) {
      reply({ error: `Error invoking remote method '${channel}': Error: No handler registered for '${channel}'` })
      return
    }
    let p
    try {
      p = Promise.resolve(handler(this._event(m), ...m.args))
    } catch (e) {
      p = Promise.reject(e)
    }
    p.then(
      (result) => reply({ result }),
      (err) => reply({ error: `Error invoking remote method '${channel}': ${err}` }),
    )
  }

  // ---- Electron API ----

  send(channel, ...args) {
    if (this._destroyed) throw new TypeError('Object has been destroyed')
    probe.emit('send', this, channel, args)
    if (this._gone) return
    this._post(this._child, { t: 'ipc', channel, args })
  }

  isDestroyed() {
    return this._destroyed
  }

  isCrashed() {
    return this._gone && !this._destroyed
  }

  getURL() {
    return this._url
  }

  getOSProcessId() {
    return this._processId
  }

  getProcessId() {
    return this._processId
  }

  async loadURL(url) {
    this._url = url
    await this._ready
    this.emit('did-finish-load', preventable())
  }

  loadFile(file) {
    return this.loadURL(`file://${path.resolve(file)}`)
  }

  /** A new renderer process (the preload runs again); the webContents stays the same. */
  reload() {
    const old = this._child
    if (old) {
      old.__expectedExit = true
      if (old.exitCode === null && old.signalCode === null) old.kill('SIGKILL')
    }
    this._spawn()
  }

  /** Destroys the webContents: its renderer ends, 'destroyed' is emitted. */
  destroy() {
    if (this._destroyed) return
    this._destroyed = true
    allWebContents.delete(this.id)
    const child = this._child
    child.__expectedExit = true
    if (child.connected) child.disconnect()
    // The renderer host exits on 'disconnect'; SIGKILL is the backstop.
    const backstop = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }, 2000)
    backstop.unref()
    child.once('exit', () => clearTimeout(backstop))
    this.emit('destroyed')
  }

  // ---- test helpers ----

  /** Resolves once the renderer ran its preload ({ preloadError } when it threw). */
  __whenReady() {
    return this._ready
  }

  /** Kills the renderer process (a crash: 'render-process-gone'). */
  __kill(signal = 'SIGKILL') {
    this._child.kill(signal)
  }

  /** Resolves when the current renderer process has exited. */
  __whenExited() {
    const child = this._child
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => child.once('exit', () => resolve()))
  }

  get __pid() {
    return this._processId
  }

  _control(op, payload, timeoutMs = DEFAULT_TIMEOUT_MS) {
    if (this._gone || this._destroyed) return Promise.reject(new Error(`renderer of webContents ${this.id} is gone`))
    const id = this._nextCtl++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._ctl.delete(id)
        reject(new Error(`${op} in renderer ${this.id} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this._ctl.set(id, { resolve, reject, timer, op })
      if (!this._post(this._child, { t: 'ctl', id, op, ...payload })) {
        clearTimeout(timer)
        this._ctl.delete(id)
        reject(new Error(`renderer of webContents ${this.id} is not connected`))
      }
    })
  }

  /** Runs `code` as the body of an async function in the PAGE's world; resolves its result. */
  __evalInPage(code, { timeoutMs } = {}) {
    return this._control('eval-page', { code }, timeoutMs)
  }

  /** Runs `code` (async function body; `require` = the preload's require) in the preload's world. */
  __evalInPreload(code, { timeoutMs } = {}) {
    return this._control('eval-preload', { code }, timeoutMs)
  }

  /** Runs a file as a classic <script> in the page's world. */
  __loadPageScript(file, { timeoutMs } = {}) {
    return this._control('load-page-script', { file: path.resolve(file) }, timeoutMs)
  }

  /** Resolves the first console entry (page or preload) matching `predicate`, with a deadline. */
  __waitForConsole(predicate, { timeoutMs = DEFAULT_TIMEOUT_MS, from = 0 } = {}) {
    const hit = this.__console.slice(from).find(predicate)
    if (hit) return Promise.resolve(hit)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.removeListener('__console', on)
        reject(new Error(`no matching console message from renderer ${this.id} within ${timeoutMs} ms; got ${JSON.stringify(this.__console.slice(-10))}`))
      }, timeoutMs)
      const on = (entry) => {
        if (predicate(entry)) {
          clearTimeout(timer)
          this.removeListener('__console', on)
          resolve(entry)
        }
      }
      this.on('__console', on)
    })
  }
}

const webContents = {
  getAllWebContents() {
    return [...allWebContents.values()]
  },
  fromId(id) {
    return allWebContents.get(id)
  },
  getFocusedWebContents() {
    return null
  },
}

// ---- windows and views -------------------------------------------------------------------

const allWindows = new Map()

class BrowserWindow extends EventEmitter {
  constructor(options = {}) {
    super()
    this.id = nextWindowId++
    this._destroyed = false
    this.webContents = new WebContents(options.webPreferences || {})
    allWindows.set(this.id, this)
    this.webContents.once('destroyed', () => this._closed())
    app.emit('browser-window-created', preventable(), this)
  }

  static getAllWindows() {
    return [...allWindows.values()]
  }

  static fromWebContents(wc) {
    return [...allWindows.values()].find((w) => w.webContents === wc) || null
  }

  static fromId(id) {
    return allWindows.get(id) || null
  }

  loadURL(url) {
    return this.webContents.loadURL(url)
  }

  loadFile(file) {
    return this.webContents.loadFile(file)
  }

  show() {}

  hide() {}

  focus() {}

  isDestroyed() {
    return this._destroyed
  }

  close() {
    if (this._destroyed) return
    const e = preventable()
    this.emit('close', e)
    if (e.defaultPrevented) return
    this.destroy()
  }

  destroy() {
    if (this._destroyed) return
    this.webContents.destroy()
  }

  _closed() {
    if (this._destroyed) return
    this._destroyed = true
    allWindows.delete(this.id)
    this.emit('closed')
  }
}

/** A view: a webContents that is not a BrowserWindow (no 'browser-window-created'). */
class WebContentsView extends EventEmitter {
  constructor(options = {}) {
    super()
    this.webContents = new WebContents(options.webPreferences || {})
  }
}

// ---- menu ----------------------------------------------------------------------------------

const Menu = {
  _application: null,
  buildFromTemplate(template) {
    return { items: template }
  },
  setApplicationMenu(menu) {
    Menu._application = menu
  },
  getApplicationMenu() {
    return Menu._application
  },
}

// ---- module ------------------------------------------------------------------------------

const app = new App()
const ipcMain = new IpcMain()
/**
 * Test helper: 'invoke' (webContents, channel, args) when an invoke reaches the main side;
 * 'send' (webContents, channel, args) on every webContents.send().
 */
const probe = new EventEmitter()

/** Test helper: destroys every webContents and forgets every handler and listener. */
async function __reset() {
  const exits = []
  for (const wc of [...allWebContents.values()]) {
    exits.push(wc.__whenExited())
    wc.destroy()
  }
  await Promise.all(exits)
  ipcMain.removeAllListeners()
  ipcMain._handlers.clear()
  app.removeAllListeners()
  Menu._application = null
}

module.exports = {
  app,
  ipcMain,
  BrowserWindow,
  BrowserView: WebContentsView,
  WebContentsView,
  webContents,
  Menu,
  // Not available in the main process of Electron either:
  ipcRenderer: undefined,
  contextBridge: undefined,
  __reset,
  __probe: probe,
  __isStandIn: true,
}
