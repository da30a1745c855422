'use strict'
// imsync, main process: `const init = require('imsync'); const service = init({ appkey })`.
//
// One Engine (the napi addon) per app, shared by every window. Renderers reach it through
// ONE handler, `ipcMain.handle('imsync:call', (event, method, args) => …)`, which
//   1. checks the sender: the webContents must be a registered window (see "Windows" below)
//      and the message must come from its top frame (sub-frames and other webContents are
//      refused with 35005, without touching the engine);
//   2. checks the method name against METHODS (js/methods.js: the API methods of ARCHITECTURE.md §4 plus
//      `open`; never close, rekey, encryptDatabase, recoverDatabase, constructor, onEvent, __proto__, …) and that `args` is an array
//      (33003 otherwise, without touching the engine);
//   3. calls the Engine method of the same name with the same positional arguments and
//      resolves its envelope unchanged. A method the loaded Engine does not have (an addon
//      binary older than this file) resolves 35004 'not supported yet: <name>'; a throw or
//      rejection inside resolves 35005.
// Calls that arrive while an `open` is in flight wait for it instead of failing with "no user
// database is open"; during a `connect` they wait until its database is open (connect opens
// it before it talks to the server), not for the server's answer.
//
// Events: one `engine.onEvent((name, payload) => …)` subscription (when the Engine has it)
// fans out `webContents.send('imsync:event', name, payload)` to every registered window that
// subscribed to `name` ('imsync:subscribe' with the full list of names it listens to,
// 'imsync:unsubscribe' to stop); destroyed or crashed windows are dropped.
//
// State: the service keeps what a window answers synchronously (RongIMLib's
// getConnectionStatus() and getServerTime(), and a plugin context's getCurrentUserId() and
// getAppkey()) and sends it as 'imsync:state' { connectionStatus, serverTimeOffset, userId,
// appkey } to every registered window when it changes (before the event that changed it) and
// to a window that asks ('imsync:state' from the renderer, on load and on 'imsync:ready').
// The status follows the engine's CONNECTING / CONNECTED / SUSPEND / DISCONNECT events as
// ConnectionStatus values; a connect that fails while CONNECTING (the engine emits no event
// for a failed first attempt) asks the engine for its status. The server
// clock: the Engine's `serverTimeOffset` once it has one (measured from the server_time of
// the ConnectAck and of every heartbeat Pong), else an estimate from what the server
// stamped: a successful sendMessage's sentTime lies between the call's start and its answer
// (a resend, `options.messageId`, only bounds it from below), a live received message's
// sentTime is before its arrival. See ServerClock.
//
// Info: `ipcRenderer.invoke('imsync:info', kind)` answers a registered window's top frame with
// read-only facts for IMLib plugin contexts (getOSInfo / getProcessInfo / getMainProcessInfo):
// kind 'os', 'process' (the calling window's renderer process) or 'mainProcess'; never the
// host name, user, environment, paths or network. See infoFor().
//
// Windows: by default every BrowserWindow that exists at init() or is created later
// (app 'browser-window-created') is registered automatically, so the vendor's main.js works
// unchanged. `init({ windows: 'manual' })` registers nothing by itself: the app calls
// `service.addWindow(win)` for the windows (or webContents) it trusts. Either way a window
// is forgotten when its webContents is destroyed. `validateSender(event)` (option) can add
// an app-specific check, e.g. of `event.senderFrame.url`.
//
// `service.destroy()` (call it on app 'before-quit'): removes the handler and listeners,
// answers calls still waiting with 35005, disconnects (a pending connect resolves), lets calls
// already inside the engine finish with their result (up to 10 s), then closes the engine.
// Idempotent: every call returns the same promise.

const CALL_CHANNEL = 'imsync:call'
const EVENT_CHANNEL = 'imsync:event'
const SUBSCRIBE_CHANNEL = 'imsync:subscribe'
const UNSUBSCRIBE_CHANNEL = 'imsync:unsubscribe'
const READY_CHANNEL = 'imsync:ready'
const STATE_CHANNEL = 'imsync:state'
const INFO_CHANNEL = 'imsync:info'
const MEDIA_STAGE_CHANNEL = 'imsync:media-stage'
/** The calls whose `media.path` a window names (checked by MediaStage.refusePath). */
const MEDIA_PATH_METHODS = new Set(['uploadMediaMessage', 'sendMediaMessage'])

/** How often a pending connect is checked for its database being open. */
const OPEN_POLL_MS = 5
/** How long destroy() waits for calls inside the engine before it closes it anyway. */
const DESTROY_WAIT_MS = 10000

/** More positional arguments than any API method takes (the longest has 5). */
const MAX_ARGS = 16

const SUCCESS = 0
const INVALID_PARAMETER = 33003
const NOT_SUPPORT = 35004
const MAIN_PROCESS_ERROR = 35005

/** ConnectionStatus (the seed's table): what getConnectionStatus() answers in a window. */
const CONNECTED = 0
const CONNECTING = 1
const DISCONNECTED = 2
const NETWORK_UNAVAILABLE = 3
const KICKED_OFFLINE_BY_OTHER_CLIENT = 6
const BLOCKED = 9
const CONNECTION_STATUS_VALUES = new Set([0, 1, 2, 3, 4, 6, 9, 12])
/** SentStatus values (the seed's table). */
const SENDING = 10
const FAILED = 20

/**
 * The ConnectionStatus after a DISCONNECT(code) (an ErrorCode since 5.7): kicked (31010, or
 * 31023 when the other client stays) 6, banned (31009) 9, anything else 2.
 */
function statusAfterDisconnect(code) {
  if (code === 31010 || code === 31023) return KICKED_OFFLINE_BY_OTHER_CLIENT
  if (code === 31009) return BLOCKED
  return DISCONNECTED
}

/** A status the engine answered, as a ConnectionStatus value (a raw fatal code is 2). */
function asConnectionStatus(n) {
  return CONNECTION_STATUS_VALUES.has(n) ? n : typeof n === 'number' ? statusAfterDisconnect(n) : DISCONNECTED
}

/**
 * Estimates server time − local time (ms) from times the server stamped, within one session
 * (bounds from an earlier session may be stale: restart() on CONNECTED). Each sample bounds
 * the offset: `lo` ≤ offset ≤ `hi`. The estimate is the middle of [lo, hi], or lo with no upper
 * bound, or the previous session's estimate (0 at first) with no sample yet. A sample that
 * contradicts the bounds (a clock was stepped) starts them over.
 */
class ServerClock {
  constructor() {
    this.offset = 0
    this._lo = -Infinity
    this._hi = Infinity
  }

  restart() {
    this._lo = -Infinity
    this._hi = Infinity
  }

  /** The server stamped `sentTime` after local time `from` (if given) and before local time `to`. */
  sample(sentTime, to, from) {
    if (!Number.isFinite(sentTime) || sentTime <= 0) return false
    const lo = sentTime - to
    const hi = Number.isFinite(from) ? sentTime - from : Infinity
    if (Math.max(this._lo, lo) > Math.min(this._hi, hi)) {
      this._lo = lo
      this._hi = hi
    } else {
      this._lo = Math.max(this._lo, lo)
      this._hi = Math.min(this._hi, hi)
    }
    const before = this.offset
    this.offset = Math.round(Number.isFinite(this._hi) ? (this._lo + this._hi) / 2 : this._lo)
    return this.offset !== before
  }
}

// The allow-list: js/methods.js, the one list js/renderer.js forwards too (never rekey,
// encryptDatabase, recoverDatabase: those are main-process-only service methods below).
const { EXTENSION_METHODS, IMLIB_METHODS, METHODS } = require('./methods.js')
const { MediaStage } = require('./media-stage.js')
const ALLOWED = new Set(METHODS)
/** Calls that open a user database; other calls wait while one is in flight. */
// recoverDatabase closes the database and opens a fresh one: calls wait for it like for an
// open. (It is main-process only all the same: OPENING is not the allow-list.)
const OPENING = new Set(['open', 'connect', 'recoverDatabase'])

function loadElectron() {
  try {
    const e = require('electron')
    // Outside Electron, the `electron` npm package resolves to the path of its binary.
    return e && typeof e === 'object' ? e : null
  } catch {
    return null
  }
}

function loadEngine() {
  return require('../index.js').Engine
}

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v)
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v
}

function errorText(e) {
  if (e && typeof e === 'object' && typeof e.message === 'string') return e.message
  return String(e)
}

/** The webContents of a BrowserWindow, or the webContents itself. */
function webContentsOf(x) {
  if (x && typeof x === 'object') {
    if (x.webContents && typeof x.webContents === 'object') return x.webContents
    if (typeof x.send === 'function' && typeof x.id === 'number') return x
  }
  return null
}

function isDestroyed(wc) {
  try {
    return typeof wc.isDestroyed === 'function' ? wc.isDestroyed() : false
  } catch {
    return true
  }
}

/** The 33003 answer for a method name or an argument list no API call accepts, else null. */
function refuseCall(method, args) {
  if (typeof method !== 'string' || !ALLOWED.has(method)) {
    return { code: INVALID_PARAMETER, msg: `imsync: ${describe(method)} is not an imsync API method` }
  }
  if (!Array.isArray(args)) {
    return { code: INVALID_PARAMETER, msg: `imsync: the arguments of ${method} must be an array, got ${describe(args)}` }
  }
  if (args.length > MAX_ARGS) {
    // A window can send a sparse array of length 2^32 - 1 as the argument list itself;
    // spreading it into a call would be a 4-billion-argument apply.
    return { code: INVALID_PARAMETER, msg: `imsync: ${method} takes at most ${MAX_ARGS} arguments, got ${args.length}` }
  }
  return null
}

/** A few numbers of an Electron ProcessMetric (app.getAppMetrics()), or null. */
function metricOf(electron, pid) {
  const app = electron && electron.app
  if (!app || typeof app.getAppMetrics !== 'function' || typeof pid !== 'number') return null
  try {
    const m = app.getAppMetrics().find((x) => x && x.pid === pid)
    if (!m) return null
    const cpu = m.cpu || {}
    const memory = m.memory || {}
    return {
      creationTime: m.creationTime,
      cpu: { percentCPUUsage: cpu.percentCPUUsage, idleWakeupsPerSecond: cpu.idleWakeupsPerSecond },
      memory: { workingSetSize: memory.workingSetSize, peakWorkingSetSize: memory.peakWorkingSetSize, privateBytes: memory.privateBytes },
    }
  } catch {
    return null
  }
}

/**
 * What 'imsync:info' answers (the data of a { code: 0, data } envelope). The vendor's shapes
 * are not public; these are Node's and Electron's own, limited to harmless numbers and names.
 */
function infoFor(kind, electron, webContents) {
  if (kind === 'os') {
    const os = require('node:os')
    const cpus = os.cpus() || []
    return {
      platform: os.platform(),
      arch: os.arch(),
      type: os.type(),
      release: os.release(),
      version: typeof os.version === 'function' ? os.version() : '',
      cpuCount: cpus.length,
      cpuModel: cpus.length ? cpus[0].model : '',
      totalmem: os.totalmem(),
      freemem: os.freemem(),
      uptime: os.uptime(),
    }
  }
  if (kind === 'process') {
    let pid = null
    try {
      pid = typeof webContents.getOSProcessId === 'function' ? webContents.getOSProcessId() : null
    } catch {
      pid = null
    }
    return { type: 'renderer', pid, webContentsId: webContents.id, metrics: metricOf(electron, pid) }
  }
  if (kind === 'mainProcess') {
    const v = process.versions || {}
    const app = electron && electron.app
    let appInfo = null
    try {
      if (app && typeof app.getName === 'function') appInfo = { name: app.getName(), version: typeof app.getVersion === 'function' ? app.getVersion() : '' }
    } catch {
      appInfo = null
    }
    const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
    return {
      type: 'browser',
      pid: process.pid,
      platform: process.platform,
      arch: process.arch,
      versions: { node: v.node, electron: v.electron, chrome: v.chrome, v8: v.v8 },
      uptime: process.uptime(),
      memory: { rss, heapTotal, heapUsed, external, arrayBuffers },
      cpuUsage: process.cpuUsage(),
      metrics: metricOf(electron, process.pid),
      app: appInfo,
    }
  }
  return undefined
}

class ImsyncService {
  /**
   * @param {object} options init options (Engine options plus windows, validateSender)
   * @param {object|null} electron the electron module (main process), or null outside Electron
   * @param {Function} Engine the Engine class
   */
  constructor(options, electron, Engine) {
    if (!options || typeof options !== 'object' || Array.isArray(options)) {
      throw Object.assign(new TypeError('imsync init(options): options must be an object'), { code: INVALID_PARAMETER })
    }
    const { windows = 'auto', validateSender, mediaPathFilter, ...engineOptions } = options
    if (windows !== 'auto' && windows !== 'manual') {
      throw Object.assign(new TypeError(`imsync init(options): options.windows must be 'auto' or 'manual', got ${describe(windows)}`), {
        code: INVALID_PARAMETER,
      })
    }
    if (validateSender !== undefined && typeof validateSender !== 'function') {
      throw Object.assign(new TypeError('imsync init(options): options.validateSender must be a function'), { code: INVALID_PARAMETER })
    }
    if (mediaPathFilter !== undefined && typeof mediaPathFilter !== 'function') {
      throw Object.assign(new TypeError('imsync init(options): options.mediaPathFilter must be a function'), { code: INVALID_PARAMETER })
    }
    const app = electron && electron.app
    if (engineOptions.dbpath === undefined) {
      engineOptions.dbpath = app && typeof app.getPath === 'function' ? app.getPath('userData') : process.cwd()
    }

    /** @private */ this._electron = electron
    /** @private */ this._mode = windows
    /** @private */ this._validateSender = validateSender || null
    /** @private */ this._engine = new Engine(engineOptions) // throws (33003) on invalid options
    /** @private */ this._media = new MediaStage(engineOptions.dbpath, () => this._engine.userId, mediaPathFilter || null)
    /** @private */ this._appkey = typeof engineOptions.appkey === 'string' ? engineOptions.appkey : ''
    /** @private */ this._windows = new Map() // webContents.id -> { webContents, subs: Set<string>, cleanup }
    /** @private */ this._opening = null // the open/connect in flight, if any
    /** @private */ this._waiting = new Set() // callbacks that abort calls waiting on _opening
    /** @private */ this._inflight = new Set() // engine calls not yet settled
    /** @private */ this._destroyPromise = null
    /** @private */ this._cleanups = []
    /** @private */ this._status = DISCONNECTED
    /** @private */ this._clock = new ServerClock()
    /** @private */ this._pushed = null // the last state sent to every window

    try {
      this._attachIpc()
    } catch (e) {
      this._teardown()
      this._engine.close().catch(() => {})
      if (/second handler/.test(errorText(e))) {
        throw new Error("imsync init(): the 'imsync:call' IPC handler is already registered: one service per app (destroy() the previous one first)")
      }
      throw e
    }
    this._subscribeEngineEvents()
  }

  /** The native Engine (for main-process code that calls it directly). */
  get engine() {
    return this._engine
  }

  /** True once destroy() was called. */
  get destroyed() {
    return this._destroyPromise !== null
  }

  /** The connection's ConnectionStatus (what getConnectionStatus() answers in a window). */
  get connectionStatus() {
    return this._status
  }

  /** Server time − local time in ms (what getServerTime() adds to Date.now() in a window). */
  get serverTimeOffset() {
    return this._state().serverTimeOffset
  }

  /** The server-corrected clock, ms (as getServerTime() in a window). */
  getServerTime() {
    return Date.now() + this.serverTimeOffset
  }

  /** How windows are registered: 'auto' or 'manual'. */
  get windowMode() {
    return this._mode
  }

  /** Registers a BrowserWindow (or a webContents): its top frame may call and subscribe. */
  addWindow(win) {
    const wc = webContentsOf(win)
    if (!wc) throw new TypeError('imsync service.addWindow(win): expected a BrowserWindow or a webContents')
    if (this.destroyed || isDestroyed(wc) || this._windows.has(wc.id)) return this
    // unsent: media messages this window uploaded (uploadMediaMessage) and has not sent yet.
    const entry = { webContents: wc, subs: new Set(), cleanup: [], unsent: new Set() }
    const forget = () => this._forget(wc)
    const crashed = () => entry.subs.clear() // a reloaded page subscribes again
    if (typeof wc.once === 'function') {
      wc.once('destroyed', forget)
      entry.cleanup.push(() => wc.removeListener('destroyed', forget))
    }
    if (typeof wc.on === 'function') {
      wc.on('render-process-gone', crashed)
      entry.cleanup.push(() => wc.removeListener('render-process-gone', crashed))
    }
    this._windows.set(wc.id, entry)
    // A window that loaded before it was registered may have calls waiting and listeners
    // that were never subscribed: tell it the service is there.
    this._sendTo(entry, READY_CHANNEL)
    return this
  }

  /** Unregisters a window (or webContents): its calls are refused from now on. */
  removeWindow(win) {
    const wc = webContentsOf(win)
    if (wc) this._forget(wc)
    return this
  }

  /** Whether a window (or webContents) is registered. */
  hasWindow(win) {
    const wc = webContentsOf(win)
    return !!wc && this._windows.has(wc.id) && this._windows.get(wc.id).webContents === wc
  }

  /**
   * Main-process call with the renderer's rules (allow-list, open gate, envelopes), for main
   * code that wants the same behaviour, e.g. `service.call('open', ['alice'])`.
   */
  call(method, args = []) {
    const refused = refuseCall(method, args)
    if (refused) return Promise.resolve(refused)
    return this._dispatch(method, args)
  }

  /** Opens `userId`'s local database (local-only apps; connect() opens it by itself). */
  open(userId) {
    return this.call('open', [userId])
  }

  /**
   * Changes the key of the open encrypted database (see js/main.d.ts). Main process only:
   * deliberately not in METHODS, so no window can reach it through 'imsync:call'.
   */
  rekey(newKey) {
    return this._dispatch('rekey', [newKey])
  }

  /** Migrates the open plain database to an encrypted one (see js/main.d.ts). Main process only. */
  encryptDatabase(key) {
    return this._dispatch('encryptDatabase', [key])
  }

  /**
   * After 33201 (damaged database): moves the damaged file aside and opens a fresh database
   * that the next connect() refills from the server (see js/main.d.ts). Main process only:
   * not in METHODS, so no window can reach it through 'imsync:call'.
   */
  recoverDatabase(userId) {
    return this._dispatch('recoverDatabase', userId === undefined ? [] : [userId])
  }

  /** Closes everything; idempotent (returns the same promise every time). */
  destroy() {
    if (!this._destroyPromise) this._destroyPromise = this._destroy()
    return this._destroyPromise
  }

  // ---- internals -------------------------------------------------------------------------

  /** @private */
  _teardown() {
    for (const fn of this._cleanups.splice(0)) {
      try {
        fn()
      } catch {
        // best effort: a half-torn-down electron must not stop the engine from closing
      }
    }
    for (const entry of this._windows.values()) for (const fn of entry.cleanup) fn()
    this._windows.clear()
  }

  /** @private */
  async _destroy() {
    this._teardown()
    for (const abort of [...this._waiting]) abort()
    const engine = this._engine
    // End the session first: a connect still waiting for the server resolves now.
    if (typeof engine.disconnect === 'function') {
      try {
        await engine.disconnect()
      } catch {
        // the connection may already be gone; close() below is what must happen
      }
    }
    // Calls already inside the engine finish with their own result (bounded wait).
    let timer
    await Promise.race([
      Promise.allSettled([...this._inflight]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, DESTROY_WAIT_MS)
      }),
    ])
    clearTimeout(timer)
    try {
      await engine.close()
    } catch {
      // close() resolves an envelope; a throw here has nobody left to report to
    }
  }

  /** @private */
  _subscribeEngineEvents() {
    const engine = this._engine
    if (typeof engine.onEvent !== 'function') return
    engine.onEvent((...a) => {
      // (name, payload); tolerate a napi error-first callback (null, name, payload).
      if (a.length >= 3 && a[0] == null && typeof a[1] === 'string') a.shift()
      this._observeEvent(a[0], a[1])
      this._fanOut(a[0], a[1])
    })
  }

  /** Status and server clock from an engine event; windows get the new state first. @private */
  _observeEvent(name, payload) {
    if (this.destroyed) return
    let status = this._status
    if (name === 'CONNECTING') status = CONNECTING
    else if (name === 'CONNECTED') {
      status = CONNECTED
      this._clock.restart()
    } else if (name === 'SUSPEND') status = NETWORK_UNAVAILABLE
    else if (name === 'DISCONNECT') status = statusAfterDisconnect(payload)
    else if (name === 'MESSAGES' && payload && Array.isArray(payload.messages)) {
      const now = Date.now()
      let latest = 0
      for (const m of payload.messages) {
        // Offline messages were stamped long before; a live one just before it arrived.
        if (m && m.isOfflineMessage === false && typeof m.sentTime === 'number' && m.sentTime > latest) latest = m.sentTime
      }
      if (latest) this._clock.sample(latest, now)
    }
    this._status = status
    this._pushState()
  }

  /** Status and server clock from an engine answer (before the caller gets it). @private */
  async _observeAnswer(method, args, out, started) {
    if (this.destroyed || !out || typeof out !== 'object') return
    if (method === 'sendMessage' && out.code === SUCCESS && out.data && out.data.messageUId) {
      // A resend (options.messageId) may answer a send the server stamped earlier.
      const options = args[2]
      const resend = options && typeof options === 'object' && options.messageId != null && options.messageId !== 0
      this._clock.sample(out.data.sentTime, Date.now(), resend ? undefined : started)
      this._pushState()
    } else if (OPENING.has(method) || method === 'disconnect') {
      // The open user changed (or may have): windows answer getCurrentUserId from the state.
      this._pushState()
    }
    if (method === 'connect' && out.code !== SUCCESS && this._status === CONNECTING) {
      // A first connect that fails ends the engine's CONNECTING without an event.
      try {
        const r = await this._engine.getConnectionStatus()
        if (!this.destroyed && r && r.code === SUCCESS) {
          this._status = asConnectionStatus(r.data)
          this._pushState()
        }
      } catch {
        // the status stays as the events left it
      }
    }
  }

  /** What a window answers synchronously. @private */
  _state() {
    let offset = this._clock.offset
    try {
      const native = this._engine.serverTimeOffset
      if (typeof native === 'number' && Number.isFinite(native)) offset = Math.round(native)
    } catch {
      // an Engine without the getter
    }
    let userId = ''
    try {
      userId = this._engine.userId || ''
    } catch {
      userId = ''
    }
    return { connectionStatus: this._status, serverTimeOffset: offset, userId, appkey: this._appkey }
  }

  /** Sends the state to every window when it changed. @private */
  _pushState() {
    const state = this._state()
    const last = this._pushed
    if (last && last.connectionStatus === state.connectionStatus && last.serverTimeOffset === state.serverTimeOffset && last.userId === state.userId) return
    this._pushed = state
    for (const entry of [...this._windows.values()]) {
      if (!isDestroyed(entry.webContents)) this._sendTo(entry, STATE_CHANNEL, state)
    }
  }

  /** @private */
  _fanOut(name, payload) {
    if (this.destroyed || typeof name !== 'string') return
    for (const entry of [...this._windows.values()]) {
      if (!entry.subs.has(name)) continue
      if (isDestroyed(entry.webContents)) {
        this._forget(entry.webContents)
        continue
      }
      if (!this._sendTo(entry, EVENT_CHANNEL, name, payload)) entry.subs.clear()
    }
  }

  /** @private */
  _sendTo(entry, channel, ...args) {
    try {
      entry.webContents.send(channel, ...args)
      return true
    } catch {
      return false
    }
  }

  /** @private */
  _forget(wc) {
    const entry = this._windows.get(wc.id)
    if (!entry || entry.webContents !== wc) return
    this._windows.delete(wc.id)
    for (const fn of entry.cleanup) fn()
    this._media.forget(wc.id).catch(() => {})
    for (const id of entry.unsent) this._failUnsent(id).catch(() => {})
  }

  /**
   * A window closed (or reloaded) between a media upload and its send: the send will never
   * come, so the stored message goes from SENDING to FAILED at once (resendable), instead of
   * at the next open. @private
   */
  async _failUnsent(id) {
    const m = await this._engine.getMessage(id)
    if (m.code === 0 && m.data && m.data.sentStatus === SENDING && !m.data.messageUId) {
      await this._engine.setMessageSentStatus(id, FAILED)
    }
  }

  /** @private */
  _attachIpc() {
    const electron = this._electron
    if (!electron) return
    const { ipcMain, app, BrowserWindow } = electron
    if (ipcMain && typeof ipcMain.handle === 'function') {
      ipcMain.handle(CALL_CHANNEL, (event, method, args) => this._handle(event, method, args))
      this._cleanups.push(() => ipcMain.removeHandler(CALL_CHANNEL))
      ipcMain.handle(INFO_CHANNEL, (event, kind) => this._info(event, kind))
      this._cleanups.push(() => ipcMain.removeHandler(INFO_CHANNEL))
      ipcMain.handle(MEDIA_STAGE_CHANNEL, (event, request) => this._stage(event, request))
      this._cleanups.push(() => ipcMain.removeHandler(MEDIA_STAGE_CHANNEL))
      const onSubscribe = (event, names) => {
        const entry = this._entryFor(event)
        if (!entry || !Array.isArray(names)) return
        entry.subs = new Set(names.filter((n) => typeof n === 'string' && n.length <= 128).slice(0, 256))
      }
      const onUnsubscribe = (event) => {
        const entry = this._entryFor(event)
        if (entry) entry.subs.clear()
      }
      const onState = (event) => {
        const entry = this._entryFor(event)
        if (entry) this._sendTo(entry, STATE_CHANNEL, this._state())
      }
      ipcMain.on(SUBSCRIBE_CHANNEL, onSubscribe)
      ipcMain.on(UNSUBSCRIBE_CHANNEL, onUnsubscribe)
      ipcMain.on(STATE_CHANNEL, onState)
      this._cleanups.push(() => ipcMain.removeListener(SUBSCRIBE_CHANNEL, onSubscribe))
      this._cleanups.push(() => ipcMain.removeListener(UNSUBSCRIBE_CHANNEL, onUnsubscribe))
      this._cleanups.push(() => ipcMain.removeListener(STATE_CHANNEL, onState))
    }
    if (this._mode === 'auto') {
      if (app && typeof app.on === 'function') {
        const onCreated = (_event, win) => {
          try {
            this.addWindow(win)
          } catch {
            // not a window we can serve
          }
        }
        app.on('browser-window-created', onCreated)
        this._cleanups.push(() => app.removeListener('browser-window-created', onCreated))
      }
      if (BrowserWindow && typeof BrowserWindow.getAllWindows === 'function') {
        for (const win of BrowserWindow.getAllWindows()) this.addWindow(win)
      }
    }
  }

  /** The registry entry of a valid sender, or null. @private */
  _entryFor(event) {
    if (this.destroyed || !event || typeof event !== 'object') return null
    const wc = event.sender
    if (!wc || typeof wc.id !== 'number') return null
    const entry = this._windows.get(wc.id)
    if (!entry || entry.webContents !== wc || isDestroyed(wc)) return null
    // Only the window's top frame: not an iframe, not a frame that is gone (senderFrame null).
    if ('senderFrame' in event) {
      const frame = event.senderFrame
      if (!frame || frame.parent) return null
      const top = wc.mainFrame
      if (top && (frame.routingId !== top.routingId || frame.processId !== top.processId)) return null
    }
    if (this._validateSender) {
      try {
        if (!this._validateSender(event)) return null
      } catch {
        return null
      }
    }
    return entry
  }

  /** @private */
  async _handle(event, method, args) {
    try {
      if (!this._entryFor(event)) {
        const id = event && event.sender && typeof event.sender.id === 'number' ? event.sender.id : '?'
        return {
          code: MAIN_PROCESS_ERROR,
          msg: `imsync: call refused: the sender (webContents ${id}) is not the top frame of a window registered with the imsync service`,
        }
      }
      const refused = refuseCall(method, args)
      if (refused) return refused
      if (MEDIA_PATH_METHODS.has(method)) {
        const checked = await this._checkMediaPath(args, event.sender)
        if (checked.refused) return checked.refused
        const media = checked.args[1]
        const out = await this._media.uploading(media && media.path, () => this._dispatch(method, checked.args))
        const id = method === 'uploadMediaMessage' && out && out.code === 0 && out.data && out.data.message && out.data.message.messageId
        const entry = this._entryFor(event)
        if (id && entry) entry.unsent.add(id)
        // The window went away during the upload: its send will never come.
        else if (id) await this._failUnsent(id).catch(() => {})
        return out
      }
      if (method === 'sendMessage' && args[2] && typeof args[2] === 'object' && typeof args[2].messageId === 'number') {
        for (const entry of this._windows.values()) entry.unsent.delete(args[2].messageId)
      }
      return await this._dispatch(method, args)
    } catch (e) {
      return { code: MAIN_PROCESS_ERROR, msg: `imsync: ${errorText(e)}` }
    }
  }

  /**
   * The file a window's uploadMediaMessage / sendMediaMessage would upload, checked by
   * MediaStage.refusePath: `media.path`, or on a resend without one (`options.messageId`) the
   * message's stored `localPath` — which a window can set itself (insertMessage), so it is
   * checked like a path it names, and then passed on as `media.path` so the engine uploads
   * exactly the file that was checked. Resolves `{ refused }` or `{ args }`. @private
   */
  async _checkMediaPath(args, webContents) {
    const [conversation, media, options] = args
    if (!media || typeof media !== 'object' || Array.isArray(media)) return { args }
    if (media.path !== undefined && media.path !== '') {
      return { refused: await this._media.refusePath(media.path, 'media.path', webContents), args }
    }
    const id = options && typeof options === 'object' ? options.messageId : undefined
    if (typeof id !== 'number' || id === 0) return { args }
    // A message that is not there, or has no local file: the engine answers for it.
    const stored = await this._dispatch('getMessage', [id])
    const localPath = stored && stored.code === 0 && stored.data ? stored.data.localPath : undefined
    if (typeof localPath !== 'string' || localPath === '') return { args }
    const refused = await this._media.refusePath(localPath, `the localPath of options.messageId ${id}`, webContents)
    if (refused) return { refused, args }
    return { args: [conversation, { ...media, path: localPath }, ...args.slice(2)] }
  }

  /** 'imsync:media-stage': a renderer's Blob written to the media folder in chunks (MediaStage). @private */
  async _stage(event, request) {
    try {
      const entry = this._entryFor(event)
      if (!entry) return { code: MAIN_PROCESS_ERROR, msg: 'imsync: media-stage refused: the sender is not the top frame of a window registered with the imsync service' }
      return await this._media.handle(entry.webContents.id, request)
    } catch (e) {
      return { code: MAIN_PROCESS_ERROR, msg: `imsync: media-stage: ${errorText(e)}` }
    }
  }

  /** 'imsync:info': read-only facts for plugin contexts (infoFor). @private */
  _info(event, kind) {
    try {
      const entry = this._entryFor(event)
      if (!entry) return { code: MAIN_PROCESS_ERROR, msg: 'imsync: info refused: the sender is not the top frame of a window registered with the imsync service' }
      const data = infoFor(kind, this._electron, entry.webContents)
      if (data === undefined) return { code: INVALID_PARAMETER, msg: `imsync: info kind must be 'os', 'process' or 'mainProcess', got ${describe(kind)}` }
      return { code: SUCCESS, data }
    } catch (e) {
      return { code: MAIN_PROCESS_ERROR, msg: `imsync: info ${describe(kind)}: ${errorText(e)}` }
    }
  }

  /** @private */
  async _dispatch(method, args) {
    if (this.destroyed) return { code: MAIN_PROCESS_ERROR, msg: 'imsync: the service is destroyed' }
    if (OPENING.has(method)) {
      const previous = this._opening
      const run = (async () => {
        if (previous) await previous
        return this._invoke(method, args)
      })()
      const settled = run.then(
        () => undefined,
        () => undefined,
      )
      // connect resolves once the server answered; local calls only need its database,
      // which it opens first: they go on as soon as the engine has a user open.
      const gate = method === 'connect' ? Promise.race([settled, this._whenUserOpen(settled)]) : settled
      this._opening = gate
      gate.then(() => {
        if (this._opening === gate) this._opening = null
      })
      return run
    }
    while (this._opening) {
      const aborted = await this._waitOpening(this._opening)
      if (aborted) return { code: MAIN_PROCESS_ERROR, msg: `imsync: ${method} was waiting for open when the service was destroyed` }
    }
    return this._invoke(method, args)
  }

  /** Resolves once the engine has a user database open, or when `until` settles. @private */
  _whenUserOpen(until) {
    return new Promise((resolve) => {
      let timer = null
      const done = () => {
        clearInterval(timer)
        resolve()
      }
      const check = () => {
        let open = false
        try {
          open = this._engine.userId != null
        } catch {
          open = false
        }
        if (open) done()
      }
      timer = setInterval(check, OPEN_POLL_MS)
      until.then(done)
    })
  }

  /** Resolves false when `gate` settles, true when destroy() aborts the wait. @private */
  _waitOpening(gate) {
    return new Promise((resolve) => {
      const abort = () => {
        this._waiting.delete(abort)
        resolve(true)
      }
      this._waiting.add(abort)
      gate.then(() => {
        this._waiting.delete(abort)
        resolve(false)
      })
    })
  }

  /** @private */
  async _invoke(method, args) {
    const started = Date.now()
    const out = await this._call(method, args)
    await this._observeAnswer(method, args, out, started)
    return out
  }

  /** @private */
  async _call(method, args) {
    const engine = this._engine
    const fn = engine[method]
    if (typeof fn !== 'function') return { code: NOT_SUPPORT, msg: `not supported yet: ${method}` }
    let p
    try {
      p = Promise.resolve(fn.apply(engine, args))
    } catch (e) {
      return { code: MAIN_PROCESS_ERROR, msg: `imsync: ${method} failed in the main process: ${errorText(e)}` }
    }
    this._inflight.add(p)
    try {
      const r = await p
      if (r && typeof r === 'object' && typeof r.code === 'number') return r
      return r === undefined ? { code: SUCCESS } : { code: SUCCESS, data: r }
    } catch (e) {
      return { code: MAIN_PROCESS_ERROR, msg: `imsync: ${method} failed in the main process: ${errorText(e)}` }
    } finally {
      this._inflight.delete(p)
    }
  }
}

/**
 * Creates the imsync service: one Engine, the IPC handler, the event fan-out.
 * Throws (a TypeError with `code` 33003) only for invalid options, like the Engine constructor.
 */
function init(options) {
  return new ImsyncService(options, loadElectron(), loadEngine())
}

module.exports = init
module.exports.init = init
module.exports.ImsyncService = ImsyncService
module.exports.METHODS = METHODS
module.exports.EXTENSION_METHODS = EXTENSION_METHODS
module.exports.IMLIB_METHODS = IMLIB_METHODS
module.exports.CHANNELS = Object.freeze({
  call: CALL_CHANNEL,
  event: EVENT_CHANNEL,
  subscribe: SUBSCRIBE_CHANNEL,
  unsubscribe: UNSUBSCRIBE_CHANNEL,
  ready: READY_CHANNEL,
  state: STATE_CHANNEL,
  info: INFO_CHANNEL,
})
Object.defineProperty(module.exports, 'Engine', { enumerable: true, get: loadEngine })
