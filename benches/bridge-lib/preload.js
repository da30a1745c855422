// Preload of the bridge benchmark's window (bundled into one file, as a sandboxed preload must
// be): the imsync renderer API exposed to the page as window.imsync, as in the example app.
// The benchmark also reaches the API object in the preload's own (isolated) world, and the
// page gets a clock (the stand-in page world has no `performance`).
const api = require('imsync/renderer')
const { contextBridge } = require('electron')
api.initContextBridge('imsync')
contextBridge.exposeInMainWorld('benchClock', { now: () => performance.now() })
global.__imsyncBenchApi = api
