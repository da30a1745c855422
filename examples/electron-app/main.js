'use strict'
// imsync example chat app, main process. One imsync service (one engine, one database per
// user) serves every window; windows use the secure defaults: contextIsolation, sandbox, no
// nodeIntegration. The page reaches imsync only through window.imsync (see preload.js).
//
// Environment:
//   IMSYNC_USER        the local user whose database is opened (default 'alice')
//   IMSYNC_APPKEY      app key (default 'imsync-example')
//   IMSYNC_SERVER_URL  imsync-server base URL; when set, the page can connect with a token

const path = require('node:path')
const { app, BrowserWindow, Menu } = require('electron')
const init = require('imsync')

const USER = process.env.IMSYNC_USER || 'alice'
const PRELOAD = path.join(__dirname, 'dist', 'preload.js')

let service = null
let quitReady = false

function createWindow() {
  const win = new BrowserWindow({
    width: 980,
    height: 680,
    title: `imsync chat — ${USER}`,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  })
  win.loadFile(path.join(__dirname, 'index.html'))
  return win
}

function buildMenu() {
  const template = [
    {
      label: 'File',
      submenu: [
        { label: 'New Window', accelerator: 'CmdOrCtrl+N', click: () => createWindow() },
        { type: 'separator' },
        { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
  ]
  Menu.setApplicationMenu(Menu.buildFromTemplate(template))
}

app.whenReady().then(() => {
  // Every BrowserWindow created from now on is registered with the service (the default,
  // windows: 'auto'); its top frame may call imsync and receive its events.
  service = init({
    appkey: process.env.IMSYNC_APPKEY || 'imsync-example',
    dbpath: app.getPath('userData'),
    serverUrl: process.env.IMSYNC_SERVER_URL || undefined,
    logOutputLevel: 2,
  })
  // Local-only use: open the user's database now (connect(token) opens it by itself).
  // Calls that the windows make meanwhile wait for it.
  service.open(USER).then((r) => {
    if (r.code !== 0) console.error(`imsync: open(${USER}) failed`, r)
  })
  buildMenu()
  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})

// Close the connection and the database before the app exits: hold the quit until
// destroy() resolved, then quit for real.
app.on('before-quit', (event) => {
  if (quitReady || !service) return
  event.preventDefault()
  service.destroy().finally(() => {
    quitReady = true
    app.quit()
  })
})

module.exports = { createWindow }
