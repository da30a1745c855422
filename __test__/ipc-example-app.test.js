'use strict'
// examples/electron-app, run in the stand-in Electron: its main.js (init, open, windows with
// contextIsolation + sandbox + no nodeIntegration, the quit sequence), its preload bundled by
// its build-preload.js, its renderer logic (chat.js) driven in the page world of two windows,
// and its page script (renderer.js) on a tiny DOM.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const vm = require('node:vm')

const h = require('./electron/harness')
const { electron } = h

const APP = path.join(h.ROOT, 'examples', 'electron-app')
const { bundlePreload } = require(path.join(APP, 'build-preload.js'))

/** Starts the example app (its main.js) in this process; resolves its first window. */
async function startApp(t) {
  const userData = h.tmpDir('example-app')
  electron.app.setPath('userData', userData)
  process.env.IMSYNC_USER = 'alice'
  bundlePreload({ entry: path.join(APP, 'preload.js'), outFile: path.join(APP, 'dist', 'preload.js') })
  const created = h.waitForEvent(electron.app, 'browser-window-created')
  const mainFile = path.join(APP, 'main.js')
  delete require.cache[mainFile]
  const app = require(mainFile)
  const [, win] = await created
  await h.withDeadline(win.webContents.__whenReady(), 20000, 'example window')
  t.after(async () => {
    await electron.__reset()
    fs.rmSync(userData, { recursive: true, force: true })
  })
  return { app, win, userData }
}

/** Quits the example app the way Electron would, and waits for the real quit. */
async function quitApp() {
  const quit = h.waitForEvent(electron.app, 'quit')
  electron.app.quit()
  await quit
}

test('the example app starts with secure windows, serves two windows from one database, and quits cleanly', async (t) => {
  const { app, win, userData } = await startApp(t)
  const ready = await win.webContents.__whenReady()
  assert.equal(ready.preloadError, null)
  assert.equal(ready.contextIsolation, true)
  assert.equal(ready.sandbox, true)
  assert.equal(win.webContents._webPreferences.nodeIntegration, false)
  assert.match(win.webContents.getURL(), /examples\/electron-app\/index\.html$/)
  assert.equal(typeof electron.Menu.getApplicationMenu().items[0].submenu[0].click, 'function')

  // chat.js in the page world, over window.imsync.
  await win.webContents.__loadPageScript(path.join(APP, 'chat.js'))
  const a = await h.page(
    win,
    `
    const chat = ImsyncChat.createChat(imsync, { me: 'alice' })
    globalThis.chat = chat
    chat.listen()
    const steps = []
    steps.push(await chat.loadConversations())
    steps.push(await chat.startConversation('bob'))
    steps.push(await chat.sendText('hello bob, 你好'))
    steps.push(await chat.receiveText('hi alice'))
    steps.push(await chat.sendText('   '))
    steps.push(await chat.search('你好'))
    return { steps, state: chat.state }
  `,
  )
  assert.deepEqual(a.steps, [true, true, true, true, false, true])
  assert.equal(a.state.error, null)
  assert.deepEqual(
    a.state.messages.map((m) => [m.mine, m.sender, m.text]),
    [
      [true, 'alice', 'hello bob, 你好'],
      [false, 'bob', 'hi alice'],
    ],
  )
  assert.deepEqual(a.state.conversations.map((c) => [c.targetId, c.preview, c.unread]), [['bob', 'hi alice', 1]])
  assert.equal(a.state.results.count, 1)
  assert.deepEqual(a.state.results.messages.map((m) => m.text), ['hello bob, 你好'])
  assert.deepEqual(a.state.results.conversations.map((c) => c.targetId), ['bob'])

  // A second window (File → New Window): same database, same conversation.
  const second = h.waitForEvent(electron.app, 'browser-window-created')
  electron.Menu.getApplicationMenu().items[0].submenu[0].click()
  const [, win2] = await second
  await win2.webContents.__whenReady()
  await win2.webContents.__loadPageScript(path.join(APP, 'chat.js'))
  const b = await h.page(
    win2,
    `
    const chat = ImsyncChat.createChat(imsync, { me: 'alice' })
    await chat.loadConversations()
    await chat.openConversation(chat.state.conversations[0])
    await chat.receiveText('from window two')
    for (let i = 0; i < 40; i++) await chat.receiveText('old ' + i)
    await chat.openConversation(chat.state.current)
    const firstPage = chat.state.messages.length
    await chat.loadOlder()
    return { firstPage, all: chat.state.messages.length, hasMore: chat.state.hasMore, first: chat.state.messages[0].text }
  `,
  )
  assert.deepEqual(b, { firstPage: 30, all: 43, hasMore: false, first: 'hello bob, 你好' })
  // Window one sees window two's messages; deleting and clearing work from it.
  const c = await h.page(
    win,
    `
    await chat.openConversation(chat.state.current)
    const seen = chat.state.messages.map((m) => m.text)
    const last = chat.state.messages[chat.state.messages.length - 1]
    await chat.deleteMessage(last.messageId)
    await chat.openConversation(chat.state.current)
    const afterDelete = chat.state.messages.map((m) => m.text).slice(-1)[0]
    const count = (await imsync.electronExtension.getMessageCount(chat.state.current)).data
    await chat.clearConversation()
    return { seen: seen.slice(-2), afterDelete, count, after: chat.state.messages.length, conversations: chat.state.conversations.length }
  `,
  )
  assert.deepEqual(c.seen, ['old 38', 'old 39'])
  assert.equal(c.afterDelete, 'old 38')
  assert.equal(c.count, 42)
  assert.equal(c.after, 0)
  assert.equal(c.conversations, 1, 'a cleared conversation stays in the list')
  // The database lives under the app's userData.
  assert.ok(fs.readdirSync(userData, { recursive: true }).map(String).some((f) => f.endsWith('alice.db')))

  // Engine events reach the chat (MESSAGES for the open conversation).
  await h.page(win, `await chat.startConversation('carol')`)
  const engine = h.lastSubscribedEngine()
  assert.equal(engine.userId, 'alice')
  h.emitEngineEvent(engine, 'MESSAGES', { messages: [{ messageId: 1, conversationType: 1, targetId: 'carol', channelId: '', senderUserId: 'carol', messageType: 'RC:TxtMsg', content: { content: 'pushed' }, messageDirection: 2, sentTime: 5 }] })
  const pushed = await h.page(win, `
    while (!chat.state.messages.some((m) => m.text === 'pushed')) await new Promise((r) => chat.onChange(r))
    return chat.state.messages.map((m) => m.text)
  `)
  assert.deepEqual(pushed, ['pushed'])

  // Quit: before-quit holds the quit until destroy() resolved, then the app quits once.
  assert.equal(typeof app.createWindow, 'function')
  await quitApp()
  assert.equal(electron.app.__quitCount, 1)
  assert.deepEqual(electron.ipcMain.__handlerChannels, [])
  assert.equal(engine.userId, null, 'the database was closed before the quit went through')
})

test("the example's page script (renderer.js) drives the chat on a DOM", async (t) => {
  const { win } = await startApp(t)
  await win.webContents.__loadPageScript(path.join(h.FIXTURES, 'mini-dom.js'))
  await win.webContents.__loadPageScript(path.join(APP, 'chat.js'))
  await win.webContents.__loadPageScript(path.join(APP, 'renderer.js'))
  const out = await h.page(
    win,
    `
    const $ = (id) => document.getElementById(id)
    $('new-target').value = 'dora'
    $('new-conversation').dispatch('submit')
    await __waitDom(() => $('title').textContent === 'dora' && !$('composer').hidden)
    $('text').value = 'typed in the page'
    $('composer').dispatch('submit')
    await __waitDom(() => $('messages').textContent.includes('typed in the page') && $('conversations').textContent.includes('typed in the page'))
    $('text').value = 'an answer'
    $('receive').dispatch('click')
    await __waitDom(() => $('messages').textContent.includes('an answer'))
    $('search').value = 'typed'
    $('search-form').dispatch('submit')
    await __waitDom(() => !$('results').hidden)
    return {
      title: $('title').textContent,
      messages: $('messages').children.map((li) => [li.className, li.children[0].children[0].textContent]),
      results: $('results').textContent,
      text: $('text').value,
      error: $('error').hidden,
    }
  `,
  )
  assert.equal(out.title, 'dora')
  assert.deepEqual(out.messages, [
    ['mine', 'typed in the page'],
    ['', 'an answer'],
  ])
  assert.match(out.results, /1 match\(es\) for "typed" here; in 1 conversation\(s\)/)
  assert.equal(out.text, '')
  assert.equal(out.error, true)
  await quitApp()
})

test('the example files parse, and the preload bundle requires nothing but electron', () => {
  for (const f of ['main.js', 'preload.js', 'chat.js', 'renderer.js', 'build-preload.js']) {
    new vm.Script(fs.readFileSync(path.join(APP, f), 'utf8'), { filename: f })
  }
  const html = fs.readFileSync(path.join(APP, 'index.html'), 'utf8')
  assert.deepEqual([...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]), ['chat.js', 'renderer.js'])
  assert.match(html, /Content-Security-Policy/)
  const bundle = fs.readFileSync(bundlePreload({ entry: path.join(APP, 'preload.js'), outFile: path.join(h.tmpDir('bundle'), 'p.js') }), 'utf8')
  const required = new Set([...bundle.matchAll(/require\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]))
  assert.deepEqual([...required].sort(), ['./methods.js', 'electron', 'imsync/renderer'], 'the requires in the bundled sources')
  // imsync/renderer and its ./methods.js are inlined: run in a sandbox whose require knows
  // only 'electron' (a stub), the bundle loads and its preload runs.
  const asked = []
  const sandboxRequire = (id) => {
    asked.push(id)
    if (id === 'electron') return { ipcRenderer: null, contextBridge: null }
    throw new Error(`module not found: ${id}`)
  }
  const run = new vm.Script(`(function (require, module, exports, window) {${bundle}\n})`, { filename: 'p.js' }).runInThisContext()
  const fakeWindow = {}
  run(sandboxRequire, { exports: {} }, {}, fakeWindow)
  assert.deepEqual(asked, ['electron'], 'only electron reaches the sandbox')
  assert.equal(typeof fakeWindow.imsync.electronExtension.searchMessages, 'function', 'the preload exposed the API')
  const readme = fs.readFileSync(path.join(APP, 'README.md'), 'utf8')
  assert.match(readme, /contextIsolation/)
})
