'use strict'
// Renderer half of the test `electron` stand-in: what `require('electron')` returns inside a
// renderer child process (preload code). ipcRenderer talks to the main side over the
// process's IPC channel (serialization: 'advanced' = structured clone).

const { EventEmitter } = require('node:events')
const world = require('./renderer-world')

const pending = new Map()
let nextId = 1

function cloneError(e) {
  return /could not be cloned|DataCloneError/i.test(String(e && e.message))
}

class IpcRenderer extends EventEmitter {
  send(channel, ...args) {
    if (typeof channel !== 'string') throw new TypeError('channel must be a string')
    try {
      world.post({ t: 'send', channel, args, frame: world.frame })
    } catch (e) {
      if (cloneError(e)) throw new Error('An object could not be cloned.')
      throw e
    }
  }

  invoke(channel, ...args) {
    return new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      try {
        if (!process.connected) throw new Error('renderer is disconnected from the main process')
        world.post({ t: 'invoke', id, channel, args, frame: world.frame })
      } catch (e) {
        pending.delete(id)
        reject(cloneError(e) ? new Error(`Error invoking remote method '${channel}': Error: An object could not be cloned.`) : e)
      }
    })
  }

  sendSync() {
    throw new Error('ipcRenderer.sendSync is not supported by the test stand-in')
  }
}

const ipcRenderer = new IpcRenderer()

process.on('message', (m) => {
  if (!m || typeof m !== 'object') return
  if (m.t === 'invoke-reply') {
    const p = pending.get(m.id)
    if (!p) return
    pending.delete(m.id)
    if (m.error !== undefined) p.reject(new Error(m.error))
    else p.resolve(m.result)
  } else if (m.t === 'ipc') {
    ipcRenderer.emit(m.channel, { sender: ipcRenderer, senderId: 0, ports: [] }, ...m.args)
  }
})

module.exports = {
  ipcRenderer,
  contextBridge: world.contextBridge,
  webFrame: {},
  // Electron >= 29: the disk path of a File the user chose, '' for any other Blob.
  webUtils: { getPathForFile: (file) => world.chosenFiles.get(file) || '' },
  __isStandIn: true,
}
