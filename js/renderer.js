'use strict'
// imsync/renderer: the preload half of imsync. `const RongIMLib = require('imsync/renderer')`
// gives the RongIMLib-compatible API object (ARCHITECTURE.md §4): the top-level IMLib calls,
// `electronExtension.*`, the enums, the event-listener calls and registerMessageType.
//
// Sandbox-safe: it requires only 'electron' and its sibling ./methods.js (which requires
// nothing), so it runs in a sandboxed preload once bundled into it (a sandboxed preload cannot
// require files by itself): examples/electron-app/build-preload.js inlines both, and so does
// any bundler (esbuild `--bundle --platform=node --external:electron`, webpack, …).
//
// Every call is `ipcRenderer.invoke('imsync:call', method, args)` and resolves the main
// process's `{ code, msg?, data? }` envelope; it never rejects. Calls made before the main
// process registered its handler wait for it ('imsync:ready', or a retry) for up to
// READY_TIMEOUT_MS, then resolve 35005. Arguments that cannot be structured-cloned resolve
// 33003. Events arrive on 'imsync:event'; this window subscribes ('imsync:subscribe' with
// the names it has listeners for) only to what it listens to.
//
// contextIsolation: true — call `initContextBridge(name = 'imsync')` in the preload. The page
// then finds the API at `window[name]` (functions and enums only; ipcRenderer is never
// exposed). With Electron >= 35 (contextBridge.executeInMainWorld) the event-listener
// registry lives in the page's own world, so `removeEventListener(name, fn)` matches `fn`
// by identity as in RongIMLib; with older Electron the API is exposed with
// contextBridge.exposeInMainWorld, where a function passed twice arrives as two different
// proxies: there, remove a listener with the function addEventListener returned, or with
// removeEventListeners(name).
//
// Plugins (installPlugin) run in the world that installs them (see pluginHost). Their
// context's getOSInfo / getProcessInfo / getMainProcessInfo ask the main process on
// 'imsync:info' (read-only facts; js/main.js infoFor); the context's getCurrentUserId and
// getAppkey read the state main sends on 'imsync:state'.

let electron = null
try {
  electron = require('electron')
} catch {
  electron = null
}
const ipcRenderer = electron && typeof electron === 'object' ? electron.ipcRenderer || null : null
const contextBridge = electron && typeof electron === 'object' ? electron.contextBridge || null : null

const CALL_CHANNEL = 'imsync:call'
const EVENT_CHANNEL = 'imsync:event'
const SUBSCRIBE_CHANNEL = 'imsync:subscribe'
const UNSUBSCRIBE_CHANNEL = 'imsync:unsubscribe'
const READY_CHANNEL = 'imsync:ready'
const STATE_CHANNEL = 'imsync:state'
const INFO_CHANNEL = 'imsync:info'
/** How long a call waits for the main process to register its handler. */
const READY_TIMEOUT_MS = 30000

// ---- enums (ARCHITECTURE.md §4 "Values"; the vendor SDK's numbers) ------------------------

// 7, 8 and 12 are not in the seed's tables: APP_PUBLIC_SERVICE / PUBLIC_SERVICE are named by
// issue 11, RTC_ROOM by the seed's changelog (002:L10497); the numbers are the vendor's
// published ConversationType enum (the same numbering as its native SDKs).
const ConversationType = Object.freeze({
  PRIVATE: 1,
  DISCUSSION: 2,
  GROUP: 3,
  CHATROOM: 4,
  CUSTOMER_SERVICE: 5,
  SYSTEM: 6,
  APP_PUBLIC_SERVICE: 7,
  PUBLIC_SERVICE: 8,
  ULTRA_GROUP: 10,
  RTC_ROOM: 12,
})

const MessageDirection = Object.freeze({ SEND: 1, RECEIVE: 2 })

const SentStatus = Object.freeze({
  SENDING: 10,
  FAILED: 20,
  SENT: 30,
  RECEIVED: 40,
  READ: 50,
  DESTROYED: 60,
  CANCELED: 70,
})

/** Bit flags. */
const ReceivedStatus = Object.freeze({
  UNREAD: 0,
  READ: 1,
  LISTENED: 2,
  DOWNLOADED: 4,
  RETRIEVED: 8,
  MULTIPLE_RECEIVE: 16,
})

const NotificationLevel = Object.freeze({
  ALL_MESSAGE: -1,
  NOT_SET: 0,
  AT_MESSAGE_NOTIFICATION: 1,
  AT_USER_NOTIFICATION: 2,
  AT_GROUP_ALL_USER_NOTIFICATION: 4,
  NOT_MESSAGE_NOTIFICATION: 5,
})

/** The legacy two-value view of NotificationLevel: OPEN = do not disturb, CLOSE = notify. */
const NotificationStatus = Object.freeze({ OPEN: 1, CLOSE: 2 })

/** `getBlacklistStatus` results, numbered as the native SDK does. */
const BlacklistStatus = Object.freeze({ IN_BLACK_LIST: 0, NOT_IN_BLACK_LIST: 1 })

/**
 * Profile visibility (seed 002: NOT_SET, INVISIBLE, EVERYONE; the numbers are the vendor's
 * RCUserProfileVisibility). NOT_SET means the server's default: INVISIBLE unless imsync-server
 * runs with --profile-visibility everyone.
 */
const UserProfileVisibility = Object.freeze({ NOT_SET: 0, INVISIBLE: 1, EVERYONE: 2 })

/** What subscribeUserStatus follows (seed 002; USER_PROFILE from IMLib 5.10.1). */
const SubscribeType = Object.freeze({ ONLINE_STATUS: 1, USER_PROFILE: 2 })

/** ISubscribeRelationInfo.operationType. */
const SubscribeOperationType = Object.freeze({ SUBSCRIBE: 0, UNSUBSCRIBE: 1 })

/** IUserProfileInfo.gender (the vendor's RCUserGender). */
const UserGender = Object.freeze({ UNKNOWN: 0, MALE: 1, FEMALE: 2 })

/** Connection states of the pre-5.7 payloads (seed: ConnectionStatus table). */
const ConnectionStatus = Object.freeze({
  CONNECTED: 0,
  CONNECTING: 1,
  DISCONNECTED: 2,
  NETWORK_UNAVAILABLE: 3,
  SOCKET_ERROR: 4,
  KICKED_OFFLINE_BY_OTHER_CLIENT: 6,
  BLOCKED: 9,
  DOMAIN_INCORRECT: 12,
})

/** mentionedInfo.type: 1 @all, 2 @ the users in userIdList (the vendor spells it SINGAL). */
const MentionedType = Object.freeze({ ALL: 1, SINGAL: 2 })

/** Object names of the built-in messages. */
const MessageType = Object.freeze({
  TEXT: 'RC:TxtMsg',
  IMAGE: 'RC:ImgMsg',
  FILE: 'RC:FileMsg',
  HQ_VOICE: 'RC:HQVCMsg',
  SIGHT: 'RC:SightMsg',
  GIF: 'RC:GIFMsg',
  REFERENCE: 'RC:ReferenceMsg',
  LOCATION: 'RC:LBSMsg',
  RICH_CONTENT: 'RC:ImgTextMsg',
  INFORMATION_NOTIFICATION: 'RC:InfoNtf',
  COMMAND: 'RC:CmdMsg',
  GROUP_NOTIFICATION: 'RC:GrpNtf',
  TYPING_STATUS: 'RC:TypSts',
  RECALL_NOTIFICATION: 'RC:RcNtf',
  SYNC_READ_STATUS: 'RC:SRSMsg',
  READ_RECEIPT: 'RC:ReadNtf',
})

/** Event names: each value is its own name, and is the name the Engine emits. */
const Events = Object.freeze(
  Object.fromEntries(
    [
      'CONNECTING',
      'CONNECTED',
      'DISCONNECT',
      'SUSPEND',
      'MESSAGES',
      'READ_RECEIPT_RECEIVED',
      'MESSAGE_RECEIPT_REQUEST',
      'MESSAGE_RECEIPT_RESPONSE',
      'CONVERSATION',
      'CHATROOM',
      'EXPANSION',
      'PULL_OFFLINE_MESSAGE_FINISHED',
      'TAG',
      'CONVERSATION_TAG',
      'TYPING_STATUS',
      'MESSAGE_BLOCKED',
      'ULTRA_GROUP_ENABLE',
      'OPERATE_STATUS',
      'ULTRA_GROUP_MESSAGE_EXPANSION_UPDATED',
      'ULTRA_GROUP_MESSAGE_MODIFIED',
      'ULTRA_GROUP_MESSAGE_RECALLED',
      'ULTRA_GROUP_CHANNEL_TYPE_CHANGE',
      'ULTRA_GROUP_CHANNEL_DELETE',
      'ULTRA_GROUP_CHANNEL_USER_KICKED',
      'SUBSCRIBED_USER_STATUS_CHANGE',
      'SUBSCRIBED_RELATION_CHANGE',
      'SYNC_SUBSCRIBED_USER_STATUS_FINISHED',
      'OWN_USER_PROFILE_CHANGED',
      'USER_GROUP_STATUS',
      // The server told the sender that a recipient device stored the message (the vendor's
      // 5.x Electron demo listens to both names).
      'PRIVATE_MESSAGE_DELIVERED',
      'GROUP_MESSAGE_DELIVERED',
      // imsync's own: { pulled, total } while a large offline backlog is pulled (first login).
      'OFFLINE_SYNC_PROGRESS',
      // imsync's own: { transferId, messageId, direction, progress, done, total } while a
      // media file uploads or downloads (downloadMediaMessage, the media senders).
      'MEDIA_PROGRESS',
    ].map((n) => [n, n]),
  ),
)

/** Result codes (seed: the ErrorCode table; call-signalling codes left out). */
const ErrorCode = Object.freeze({
  PARAMETER_CHANGED: -6,
  EXTRA_METHOD_UNDEFINED: -4,
  PARAMETER_ERROR: -3,
  UNKNOWN: -2,
  TIMEOUT: -1,
  SUCCESS: 0,
  ACTIVE_DISCONNECT: 2,
  REJECTED_BY_BLACKLIST: 405,
  SYS_CONVERSATION_NOT_SUPPORT_MESSAGE: 20109,
  SEND_FREQUENCY_TOO_FAST: 20604,
  OPERATION_BLOCKED: 20605,
  OPERATION_NOT_SUPPORT: 20606,
  REQUEST_OVER_FREQUENCY: 20607,
  NOT_IN_DISCUSSION: 21406,
  SENSITIVE_SHIELD: 21501,
  SENSITIVE_REPLACE: 21502,
  MESSAGE_EXPAND_NOT_EXIST: 22201,
  MESSAGE_EXPAND_NOT_SUPPORT: 22202,
  MESSAGE_EXPAND_FORMAT_ERROR: 22203,
  MESSAGE_EXPAND_NOT_AUTHORIZED: 22204,
  NOT_IN_GROUP: 22406,
  FORBIDDEN_IN_GROUP: 22408,
  NOT_IN_CHATROOM: 23406,
  GET_USERINFO_ERROR: 23407,
  FORBIDDEN_IN_CHATROOM: 23408,
  RC_CHATROOM_USER_KICKED: 23409,
  RC_CHATROOM_NOT_EXIST: 23410,
  RC_CHATROOM_IS_FULL: 23411,
  RC_CHATROOM_PARAMETER_INVALID: 23412,
  CHATROOM_GET_HISTORYMSG_ERROR: 23413,
  CHATROOM_NOT_OPEN_HISTORYMSG_STORE: 23414,
  CHATROOM_KV_EXCEED: 23423,
  CHATROOM_KV_OVERWRITE_INVALID: 23424,
  CHATROOM_SET_PROPERTY_OVER_FREQUENCY: 23425,
  CHATROOM_KV_STORE_NOT_OPEN: 23426,
  CHATROOM_KEY_NOT_EXIST: 23427,
  CHATROOM_KV_STORE_NOT_ALL_SUCCESS: 23428,
  CHATROOM_KV_STORE_OUT_LIMIT: 23429,
  CHATROOM_KV_SET_ERROR: 23431,
  ULTRA_GROUP_SERVICE_UNAVAILABLE: 24401,
  ULTRA_GROUP_SERVICE_ERROR: 24402,
  ULTRA_GROUP_PARAMETER_ERROR: 24403,
  ULTRA_GROUP_UNKNOWN_ERROR: 24404,
  NOT_IN_ULTRA_GROUP: 24406,
  FORBIDDEN_IN_ULTRA_GROUP: 24408,
  ULTRA_GROUP_NOT_EXIST: 24410,
  ULTRA_GROUP_MEMBERS_OVERSIZE: 24411,
  ULTRA_GROUP_JOINED_OVERSIZE: 24412,
  ULTRA_GROUP_CHANNELS_OVERSIZE: 24413,
  ULTRA_GROUP_CHANNEL_ID_NOT_EXIST: 24414,
  ULTRA_GROUP_MESSAGE_SENT_OVER_FREQUENCY: 24415,
  ULTRA_GROUP_USER_NOT_IN_PRIVATE_CHANNEL: 24416,
  RECALL_MESSAGE: 25101,
  MESSAGE_STORAGE_SERVICE_UNAVAILABLE: 25102,
  RECALL_MESSAGE_USER_INVALID: 25107,
  PUSH_PARAMETER_INVALID: 26001,
  USER_SETTING_SYNCED_ERROR: 26002,
  CONVERSATION_TAG_OVERSIZE: 26004,
  // Named by the seed's subscribeUserStatus example; the numbers are the vendor SDK's.
  RC_SUBSCRIBE_ONLINE_SERVICE_UNAVAILABLE: 26020,
  RC_BESUBSCRIBED_USERIDS_COUNT_EXCEED_LIMIT: 26021,
  RC_SUBSCRIBED_USERIDS_EXCEED_LIMIT: 26022,
  RC_NET_CHANNEL_INVALID: 30001,
  RC_NET_UNAVAILABLE: 30002,
  RC_MSG_RESP_TIMEOUT: 30003,
  RC_HTTP_SEND_FAIL: 30004,
  RC_HTTP_REQ_FAIL: 30005,
  RC_HTTP_RECV_FAIL: 30006,
  RC_NAVI_REQ_FAILED: 30007,
  RC_NODE_NOT_FOUND: 30008,
  RC_DOMAIN_NOT_RESOLVE: 30009,
  RC_SOCKET_NOT_CREATED: 30010,
  RC_SOCKET_DISCONNECTED: 30011,
  RC_PING_EXCEED_LIMIT: 30012,
  PONG_RECEIVED_ERROR: 30013,
  RC_MSG_SEND_FAIL: 30014,
  CONNECT_OVER_FREQUENCY: 30015,
  RC_MSG_CONTENT_EXCEED_LIMIT: 30016,
  RC_NETWORK_DOWN: 30019,
  RC_TCP_DISCONNECTED_NO_RMTP: 30021,
  RC_CONN_ACK_TIMEOUT: 31000,
  RC_CONN_PROTO_VERSION_ERROR: 31001,
  RC_CONN_IDENTIFIER_REJECTED: 31002,
  RC_CONN_SERVER_UNAVAILABLE: 31003,
  RC_CONN_TOKEN_INCORRECT: 31004,
  RC_CONN_NOT_AUTHORIZED: 31005,
  RC_CONN_REDIRECTED: 31006,
  RC_CONN_PACKAGE_NAME_INVALID: 31007,
  RC_CONN_APP_BLOCKED_OR_DELETED: 31008,
  RC_CONN_USER_BLOCKED: 31009,
  RC_DISCONN_KICK: 31010,
  RC_DISCONN_EXCEPTION: 31011,
  CONNECTION_ENCRYPT_AUTHORIZED_ERROR: 31012,
  RC_CONN_TOKEN_EXPIRED: 31020,
  RC_CONN_DEVICE_ERROR: 31021,
  RC_CONN_HOSTNAME_ERROR: 31022,
  RC_DISCONN_SAME_CLIENT_ON_LINE: 31023,
  RC_LISCENSE_COUNT_OUT_OF_LIMIT: 31024,
  RC_CONN_WRONG_CLUSTER: 31025,
  RC_APP_AUTH_NOT_PASS: 31026,
  RC_OTP_USED: 31027,
  RC_PLATFORM_ERROR: 31028,
  RC_ACCOUNT_CANCELLATION: 31029,
  RC_LICENSE_EXPIRED: 31030,
  RC_QUERY_ACK_NO_DATA: 32001,
  RC_MSG_DATA_INCOMPLETE: 32002,
  RC_UDP_DISCONNECTED: 32011,
  RC_TCP_RESET: 32054,
  CONNECTION_REFUSED: 32061,
  PROTOCOL_MESSAGE_SAVED_ERROR: 33000,
  BIZ_ERROR_CLIENT_NOT_INIT: 33001,
  BIZ_ERROR_DATABASE_ERROR: 33002,
  BIZ_ERROR_INVALID_PARAMETER: 33003,
  BIZ_ERROR_NO_CHANNEL: 33004,
  BIZ_ERROR_RECONNECT_SUCCESS: 33005,
  BIZ_ERROR_CONNECTING: 33006,
  MSG_ROAMING_SERVICE_UNAVAILABLE: 33007,
  MSG_INSERT_ERROR: 33008,
  MSG_DEL_ERROR: 33009,
  TAG_NOT_EXIST: 33100,
  TAG_EXISTS: 33101,
  NO_TAG_IN_CONVER: 33102,
  // imsync's own database states (no vendor code exists for them):
  /** The database file is damaged: writes are refused; main process: service.recoverDatabase(). */
  DATABASE_CORRUPT: 33201,
  /** The disk is full: the database is read-only (reads work) until space is freed. */
  DATABASE_DISK_FULL: 33202,
  /** The database is encrypted and encryptionKey is missing or wrong; nothing was touched. */
  DATABASE_KEY_INVALID: 33203,
  /** recoverDatabase found nothing to recover (the database is intact, or there is none). */
  DATABASE_NOTHING_TO_RECOVER: 33204,
  /** rekey on a plain database (encryptDatabase encrypts it). */
  DATABASE_NOT_ENCRYPTED: 33205,
  /** encryptDatabase on an encrypted database (rekey changes its key). */
  DATABASE_ALREADY_ENCRYPTED: 33206,
  RC_CONNECTION_EXIST: 34001,
  PACKAGE_ENVIRONMENT_ERROR: 34005,
  CONNECTION_TIMEOUT: 34006,
  MESSAGE_KV_NOT_SUPPORT: 34008,
  MESSAGE_EXPANDED_ERROR: 34009,
  EXPANSION_LIMIT_EXCEET: 34010,
  UPLOAD_FAIL: 34011,
  CONVER_OUT_LIMIT_ERROR: 34013,
  READ_RECEIPT_ERROR: 34014,
  PUSH_CONTENT_CONFIG_SERVICE_UNAVAILABLE: 34016,
  MESSAGE_INTERCEPTION_PRODUCED_NULL_MESSAGE: 34017,
  MESSAGE_NOT_REGISTERED: 34021,
  METHOD_NOT_SUPPORT: 34022,
  ULTRA_GROUP_CHANNEL_NOT_EXIST: 34024,
  INCONSISTENT_CONVERSATION_TYPE: 34025,
  CONVERSATION_TYPE_NOT_SUPPORT: 34201,
  MSG_LIMIT_ERROR: 34206,
  INVALID_PARAMETER_PROXY: 34238,
  INVALID_PARAMETER_TESTHOST: 34239,
  INVALID_CONNECT_TESTHOST_FAILED: 34240,
  RC_CONN_PROXY_UNAVAILABLE: 34245,
  GROUP_SYNC_ERROR: 35001,
  GROUP_MATCH_ERROR: 35002,
  NOT_SUPPORT: 35004,
  MAIN_PROCESS_ERROR: 35005,
  CAN_NOT_RECONNECT: 35007,
  SERVER_UNAVAILABLE: 35008,
  HOSTNAME_ERROR: 35009,
  HAS_OHTER_SAME_CLIENT_ON_LINE: 35010,
  METHOD_NOT_AVAILABLE: 35011,
  METHOD_ONLY_SUPPORT_ULTRA_GROUP: 35014,
  DRAFT_SAVE_ERROR: 35015,
  DRAFT_REMOVE_ERROR: 35016,
  CONVER_REMOVE_ERROR: 35020,
  CONVER_GET_ERROR: 35021,
  SEARCH_PROPS_LIMIT_ERROR: 35022,
  CHATROOM_ID_ISNULL: 36001,
  CHARTOOM_JOIN_ERROR: 36002,
  CHATROOM_HISMESSAGE_ERROR: 36003,
  CHATROOM_KV_NOT_FOUND: 36004,
  BLACK_ADD_ERROR: 37001,
  BLACK_GETSTATUS_ERROR: 37002,
  BLACK_REMOVE_ERROR: 37003,
  DRAF_GET_ERROR: 38001,
  SUBSCRIBE_ERROR: 39001,
  QNTKN_FILETYPE_ERROR: 41001,
  QNTKN_GET_ERROR: 41002,
})

// ---- the methods forwarded to the main process: js/methods.js, the list js/main.js
// allow-lists (one list; a bundler inlines it into a sandboxed preload) ---------------------

const { EXTENSION_METHODS, IMLIB_METHODS, RENAMED } = require('./methods.js')

// ---- transport ---------------------------------------------------------------------------

function errorText(e) {
  if (e && typeof e === 'object' && typeof e.message === 'string') return e.message
  return String(e)
}

const readyWaiters = new Set()

/** Resolves on 'imsync:ready' from the main process or after a short backoff. */
function waitReady(attempt) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      readyWaiters.delete(done)
      resolve()
    }
    const timer = setTimeout(done, Math.min(25 * 2 ** attempt, 1000))
    readyWaiters.add(done)
  })
}

/** The registrations issued so far; later calls wait for them (a type before its messages). */
let registrations = null
/** Set once the main process answered a call: a missing handler after that means the
 *  service was destroyed, not "not ready yet", so nothing is worth waiting for. */
let served = false

/**
 * One request to the main process on `channel` ('imsync:call' by default: `method` with
 * `args`; 'imsync:info': `method` is the kind asked for), with the readiness wait and the
 * error envelopes described at the top of this file.
 */
async function invoke(method, args, channel = CALL_CHANNEL) {
  if (destroyed) {
    return { code: ErrorCode.MAIN_PROCESS_ERROR, msg: `imsync: ${method}: this window's API object was destroyed (destroy()); call init() to use it again` }
  }
  if (!ipcRenderer) {
    return { code: ErrorCode.MAIN_PROCESS_ERROR, msg: `imsync/renderer: ${method}: not running in an Electron renderer (no ipcRenderer)` }
  }
  if (registrations && method !== 'registerMessageType') await registrations
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (let attempt = 0; ; attempt++) {
    try {
      const result = channel === CALL_CHANNEL ? await ipcRenderer.invoke(CALL_CHANNEL, method, args) : await ipcRenderer.invoke(channel, method)
      served = true
      return result
    } catch (e) {
      const text = errorText(e)
      if (/No handler registered/i.test(text) && served) {
        return { code: ErrorCode.MAIN_PROCESS_ERROR, msg: `imsync: ${method}: the main-process service is destroyed (service.destroy() was called)` }
      }
      if (/No handler registered/i.test(text) && Date.now() < deadline) {
        await waitReady(attempt)
        continue
      }
      if (/could not be cloned|DataCloneError/i.test(text)) {
        return {
          code: ErrorCode.BIZ_ERROR_INVALID_PARAMETER,
          msg: `imsync: the arguments of ${method} cannot be sent to the main process (only plain objects, arrays, strings, numbers, booleans, null): ${text}`,
        }
      }
      if (/No handler registered/i.test(text)) {
        return { code: ErrorCode.MAIN_PROCESS_ERROR, msg: `imsync: ${method}: the main process did not initialize imsync within ${READY_TIMEOUT_MS} ms` }
      }
      return { code: ErrorCode.MAIN_PROCESS_ERROR, msg: `imsync: ${method}: ${text}` }
    }
  }
}

function forwarder(method, member = method) {
  // A named, non-constructible function: `api.insertMessage.name === 'insertMessage'`.
  return {
    [member](...args) {
      return invoke(method, args)
    },
  }[member]
}

// ---- events ------------------------------------------------------------------------------

/** name -> [{ fn, target, once }] */
const listeners = new Map()
let subscribedKey = null

function syncSubscriptions(force) {
  if (!ipcRenderer) return
  const names = [...listeners.keys()].sort()
  const key = names.join('\n')
  if (!force && key === subscribedKey) return
  subscribedKey = key
  try {
    if (names.length) ipcRenderer.send(SUBSCRIBE_CHANNEL, names)
    else ipcRenderer.send(UNSUBSCRIBE_CHANNEL)
  } catch {
    // the window is going away
  }
}

function removeEntry(name, entry) {
  const list = listeners.get(name)
  if (!list) return
  const i = list.indexOf(entry)
  if (i >= 0) list.splice(i, 1)
  if (!list.length) listeners.delete(name)
  syncSubscriptions(false)
}

function addListener(name, fn, target, once) {
  if (typeof name !== 'string' || typeof fn !== 'function') {
    console.warn(`imsync: addEventListener(name, listener) needs a string and a function, got ${typeof name} and ${typeof fn}`)
    return () => {}
  }
  let list = listeners.get(name)
  if (!list) listeners.set(name, (list = []))
  const entry = { fn, target, once }
  list.push(entry)
  syncSubscriptions(false)
  let removed = false
  return function removeThisListener() {
    if (!removed) {
      removed = true
      removeEntry(name, entry)
    }
  }
}

function dispatch(name, event) {
  const list = listeners.get(name)
  if (!list) return
  // Plugins see received messages first and may keep some from the app (pluginHost).
  const payload = plugins.filter(name, event)
  if (payload === plugins.DROP) return
  for (const entry of list.slice()) {
    if (entry.once) removeEntry(name, entry)
    try {
      entry.fn.call(entry.target, payload)
    } catch (e) {
      console.error(`imsync: a listener of ${name} threw`, e)
    }
  }
}

// ---- state answered synchronously --------------------------------------------------------
// RongIMLib's getConnectionStatus() and getServerTime() answer at once. The main process keeps
// both (it sees every engine event and answer, whichever window made the call) and sends
// 'imsync:state' { connectionStatus, serverTimeOffset } to every window when they change,
// before the event that changed them (so a CONNECTED listener already reads 0); a window asks
// for it when it loads and on 'imsync:ready'. Until the first answer: DISCONNECTED and the
// local clock.

let connectionStatus = ConnectionStatus.DISCONNECTED
let serverTimeOffset = 0
/** The user whose database is open ('' before any) and the app key: for plugin contexts. */
let currentUserId = ''
let appkey = ''
const CONNECTION_STATUS_VALUES = new Set(Object.values(ConnectionStatus))

function applyState(state) {
  if (!state || typeof state !== 'object') return
  if (CONNECTION_STATUS_VALUES.has(state.connectionStatus)) connectionStatus = state.connectionStatus
  if (typeof state.serverTimeOffset === 'number' && Number.isFinite(state.serverTimeOffset)) serverTimeOffset = state.serverTimeOffset
  if (typeof state.userId === 'string') currentUserId = state.userId
  if (typeof state.appkey === 'string') appkey = state.appkey
}

function requestState() {
  try {
    ipcRenderer.send(STATE_CHANNEL)
  } catch {
    // the window is going away
  }
}

/** Set by destroy(), cleared by init(): calls answer 35005 meanwhile. */
let destroyed = false

if (ipcRenderer) {
  ipcRenderer.on(EVENT_CHANNEL, (_event, name, payload) => dispatch(name, payload))
  ipcRenderer.on(STATE_CHANNEL, (_event, state) => applyState(state))
  ipcRenderer.on(READY_CHANNEL, () => {
    for (const done of [...readyWaiters]) done()
    syncSubscriptions(true)
    requestState()
  })
  requestState()
  // A reloaded page starts with no listeners: drop what the previous page subscribed to.
  try {
    ipcRenderer.send(UNSUBSCRIBE_CHANNEL)
  } catch {
    // not connected yet; nothing to drop
  }
  subscribedKey = ''
}

// ---- messages ----------------------------------------------------------------------------

/**
 * RongIMLib's BaseMessage: `{ messageType, content, isPersisted, isCounted, isStatusMessage }`.
 * Callable with or without `new` (functions that crossed the context bridge lose `new`).
 */
function BaseMessage(messageType, content, isPersisted = true, isCounted = true, isStatusMessage = false) {
  if (!(this instanceof BaseMessage)) return new BaseMessage(messageType, content, isPersisted, isCounted, isStatusMessage)
  this.messageType = messageType
  this.content = content
  this.isPersisted = !!isPersisted
  this.isCounted = !!isCounted
  this.isStatusMessage = !!isStatusMessage
}

function defineMessage(className, messageType, isPersisted, isCounted, isStatusMessage) {
  const C = function (content) {
    if (!(this instanceof C)) return new C(content)
    BaseMessage.call(this, messageType, content, isPersisted, isCounted, isStatusMessage)
  }
  Object.defineProperty(C, 'name', { value: className })
  C.prototype = Object.create(BaseMessage.prototype, { constructor: { value: C, writable: true, configurable: true } })
  C.messageType = messageType
  return C
}

const TextMessage = defineMessage('TextMessage', MessageType.TEXT, true, true, false)
const ImageMessage = defineMessage('ImageMessage', MessageType.IMAGE, true, true, false)
const FileMessage = defineMessage('FileMessage', MessageType.FILE, true, true, false)
const HQVoiceMessage = defineMessage('HQVoiceMessage', MessageType.HQ_VOICE, true, true, false)
const SightMessage = defineMessage('SightMessage', MessageType.SIGHT, true, true, false)
const GIFMessage = defineMessage('GIFMessage', MessageType.GIF, true, true, false)
const ReferenceMessage = defineMessage('ReferenceMessage', MessageType.REFERENCE, true, true, false)
const LocationMessage = defineMessage('LocationMessage', MessageType.LOCATION, true, true, false)
const RichContentMessage = defineMessage('RichContentMessage', MessageType.RICH_CONTENT, true, true, false)
const InformationNotificationMessage = defineMessage('InformationNotificationMessage', MessageType.INFORMATION_NOTIFICATION, true, false, false)
const CommandMessage = defineMessage('CommandMessage', MessageType.COMMAND, false, false, false)
const GroupNotificationMessage = defineMessage('GroupNotificationMessage', MessageType.GROUP_NOTIFICATION, true, false, false)

/**
 * RongIMLib.registerMessageType(messageType, isPersisted, isCounted, searchProps, isStatusMessage):
 * returns the message class at once and registers the type with the main process; calls
 * made after it wait until the registration is answered. A refused registration is logged.
 */
function registerMessageType(...args) {
  const [messageType, isPersisted, isCounted, , isStatusMessage] = args
  const p = invoke('registerMessageType', args).then((r) => {
    if (!r || r.code !== 0) console.error(`imsync: registerMessageType(${JSON.stringify(messageType)}) failed`, r)
    return r
  })
  const all = Promise.all([registrations, p])
  registrations = all
  all.then(() => {
    if (registrations === all) registrations = null
  })
  const status = !!isStatusMessage
  return defineMessage(
    'CustomMessage',
    messageType,
    status ? false : isPersisted === undefined ? true : !!isPersisted,
    status ? false : isCounted === undefined ? true : !!isCounted,
    status,
  )
}

/**
 * RongIMLib.sendMessage(conversation, message, options). A function cannot cross the process
 * boundary, so `options.onSendBefore` stays here: the message is first stored (SENDING, as
 * the Engine's sendMessage stores it), onSendBefore gets that stored message (with its
 * messageId, for list rendering and resends), then it is sent as a resend of that stored
 * message (`options.messageId`), so it is stored once. A send refused before it started
 * (e.g. content too large) leaves the stored message FAILED, like any failed send.
 * Messages that are not stored (status messages) get onSendBefore with the unstored message.
 */
function sendMessage(...args) {
  const [conversation, message, options] = args
  if (!options || typeof options !== 'object' || typeof options.onSendBefore !== 'function') {
    return invoke('sendMessage', args)
  }
  const { onSendBefore, ...sendOptions } = options
  const notify = (m) => {
    try {
      onSendBefore(m)
    } catch (e) {
      console.error('imsync: onSendBefore threw', e)
    }
  }
  return (async () => {
    const plain = message && typeof message === 'object' ? message : null
    const stored = plain && plain.isStatusMessage !== true && plain.isPersisted !== false
    if (stored) {
      const draft = {
        messageType: plain.messageType,
        content: plain.content,
        messageDirection: MessageDirection.SEND,
        sentStatus: SentStatus.SENDING,
      }
      for (const k of ['disableNotification', 'canIncludeExpansion', 'expansion', 'pushConfig', 'isMentioned']) {
        if (sendOptions[k] !== undefined) draft[k] = sendOptions[k]
      }
      if (Array.isArray(sendOptions.directionalUserIdList)) draft.directedUserIds = sendOptions.directionalUserIdList
      const inserted = await invoke('insertMessage', [conversation, draft])
      if (inserted && inserted.code === 0 && inserted.data) {
        notify(inserted.data)
        const messageId = inserted.data.messageId
        const r = await invoke('sendMessage', [conversation, message, { ...sendOptions, messageId }])
        if (r && r.code !== 0 && !r.data) await invoke('setMessageSentStatus', [messageId, SentStatus.FAILED])
        return r
      }
    }
    notify({ ...plain, conversationType: conversation && conversation.conversationType, targetId: conversation && conversation.targetId, messageDirection: MessageDirection.SEND, sentStatus: SentStatus.SENDING })
    return invoke('sendMessage', [conversation, message, sendOptions, ...args.slice(3)])
  })()
}

// ---- typed senders (IMLib 5.x) -----------------------------------------------------------
// Source: the vendor's public 5.x Electron API demo (a copy of its test page): text goes
// through sendTextMessage(conversation, { content, … }, options); media through
// send{Image,File,HQVoice,Sight,Combine}Message(conversation, { file, … }, hooks, options),
// which upload the file first; GIF, location, reference and rich-content messages are sent
// there with sendMessage and their classes. sendGIFMessage is a member too (issue 11 lists
// it with the media senders), answering like them.

function describe(v) {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v)
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v
}

function invalidArgument(msg) {
  return Promise.resolve({ code: ErrorCode.BIZ_ERROR_INVALID_PARAMETER, msg: `imsync: ${msg}` })
}

/**
 * RongIMLib.sendTextMessage(conversation, messageBody, options): a TextMessage sent through
 * sendMessage, so options (onSendBefore, messageId, pushConfig, …) mean what they mean there.
 */
function sendTextMessage(conversation, messageBody, options) {
  if (!messageBody || typeof messageBody !== 'object' || Array.isArray(messageBody)) {
    return invalidArgument(`sendTextMessage(conversation, messageBody, options): messageBody must be an object like { content: 'hello' }, got ${describe(messageBody)}`)
  }
  return sendMessage(conversation, new TextMessage(messageBody), options)
}

/**
 * The vendor's media senders (seed 002 "语法糖"): `(conversation, msgBody, hooks, sendOptions)`
 * with `msgBody.file` a File or Blob. The file crosses to the main process as its path when
 * Electron can name it (webUtils.getPathForFile), else in 1 MiB chunks staged to the user's
 * media folder; the main process streams it to the server (Rust, off the JS thread) and
 * reports progress (MEDIA_PROGRESS) back here, where `hooks.onProgress(percent)` runs. Then
 * `hooks.onComplete(fileInfo)` may return another message to send instead; the message is
 * sent under its stored messageId either way. `sendOptions.onSendBefore` gets the stored
 * message once the upload starts.
 */
const MEDIA_SENDERS = Object.freeze({
  sendImageMessage: 'RC:ImgMsg',
  sendGIFMessage: 'RC:GIFMsg',
  sendFileMessage: 'RC:FileMsg',
  sendHQVoiceMessage: 'RC:HQVCMsg',
  sendSightMessage: 'RC:SightMsg',
  sendCombineMessage: null,
})

const MEDIA_STAGE_CHANNEL = 'imsync:media-stage'
const STAGE_CHUNK_BYTES = 1024 * 1024

function isBlob(v) {
  return typeof Blob !== 'undefined' && v instanceof Blob
}

/** The file's path on disk, when Electron can tell it ('' for a Blob made in the page). */
function pathOfFile(file) {
  const webUtils = electron && electron.webUtils
  if (webUtils && typeof webUtils.getPathForFile === 'function') {
    try {
      return webUtils.getPathForFile(file) || ''
    } catch {
      return ''
    }
  }
  return ''
}

/** Writes a Blob to the main process's media folder in bounded chunks; resolves its path. */
async function stageBlob(file, name) {
  const stage = (request) => ipcRenderer.invoke(MEDIA_STAGE_CHANNEL, request)
  const opened = await stage({ op: 'open', name })
  if (opened.code !== 0) return opened
  const id = opened.data
  try {
    for (let at = 0; at < file.size; at += STAGE_CHUNK_BYTES) {
      const bytes = new Uint8Array(await file.slice(at, Math.min(file.size, at + STAGE_CHUNK_BYTES)).arrayBuffer())
      const w = await stage({ op: 'write', id, bytes })
      if (w.code !== 0) {
        // Not left open: a window may have only a few stages open at once.
        await stage({ op: 'abort', id }).catch(() => {})
        return w
      }
    }
  } catch (e) {
    await stage({ op: 'abort', id }).catch(() => {})
    return { code: ErrorCode.BIZ_ERROR_INVALID_PARAMETER, msg: `imsync: msgBody.file could not be read: ${errorText(e)}` }
  }
  return stage({ op: 'close', id })
}

function randomTransferId() {
  const bytes = new Uint8Array(12)
  globalThis.crypto.getRandomValues(bytes)
  return 'r' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

function mediaSender(name) {
  const messageType = MEDIA_SENDERS[name]
  if (!messageType) {
    // The seed documents no sendCombineMessage contract (only CombineV2Message's export fix).
    return {
      [name]() {
        return Promise.resolve({ code: ErrorCode.NOT_SUPPORT, msg: `imsync: ${name} is not served: the vendor documents no contract for it; upload the summary with sendFileMessage and send your combine message with sendMessage` })
      },
    }[name]
  }
  return {
    async [name](conversation, msgBody, hooks, sendOptions) {
      if (!msgBody || typeof msgBody !== 'object' || !isBlob(msgBody.file)) {
        return invalidArgument(`${name}(conversation, msgBody, hooks, sendOptions): msgBody.file must be a File or Blob, got ${describe(msgBody && msgBody.file)}`)
      }
      const file = msgBody.file
      if (file.size === 0) return invalidArgument(`${name}: msgBody.file is empty: there is nothing to send`)
      if (hooks != null && typeof hooks !== 'object') return invalidArgument(`${name}: hooks must be an object like { onProgress, onComplete }, got ${describe(hooks)}`)
      const { onProgress, onComplete } = hooks || {}
      const { onSendBefore, contentDisposition, ...options } = sendOptions && typeof sendOptions === 'object' ? sendOptions : {}
      let path = pathOfFile(file)
      if (!path) {
        const staged = await stageBlob(file, file.name || 'file')
        if (staged.code !== 0) return staged
        path = staged.data
      }
      const transferId = randomTransferId()
      let announced = false
      const stop = addListener(Events.MEDIA_PROGRESS, (e) => {
        if (!e || e.transferId !== transferId) return
        if (!announced && typeof onSendBefore === 'function' && e.messageId) {
          announced = true
          api.getMessage(e.messageId).then((m) => {
            try {
              if (m.code === 0 && m.data) onSendBefore(m.data)
            } catch (err) {
              console.error('imsync: onSendBefore threw', err)
            }
          })
        }
        if (typeof onProgress === 'function') {
          try {
            onProgress(e.progress)
          } catch (err) {
            console.error('imsync: onProgress threw', err)
          }
        }
      })
      try {
        const content = {}
        for (const k of ['user', 'extra', 'duration']) if (msgBody[k] !== undefined) content[k] = msgBody[k]
        if (typeof msgBody.thumbnail === 'string' && msgBody.thumbnail) content.content = msgBody.thumbnail
        const media = { messageType, path, content, transferId }
        if (file.name) media.name = file.name
        if (file.type) media.mimeType = file.type
        if (contentDisposition !== undefined) media.contentDisposition = contentDisposition
        const up = await api.uploadMediaMessage(conversation, media, options)
        if (up.code !== 0) return up
        let custom = null
        if (typeof onComplete === 'function') {
          try {
            custom = await onComplete(up.data.fileInfo)
          } catch (err) {
            console.error('imsync: onComplete threw', err)
          }
        }
        const stored = up.data.message
        const message = custom && typeof custom === 'object' && typeof custom.messageType === 'string' ? { messageType: custom.messageType, content: custom.content } : { messageType: stored.messageType, content: stored.content }
        const sendOpts = stored.messageId ? { ...options, messageId: stored.messageId } : options
        return invoke('sendMessage', [conversation, message, sendOpts])
      } finally {
        stop()
      }
    },
  }[name]
}

// ---- top-level getConversationList -------------------------------------------------------

/** The seed's default and maximum page (002:L5797-5849). */
const CONVERSATION_PAGE_DEFAULT = 300
const CONVERSATION_PAGE_MAX = 1000

/** Where a conversation sits in time: the engine's paging key (its latest activity). */
function conversationTime(c) {
  if (c && typeof c.sortTime === 'number') return c.sortTime
  return (c && c.latestMessage && c.latestMessage.sentTime) || 0
}

/**
 * RongIMLib.getConversationList({ count = 300, startTime = 0, order = 0 }), from the local
 * database. Seed 002:L5797-5849: order 0 answers conversations earlier than startTime (0 =
 * now), newest first; order 1 those later than startTime (0 = from the oldest). Order 1
 * answers oldest first, so with either order the next page starts at the last item's time.
 * A conversation's time is its sortTime, the key electronExtension.getConversationList
 * pages by: its latest message's sentTime unless something re-sorted it since (the seed
 * pages by latestMessage.sentTime, the same value for such conversations).
 * Called with no argument it answers every conversation: the seed notes that on Electron the
 * vendor ignores the parameters and returns the whole list, and apps written for that call it
 * bare. `channelId` (ultra groups elsewhere) is passed on when given.
 */
function getConversationList(...args) {
  const [options] = args
  if (options === undefined) return electronExtension.getAllConversationList()
  const usage = 'getConversationList({ count, startTime, order })'
  if (!options || typeof options !== 'object' || Array.isArray(options)) {
    return invalidArgument(`${usage}: options must be an object, got ${describe(options)}`)
  }
  const { count = CONVERSATION_PAGE_DEFAULT, startTime = 0, order = 0, channelId } = options
  if (!Number.isInteger(count) || count < 1 || count > CONVERSATION_PAGE_MAX) {
    return invalidArgument(`${usage}: count must be an integer from 1 to ${CONVERSATION_PAGE_MAX}, got ${typeof count === 'number' ? count : describe(count)}`)
  }
  if (!Number.isSafeInteger(startTime) || startTime < 0) {
    return invalidArgument(`${usage}: startTime must be a timestamp in ms (0 or more), got ${typeof startTime === 'number' ? startTime : describe(startTime)}`)
  }
  if (order !== 0 && order !== 1) {
    return invalidArgument(`${usage}: order must be 0 (earlier than startTime) or 1 (later), got ${typeof order === 'number' ? order : describe(order)}`)
  }
  const channel = channelId === undefined ? [] : [channelId]
  if (order === 0) return electronExtension.getConversationList(startTime, count, ...channel)
  return electronExtension.getAllConversationList(...channel).then((r) => {
    if (!r || r.code !== ErrorCode.SUCCESS || !Array.isArray(r.data)) return r
    const later = r.data.filter((c) => conversationTime(c) > startTime)
    later.sort((a, b) => conversationTime(a) - conversationTime(b))
    return { ...r, data: later.slice(0, count) }
  })
}

// ---- plugins (installPlugin) -------------------------------------------------------------
// The install logic itself is pluginHost inside installPageApi (below), so that the preload
// and the page world (executeInMainWorld) run the same code; here: what a context can call.

/** The main process's read-only answer about the OS or a process ('imsync:info'); null if none. */
function mainInfo(kind) {
  return invoke(kind, [], INFO_CHANNEL).then((r) => {
    if (r && r.code === ErrorCode.SUCCESS) return r.data
    console.warn(`imsync: plugin context: no ${kind} info from the main process`, r)
    return null
  })
}

/**
 * A plugin context's sendMessage: RongIMLib's (conversation, message, options), or the form
 * of the vendor's engine-level context, (conversationType, targetId, { messageType, content,
 * isPersited, isCounted, isStatusMessage, …send options }) (not in the seed: the vendor's
 * 5.x engine typings; the object's other fields are sendMessage's options).
 */
function pluginSendMessage(...args) {
  if (typeof args[0] !== 'number') return sendMessage(...args)
  const [conversationType, targetId, body, ...rest] = args
  const { messageType, content, isPersited, isPersisted, isCounted, isStatusMessage, channelId, ...options } = body && typeof body === 'object' ? body : {}
  const conversation = channelId === undefined ? { conversationType, targetId } : { conversationType, targetId, channelId }
  const persisted = isPersisted !== undefined ? isPersisted : isPersited
  const message = new BaseMessage(messageType, content, persisted === undefined ? true : persisted, isCounted === undefined ? true : isCounted, !!isStatusMessage)
  return sendMessage(conversation, message, options, ...rest)
}

/**
 * The calls a plugin context offers besides its hooks (pluginHost adds those). Sources: the
 * vendor's 5.x Electron demo (getOSInfo / getProcessInfo / getMainProcessInfo, awaited) and
 * the vendor's engine PluginContext (getAppkey, getCurrentUserId, getConnectionStatus,
 * getServerTime, sendMessage, registerMessageType). The info calls resolve the data object
 * (js/main.js describes it) or null.
 */
function pluginContextMethods() {
  return {
    getAppkey() {
      return appkey
    },
    getCurrentUserId() {
      return currentUserId
    },
    /** The same as getCurrentUserId (the vendor's engine spells it both ways across versions). */
    getCurrentId() {
      return currentUserId
    },
    getConnectionStatus() {
      return connectionStatus
    },
    getServerTime() {
      return Date.now() + serverTimeOffset
    },
    sendMessage: pluginSendMessage,
    registerMessageType,
    getOSInfo() {
      return mainInfo('os')
    },
    getProcessInfo() {
      return mainInfo('process')
    },
    getMainProcessInfo() {
      return mainInfo('mainProcess')
    },
  }
}

/**
 * The IRuntime verify(runtime) and setup(…, runtime, …) get. The vendor's runtime is its
 * transport adapter (the environment's tag, isSupportSocket(), storage, HTTP and socket
 * factories); imsync's transport is in the main process, so only the descriptive part can
 * be answered: a plugin that drives the vendor's own socket or HTTP hooks cannot run here.
 * `tag`/`platform` 'electron' is what the Electron solution's plugins can test for; the
 * vendor's exact field set is not public.
 */
function pluginRuntime() {
  return {
    tag: 'electron',
    platform: 'electron',
    isElectron: true,
    isFromUniapp: false,
    useNavi: false,
    connectPlatform: '',
    isSupportSocket() {
      return true
    },
  }
}

// ---- any method name answers -------------------------------------------------------------
// An IMLib 5.x app may call what imsync does not serve (yet): instead of `TypeError: … is not a
// function`, the API object (and its electronExtension) answers any method name with a promise
// of { code: 35004 (NOT_SUPPORT), msg } naming the call, without an IPC round trip. The real
// members are untouched: Object.keys, `in`, typeof checks, JSON.stringify and spreading see
// only them. Unknown names are only lowerCamelCase identifiers (the vendor's method names) that
// are not on the object or Object.prototype, and never one of NOT_METHODS: `then` stays
// undefined (the object is not a thenable: `await RongIMLib` is the object), and so do the
// names libraries probe (toJSON, a module's default/__esModule, Vue's __v_*, DOM checks);
// an unknown capitalized name (an enum) is undefined, as are Symbol keys.

/** Names that stay undefined although they look like method names. */
const NOT_METHODS = Object.freeze(['then', 'catch', 'finally', 'toJSON', 'default', 'length', 'nodeType', 'tagName', 'inspect', 'asymmetricMatch'])
/** The shape of a method name an unknown call may have. */
const METHOD_NAME = /^[a-z][A-Za-z0-9]*$/
const NOT_METHOD = new Set(NOT_METHODS)
/** How many distinct unknown names keep the same function (`api.x === api.x`). */
const UNSUPPORTED_CACHE = 256

const UNSUPPORTED_MSG = ' is not supported by imsync (not an IMLib call it serves)'

function unsupportedCall(name) {
  const short = name.slice(name.lastIndexOf('.') + 1)
  return {
    [short]() {
      return Promise.resolve({ code: ErrorCode.NOT_SUPPORT, msg: `imsync: ${name}${UNSUPPORTED_MSG}` })
    },
  }[short]
}

/** `target` answering any unknown method name (see above); `prefix` names it, e.g. 'electronExtension.'. */
function answeringAnyMethod(target, prefix) {
  const cache = new Map()
  return new Proxy(target, {
    get(t, key, receiver) {
      if (typeof key !== 'string' || key in t || NOT_METHOD.has(key) || !METHOD_NAME.test(key)) return Reflect.get(t, key, receiver)
      let fn = cache.get(key)
      if (!fn) {
        fn = unsupportedCall(prefix + key)
        if (cache.size < UNSUPPORTED_CACHE) cache.set(key, fn)
      }
      return fn
    },
  })
}

// ---- the API object ----------------------------------------------------------------------

const api = {}

/**
 * RongIMLib.init: the main process already initialized imsync; resolves at once. After
 * destroy() it makes this window's API object usable again.
 */
api.init = function init() {
  destroyed = false
  return Promise.resolve({ code: ErrorCode.SUCCESS })
}

/**
 * RongIMLib.destroy (IMLib 5.x: releases the instance). Here the connection and the database
 * belong to the main process and every window shares them, so this does not disconnect (call
 * disconnect() first for that): it removes this window's event listeners and subscriptions,
 * and later calls answer 35005 until init() is called again (calls already made keep their
 * answers). getConnectionStatus() and getServerTime() keep answering. Installed plugins get
 * ondestroy and are uninstalled (installPlugin installs them anew after init()).
 */
api.destroy = function destroy() {
  // Plugins first: an ondestroy hook may still call the API to clean up.
  plugins.destroy()
  destroyed = true
  listeners.clear()
  syncSubscriptions(false)
  return Promise.resolve({ code: ErrorCode.SUCCESS })
}

/**
 * RongIMLib.getConnectionStatus(): the ConnectionStatus now, synchronously (0 connected,
 * 1 connecting, 2 disconnected, 3 network unavailable (retrying), 6 kicked, 9 banned), as
 * the main process last reported it; never an ErrorCode.
 */
function getConnectionStatus() {
  return connectionStatus
}

/** imsync: the engine's own answer, `{ code, data: ConnectionStatus }`, over IPC. */
api.getConnectionStatusAsync = function getConnectionStatusAsync() {
  return invoke('getConnectionStatus', []).then((r) => {
    if (!r || r.code !== ErrorCode.SUCCESS || CONNECTION_STATUS_VALUES.has(r.data)) return r
    // A fatal code the engine reports as is: the connection is stopped.
    return { ...r, data: ConnectionStatus.DISCONNECTED }
  })
}

/**
 * RongIMLib.getServerTime(): the server-corrected clock in ms, synchronously: Date.now() plus
 * the offset the main process estimated (js/main.js ServerClock); the local clock before any.
 */
api.getServerTime = function getServerTime() {
  return Date.now() + serverTimeOffset
}

const LOCAL = { registerMessageType, sendMessage, getConnectionStatus }
/** Engine method -> the member serving it, where the vendor's name differs (methods.js RENAMED). */
const MEMBER_OF = Object.freeze(Object.fromEntries(Object.entries(RENAMED).map(([member, method]) => [method, member])))
for (const m of IMLIB_METHODS) api[MEMBER_OF[m] || m] = LOCAL[m] || forwarder(m, MEMBER_OF[m] || m)

/** This world's plugins (installPlugin); the page world has its own (installPageApi). */
const plugins = installPageApi(null)({
  contextMethods: pluginContextMethods,
  runtime: pluginRuntime,
  on: (name, fn) => addListener(name, fn, undefined, false),
  status: () => connectionStatus,
})

/**
 * RongIMLib.installPlugin(installer, options): what installer.setup returned, or null (see
 * pluginHost in installPageApi for the contract).
 */
api.installPlugin = function installPlugin(installer, options) {
  return plugins.install(installer, options)
}

api.getConversationList = getConversationList
api.sendTextMessage = sendTextMessage
for (const name of Object.keys(MEDIA_SENDERS)) api[name] = mediaSender(name)

/** Adds a listener; returns a function that removes exactly this listener. */
api.addEventListener = function addEventListener(name, listener, target) {
  return addListener(name, listener, target, false)
}
api.addListener = api.addEventListener
/** Adds a listener that runs once. */
api.onceEventListener = function onceEventListener(name, listener, target) {
  return addListener(name, listener, target, true)
}
/** Removes every registration of `listener` for `name`. */
api.removeEventListener = function removeEventListener(name, listener) {
  const list = listeners.get(name)
  if (!list) return
  for (const entry of list.slice()) if (entry.fn === listener) removeEntry(name, entry)
}
/** Removes every listener of `name`. */
api.removeEventListeners = function removeEventListeners(name) {
  const list = listeners.get(name)
  if (!list) return
  for (const entry of list.slice()) removeEntry(name, entry)
}

const electronExtension = {}
for (const m of EXTENSION_METHODS) electronExtension[m] = forwarder(m)
api.electronExtension = answeringAnyMethod(electronExtension, 'electronExtension.')

Object.assign(api, {
  ConversationType,
  MessageType,
  MessageDirection,
  SentStatus,
  ReceivedStatus,
  NotificationLevel,
  NotificationStatus,
  BlacklistStatus,
  UserProfileVisibility,
  UserGender,
  SubscribeType,
  SubscribeOperationType,
  ConnectionStatus,
  MentionedType,
  ErrorCode,
  Events,
  BaseMessage,
  TextMessage,
  ImageMessage,
  FileMessage,
  HQVoiceMessage,
  SightMessage,
  GIFMessage,
  ReferenceMessage,
  LocationMessage,
  RichContentMessage,
  InformationNotificationMessage,
  CommandMessage,
  GroupNotificationMessage,
})

// ---- context bridge ----------------------------------------------------------------------

/**
 * Runs in the PAGE's world (serialized by contextBridge.executeInMainWorld): defines
 * window[key] as a frozen copy of the bridged API whose event-listener calls keep their
 * registry in the page world, so listener identity works as in RongIMLib, and which answers
 * any method name like the preload's object (`anyMethod`: the rules of answeringAnyMethod, as
 * data). Must not use anything from this file's scope.
 */
function installPageApi(bridged, key, anyMethod, plugin) {
  'use strict'
  if (bridged === null) return pluginHost

  /**
   * The IMLib 5.x plugin contract. Sources: the seed's translate plugin (002:L10845-11129:
   * `const client = RongIMLib.installPlugin(RCTranslate.installer)`, used right away, so
   * synchronous) and the vendor's public 5.x Electron demo ({ tag, verify: () => true,
   * async setup(context) { await context.getOSInfo() … } }). installPlugin(installer, options)
   * calls installer.verify(runtime); when truthy, installer.setup(context, runtime, options),
   * and returns what setup returned; null when verify says no, when either throws (logged),
   * or for something that is not an installer. A tag installed already logs a warning and
   * returns the first instance (the vendor's handling of a repeated tag is not public; this
   * keeps an app that installs twice, e.g. on a hot reload, working with one instance). An
   * async setup that rejects is logged (the promise is still what installPlugin returns).
   *
   * It runs in the world that calls it (the page's, with executeInMainWorld): a plugin's
   * instance (a class with prototype methods) and the hooks it assigns on the context
   * (`context.onmessage = fn`) would not survive a copy across the bridge. Hooks (set them
   * on the context; each subscribes this window to its events only once set):
   * onmessage(message) per received message, before the app's listeners: when it returns
   * `true` the message is kept from the app's MESSAGES (the vendor's engine contract, which
   * its RTC plugin uses for signalling; not in the seed); onconnectionstatuschange(status),
   * onconnecting(), onconnect(), onsuspend(code), ondisconnect(code), ondestroy() (on
   * destroy(), which also uninstalls); context.addEventListener(name, fn) reaches any event.
   *
   * env: { contextMethods() (the calls a context offers), runtime(), on(name, fn) -> off,
   * status() (the ConnectionStatus now) }.
   */
  function pluginHost(env) {
    var installed = new Map()
    var live = []
    var DROP = {}
    function report(tag, what, e) {
      console.error('imsync: installPlugin: the plugin ' + JSON.stringify(String(tag)) + ' ' + what, e)
    }
    function makeContext(tag) {
      var context = {}
      var methods = env.contextMethods() || {}
      Object.keys(methods).forEach(function (k) {
        context[k] = methods[k]
      })
      var hooks = {}
      var releases = []
      var released = false
      function run(name, arg) {
        var fn = hooks[name]
        if (typeof fn !== 'function') return undefined
        try {
          return fn.call(context, arg)
        } catch (e) {
          report(tag, 'threw in context.' + name, e)
          return undefined
        }
      }
      function defineHook(name, events, deliver) {
        var offs = []
        function off() {
          offs.forEach(function (f) {
            f()
          })
          offs = []
        }
        Object.defineProperty(context, name, {
          enumerable: true,
          configurable: true,
          get: function () {
            return hooks[name] || undefined
          },
          set: function (fn) {
            hooks[name] = typeof fn === 'function' ? fn : null
            if (!hooks[name] || released) return off()
            if (offs.length) return
            offs = events.map(function (ev) {
              return env.on(ev, function (payload) {
                deliver(ev, payload)
              })
            })
          },
        })
        releases.push(off)
      }
      // onmessage runs in filter() (before the app's listeners); its subscription only makes
      // sure this window receives MESSAGES.
      defineHook('onmessage', ['MESSAGES'], function () {})
      defineHook('onconnectionstatuschange', ['CONNECTING', 'CONNECTED', 'SUSPEND', 'DISCONNECT'], function () {
        run('onconnectionstatuschange', env.status())
      })
      defineHook('onconnecting', ['CONNECTING'], function () {
        run('onconnecting')
      })
      defineHook('onconnect', ['CONNECTED'], function () {
        run('onconnect')
      })
      defineHook('onsuspend', ['SUSPEND'], function (_ev, code) {
        run('onsuspend', code)
      })
      defineHook('ondisconnect', ['DISCONNECT'], function (_ev, code) {
        run('ondisconnect', code)
      })
      defineHook('ondestroy', [], function () {})
      var listenerOffs = []
      context.addEventListener = function addEventListener(name, fn) {
        if (released) return function () {}
        var off = env.on(name, fn)
        listenerOffs.push(off)
        return off
      }
      return {
        context: context,
        /** Runs onmessage; true when the plugin keeps the message from the app. */
        consumes: function (message) {
          return !released && run('onmessage', message) === true
        },
        release: function (notify) {
          if (released) return
          if (notify) run('ondestroy')
          released = true
          releases.concat(listenerOffs).forEach(function (f) {
            f()
          })
        },
      }
    }
    function install(installer, options) {
      if (!installer || typeof installer !== 'object' || typeof installer.verify !== 'function' || typeof installer.setup !== 'function') {
        console.error('imsync: installPlugin(installer, options): installer must be { tag, verify(runtime), setup(context, runtime, options) }, got', installer)
        return null
      }
      var tag = installer.tag
      var keyed = typeof tag === 'string' && tag !== ''
      if (keyed && installed.has(tag)) {
        console.warn('imsync: installPlugin: the plugin ' + JSON.stringify(tag) + ' is installed already; returning its instance')
        return installed.get(tag)
      }
      var runtime = env.runtime()
      var ok
      try {
        ok = installer.verify(runtime)
      } catch (e) {
        report(tag, 'threw in verify(runtime)', e)
        return null
      }
      if (!ok) return null
      var made = makeContext(tag)
      var instance
      try {
        instance = installer.setup(made.context, runtime, options)
      } catch (e) {
        report(tag, 'threw in setup(context, runtime, options)', e)
        made.release(false)
        return null
      }
      if (instance && typeof instance.then === 'function') {
        try {
          instance.then(undefined, function (e) {
            report(tag, 'rejected in setup(context, runtime, options)', e)
          })
        } catch (e) {
          // a thenable whose then() throws: the app gets it as setup returned it
        }
      }
      live.push(made)
      if (keyed) installed.set(tag, instance)
      return instance
    }
    /**
     * The event as the app's listeners get it: for MESSAGES, each message goes to every
     * plugin's onmessage first, and one that a hook answers `true` for is kept from the app
     * (the vendor's contract: RTC's plugin consumes its signalling this way); DROP when
     * nothing is left to deliver (not null: CONNECTED's payload is null).
     */
    function filter(name, event) {
      if (name !== 'MESSAGES' || !live.length || !event || !Array.isArray(event.messages)) return event
      var kept = event.messages.filter(function (message) {
        var consumed = false
        live.slice().forEach(function (made) {
          if (made.consumes(message)) consumed = true
        })
        return !consumed
      })
      if (kept.length === event.messages.length) return event
      if (!kept.length) return DROP
      var out = {}
      Object.keys(event).forEach(function (k) {
        out[k] = event[k]
      })
      out.messages = kept
      return out
    }
    function destroy() {
      var list = live.splice(0)
      installed.clear()
      list.forEach(function (made) {
        made.release(true)
      })
    }
    return { install: install, destroy: destroy, filter: filter, DROP: DROP }
  }

  function answering(target, prefix) {
    var cache = new Map()
    var notMethod = new Set(anyMethod.notMethods)
    var shape = new RegExp(anyMethod.methodName)
    return new Proxy(target, {
      get: function (t, k, receiver) {
        if (typeof k !== 'string' || k in t || notMethod.has(k) || !shape.test(k)) return Reflect.get(t, k, receiver)
        var fn = cache.get(k)
        if (!fn) {
          var name = prefix + k
          fn = {
            [k]: function () {
              return Promise.resolve({ code: anyMethod.code, msg: 'imsync: ' + name + anyMethod.msg })
            },
          }[k]
          if (cache.size < anyMethod.cacheSize) cache.set(k, fn)
        }
        return fn
      },
    })
  }
  var registry = new Map()
  var detach = new Map()
  function remove(name, entry) {
    var list = registry.get(name)
    if (!list) return
    var i = list.indexOf(entry)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) {
      registry.delete(name)
      var off = detach.get(name)
      detach.delete(name)
      if (typeof off === 'function') off()
    }
  }
  function dispatcher(name) {
    return function (event) {
      var list = registry.get(name)
      if (!list) return
      var payload = plugins ? plugins.filter(name, event) : event
      if (plugins && payload === plugins.DROP) return
      list = list.slice()
      for (var i = 0; i < list.length; i++) {
        var entry = list[i]
        if (entry.once) remove(name, entry)
        try {
          entry.fn.call(entry.target, payload)
        } catch (e) {
          console.error('imsync: a listener of ' + name + ' threw', e)
        }
      }
    }
  }
  function add(name, fn, target, once) {
    if (typeof name !== 'string' || typeof fn !== 'function') return function () {}
    var list = registry.get(name)
    if (!list) {
      list = []
      registry.set(name, list)
    }
    var entry = { fn: fn, target: target, once: once }
    list.push(entry)
    if (!detach.has(name)) detach.set(name, bridged.addEventListener(name, dispatcher(name)))
    var removed = false
    return function () {
      if (!removed) {
        removed = true
        remove(name, entry)
      }
    }
  }
  var page = {}
  Object.keys(bridged).forEach(function (k) {
    page[k] = bridged[k]
  })
  page.addEventListener = function addEventListener(name, fn, target) {
    return add(name, fn, target, false)
  }
  page.addListener = page.addEventListener
  page.onceEventListener = function onceEventListener(name, fn, target) {
    return add(name, fn, target, true)
  }
  page.removeEventListener = function removeEventListener(name, fn) {
    var list = registry.get(name)
    if (!list) return
    list.slice().forEach(function (entry) {
      if (entry.fn === fn) remove(name, entry)
    })
  }
  page.removeEventListeners = function removeEventListeners(name) {
    var list = registry.get(name)
    if (!list) return
    list.slice().forEach(function (entry) {
      remove(name, entry)
    })
  }
  var plugins = null
  if (plugin && typeof plugin.contextMethods === 'function' && typeof plugin.runtime === 'function') {
    plugins = pluginHost({
      contextMethods: plugin.contextMethods,
      runtime: plugin.runtime,
      on: function (name, fn) {
        return add(name, fn, undefined, false)
      },
      status: function () {
        return bridged.getConnectionStatus()
      },
    })
    page.installPlugin = function installPlugin(installer, options) {
      return plugins.install(installer, options)
    }
  }
  if (typeof bridged.destroy === 'function') {
    page.destroy = function destroy() {
      if (plugins) plugins.destroy()
      registry.clear()
      detach.clear()
      return bridged.destroy()
    }
  }
  if (page.electronExtension && typeof page.electronExtension === 'object') {
    page.electronExtension = answering(Object.freeze(page.electronExtension), 'electronExtension.')
  }
  Object.freeze(page)
  Object.defineProperty(globalThis, key, { value: answering(page, ''), enumerable: true, writable: false, configurable: false })
  return true
}

const bridged = new Set()

/**
 * Exposes the API to the page as window[name] (default 'imsync'): functions and enums only.
 * Call it in the preload when contextIsolation is on; with contextIsolation off it just sets
 * window[name]. Calling it again with the same name does nothing.
 *
 * Unknown method names answer 35004 in the page as in the preload (answeringAnyMethod) with
 * contextIsolation off and with Electron >= 35 (executeInMainWorld builds the page's object in
 * the page's world, where a Proxy can live). contextBridge.exposeInMainWorld (older Electron)
 * copies an object's own properties, so no Proxy survives it: there an unknown name is
 * undefined, as with the vendor's SDK. Likewise installPlugin runs in the page's world with
 * executeInMainWorld; with exposeInMainWorld it runs in the preload, so the page gets a copy
 * of setup's instance (no prototype methods) and hooks the plugin sets on its (copied)
 * context are never called: plugins with hooks need Electron >= 35 or contextIsolation off.
 */
function initContextBridge(name = 'imsync') {
  if (typeof name !== 'string' || !name) throw new TypeError('imsync initContextBridge(name): name must be a non-empty string')
  if (bridged.has(name)) return
  const exposed = { ...api, electronExtension: { ...electronExtension } }
  delete exposed.initContextBridge
  const isolated = typeof process === 'object' && process && process.contextIsolated
  if (isolated === false || !contextBridge) {
    // No isolation: the preload shares the page's window.
    const page = typeof window === 'object' && window ? window : globalThis
    page[name] = answeringAnyMethod({ ...exposed, electronExtension: answeringAnyMethod(exposed.electronExtension, 'electronExtension.') }, '')
  } else {
    let installed = false
    if (typeof contextBridge.executeInMainWorld === 'function') {
      try {
        const anyMethod = { notMethods: [...NOT_METHODS], methodName: METHOD_NAME.source, code: ErrorCode.NOT_SUPPORT, msg: UNSUPPORTED_MSG, cacheSize: UNSUPPORTED_CACHE }
        const plugin = { contextMethods: pluginContextMethods, runtime: pluginRuntime }
        installed = contextBridge.executeInMainWorld({ func: installPageApi, args: [exposed, name, anyMethod, plugin] }) === true
      } catch (e) {
        console.warn('imsync: contextBridge.executeInMainWorld failed; exposing the API with exposeInMainWorld', e)
      }
    }
    if (!installed) contextBridge.exposeInMainWorld(name, exposed)
  }
  bridged.add(name)
}

api.initContextBridge = initContextBridge

Object.defineProperty(api, '__imsyncMethods', {
  // servedBy: the member forwarding a listed method when the member of its name answers
  // locally (getConnectionStatus() is synchronous).
  value: Object.freeze({ top: IMLIB_METHODS, electronExtension: EXTENSION_METHODS, servedBy: Object.freeze({ getConnectionStatus: 'getConnectionStatusAsync', ...MEMBER_OF }) }),
  enumerable: false,
})

module.exports = answeringAnyMethod(api, '')
