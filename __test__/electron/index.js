'use strict'
// The test stand-in for the `electron` module (Electron itself cannot be downloaded here).
// In the test process it is the main-process API (app, ipcMain, BrowserWindow,
// WebContentsView, webContents); in a renderer child process forked by BrowserWindow
// (IMSYNC_ELECTRON_ROLE=renderer) it is the renderer API (ipcRenderer, contextBridge).
// Every window is a real child process (child_process.fork, serialization: 'advanced'), so
// IPC crosses a process boundary with structured-clone semantics, as in Electron.

module.exports = process.env.IMSYNC_ELECTRON_ROLE === 'renderer' ? require('./renderer-side') : require('./main-side')
