'use strict'
// Makes `require('electron')` resolve to the test stand-in in THIS process (the main process
// of the tests), and `require('imsync')` / `require('imsync/renderer')` resolve to this
// checkout for code outside the package scope (examples/electron-app has its own package.json).

const Module = require('node:module')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..', '..')
const MAP = {
  electron: path.join(__dirname, 'index.js'),
  imsync: path.join(ROOT, 'js', 'main.js'),
  'imsync/renderer': path.join(ROOT, 'js', 'renderer.js'),
  'imsync/native': path.join(ROOT, 'index.js'),
  // The vendor's package names, so the vendor's main.js / preload.js run unchanged.
  '@rongcloud/electron': path.join(__dirname, 'fixtures', 'rongcloud-electron.js'),
  '@rongcloud/electron-renderer': path.join(ROOT, 'js', 'renderer.js'),
}

if (!Module.__imsyncElectronStandIn) {
  const original = Module._resolveFilename
  Module._resolveFilename = function (request, ...rest) {
    if (Object.prototype.hasOwnProperty.call(MAP, request)) return MAP[request]
    return original.call(this, request, ...rest)
  }
  Module.__imsyncElectronStandIn = true
}

module.exports = { ROOT, NODE_PATH_DIR: path.join(__dirname, 'node_path') }
