'use strict'
// Main-process side of the media senders (issue 12): where a renderer's file comes from.
//
// A File that Electron can name (webUtils.getPathForFile) crosses as its path and never
// through IPC. A Blob without a path (a pasted image, a canvas) crosses in bounded chunks on
// 'imsync:media-stage' and is written to the user's media folder
// (`<dbpath>/media/<userId>/outgoing/`), which is then the message's local copy; the writes
// go through fs.promises (libuv's thread pool), never blocking the main process's JS thread.
//
// Paths given by a window are checked before the engine reads them: absolute, and not inside
// `dbpath` except the open user's media folder (a window must not upload the message database
// itself). The check is made on the path the engine will really open: symlinks resolved
// (fs.promises.realpath, off the JS thread), and without regard to case where the file system
// ignores it (Windows, macOS). Apps that show untrusted content can narrow it further with the
// `mediaPathFilter(path, webContents)` init option, which gets that resolved path.

const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

const INVALID_PARAMETER = 33003
/** The largest chunk a window may send (the renderer sends 1 MiB). */
const MAX_CHUNK_BYTES = 4 * 1024 * 1024
/** The largest staged file (the server's default limit is 100 MB). */
const MAX_STAGED_BYTES = 2 * 1024 * 1024 * 1024
/** Stages a window may have open at once. */
const MAX_OPEN_STAGES = 8

function invalid(msg) {
  return { code: INVALID_PARAMETER, msg: `imsync: ${msg}` }
}

/**
 * The most UTF-8 bytes of a staged file's name taken from the window: file systems allow 255
 * (bytes on Linux and APFS, UTF-16 units on Windows), and the random prefix needs room.
 */
const MAX_NAME_BYTES = 200

/** The longest start of `s` within `max` UTF-8 bytes, never splitting a character. */
function headWithin(s, max) {
  let out = ''
  let bytes = 0
  for (const ch of s) {
    const n = Buffer.byteLength(ch)
    if (bytes + n > max) break
    out += ch
    bytes += n
  }
  return out
}

/** A file name safe to write under the media folder: bounded in bytes, its extension kept. */
function safeName(name) {
  const cleaned = String(name || '')
    .replace(/[\u0000-\u001f/\\:*?"<>|]/g, '_')
    .replace(/^[.\s]+|[.\s]+$/g, '')
  if (Buffer.byteLength(cleaned) <= MAX_NAME_BYTES) return cleaned || 'file'
  const dot = cleaned.lastIndexOf('.')
  const ext = dot > 0 ? cleaned.slice(dot) : ''
  if (ext.length > 1 && Buffer.byteLength(ext) <= 17) return headWithin(cleaned.slice(0, dot), MAX_NAME_BYTES - Buffer.byteLength(ext)) + ext
  return headWithin(cleaned, MAX_NAME_BYTES) || 'file'
}

/** Whether the platform's usual file systems ignore case in names. */
const CASE_INSENSITIVE = process.platform === 'win32' || process.platform === 'darwin'

/** `p` with every symlink resolved; as written (normalized) when it does not exist. */
async function realPath(p) {
  try {
    return await fs.promises.realpath(p)
  } catch {
    return path.resolve(p)
  }
}

class MediaStage {
  /**
   * @param {string} dbpath the engine's dbpath
   * @param {() => (string | null)} userId the open user
   * @param {((p: string, wc: object) => boolean) | null} filter the app's mediaPathFilter
   */
  constructor(dbpath, userId, filter) {
    this._dbpath = path.resolve(dbpath)
    this._userId = userId
    this._filter = filter
    /** id -> { owner, file, path, bytes } */
    this._open = new Map()
    /** Staged files not yet given to an upload: path -> owner. */
    this._fresh = new Map()
  }

  /** The user's media folder, or null before a user is open. */
  mediaDir() {
    const user = this._userId()
    return user ? path.join(this._dbpath, 'media', user) : null
  }

  /**
   * Resolves to null when a window may upload `p`, else to the refusal envelope naming `field`.
   * @param {unknown} p
   */
  async refusePath(p, field, webContents) {
    if (typeof p !== 'string' || !path.isAbsolute(p)) return invalid(`${field} must be an absolute path, got ${typeof p === 'string' ? `'${p}'` : typeof p}`)
    // What the engine will open: a symlink (or a differently cased name) outside dbpath may
    // name a file inside it.
    const resolved = await realPath(p)
    const dbpath = await realPath(this._dbpath)
    const media = this.mediaDir()
    const own = media ? path.join(dbpath, path.relative(this._dbpath, media)) : null
    const inside = (dir) => {
      const [a, b] = CASE_INSENSITIVE ? [resolved.toLowerCase(), dir.toLowerCase()] : [resolved, dir]
      return a === b || a.startsWith(b.endsWith(path.sep) ? b : b + path.sep)
    }
    if (inside(dbpath) && !(own && inside(own))) {
      return invalid(`${field} '${p}' is inside the database folder; a window may send files from anywhere else (and from the open user's media folder)`)
    }
    if (this._filter) {
      let ok = false
      try {
        ok = this._filter(resolved, webContents) === true
      } catch {
        ok = false
      }
      if (!ok) return invalid(`${field} '${p}' is refused by the app's mediaPathFilter`)
    }
    return null
  }

  /** 'imsync:media-stage' requests: { op: 'open', name } | { op: 'write', id, bytes } | { op: 'close', id } | { op: 'abort', id }. */
  async handle(owner, request) {
    if (!request || typeof request !== 'object') return invalid('media-stage: the request must be an object')
    const { op } = request
    if (op === 'open') return this._openStage(owner, request.name)
    const stage = this._open.get(request.id)
    if (!stage || stage.owner !== owner) return invalid(`media-stage: no open stage ${JSON.stringify(request.id)} for this window`)
    if (op === 'write') return this._write(stage, request.id, request.bytes)
    if (op === 'close') return this._close(stage, request.id)
    if (op === 'abort') {
      await this._discard(stage, request.id)
      return { code: 0 }
    }
    return invalid(`media-stage: op must be 'open', 'write', 'close' or 'abort', got ${JSON.stringify(op)}`)
  }

  /** Drops a closing window's unfinished stages. */
  async forget(owner) {
    for (const [id, stage] of [...this._open]) if (stage.owner === owner) await this._discard(stage, id)
    for (const [file, o] of [...this._fresh]) {
      if (o !== owner) continue
      this._fresh.delete(file)
      await fs.promises.rm(file, { force: true }).catch(() => {})
    }
  }

  /**
   * Runs `upload()` (an uploadMediaMessage / sendMediaMessage call for the file at `p`) and,
   * when `p` is a staged file used for the first time and no stored message kept it as its
   * localPath (refused input stores nothing; a chatroom message is never stored), deletes
   * it: a staged copy is only ever the local file of a stored message.
   */
  async uploading(p, upload) {
    const fresh = typeof p === 'string' && this._fresh.delete(p)
    const result = await upload()
    if (fresh) {
      const data = result && result.data
      const kept = data && ((data.message && data.message.messageId) || data.messageId)
      if (!kept) await fs.promises.rm(p, { force: true }).catch(() => {})
    }
    return result
  }

  async _openStage(owner, name) {
    const dir = this.mediaDir()
    if (!dir) return invalid('media-stage: open or connect a user first (staged files go to its media folder)')
    if ([...this._open.values()].filter((s) => s.owner === owner).length >= MAX_OPEN_STAGES) {
      return invalid(`media-stage: at most ${MAX_OPEN_STAGES} files may be staged at once by one window`)
    }
    const outgoing = path.join(dir, 'outgoing')
    await fs.promises.mkdir(outgoing, { recursive: true })
    const id = crypto.randomBytes(16).toString('hex')
    const file = path.join(outgoing, `${id.slice(0, 8)}-${safeName(name)}`)
    const handle = await fs.promises.open(file, 'wx')
    this._open.set(id, { owner, handle, file, bytes: 0 })
    return { code: 0, data: id }
  }

  async _write(stage, id, bytes) {
    const view = bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : null
    if (!view) return invalid('media-stage: bytes must be a Uint8Array or ArrayBuffer')
    if (view.byteLength === 0 || view.byteLength > MAX_CHUNK_BYTES) return invalid(`media-stage: a chunk is 1..${MAX_CHUNK_BYTES} bytes, got ${view.byteLength}`)
    if (stage.bytes + view.byteLength > MAX_STAGED_BYTES) {
      await this._discard(stage, id)
      return invalid(`media-stage: the file is larger than ${MAX_STAGED_BYTES} bytes`)
    }
    await stage.handle.write(view, 0, view.byteLength, stage.bytes)
    stage.bytes += view.byteLength
    return { code: 0, data: stage.bytes }
  }

  async _close(stage, id) {
    this._open.delete(id)
    await stage.handle.close()
    if (stage.bytes === 0) {
      await fs.promises.rm(stage.file, { force: true })
      return invalid('media-stage: the file is empty: there is nothing to send')
    }
    this._fresh.set(stage.file, stage.owner)
    return { code: 0, data: stage.file }
  }

  async _discard(stage, id) {
    this._open.delete(id)
    await stage.handle.close().catch(() => {})
    await fs.promises.rm(stage.file, { force: true }).catch(() => {})
  }
}

module.exports = { MediaStage, MAX_CHUNK_BYTES }
