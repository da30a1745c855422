'use strict'
// `serverUrl` as a list of nodes, through the addon: the app's service (js/main.js in the
// stand-in `electron`) connects past a node that does not answer, and a window sees the
// messages that arrive through the node that did. Real imsync-server on loopback.

const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')

const h = require('./electron/harness')
const { startServer } = require('./helpers/server')
const { tapOf } = require('./helpers/engine-tap')
const { Engine } = h

const APP_KEY = 'server-list-key'
const APP_SECRET = 'server-list-secret'

/** A loopback URL nothing listens on (a port bound, then released). */
async function deadUrl() {
  const s = net.createServer()
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise((resolve) => s.close(resolve))
  return `http://127.0.0.1:${port}`
}

test('the service connects through the first node of serverUrl that answers', async (t) => {
  const server = await startServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
  const dead = await deadUrl()
  const { service } = h.startService(t, { appkey: APP_KEY, serverUrl: [dead, server.url], logOutputLevel: 1 })
  const tap = tapOf(service.engine)
  const r = await h.withDeadline(service.engine.connect(await server.getToken('alice')), 15000, 'alice connect')
  assert.deepEqual(r, { code: 0, data: { userId: 'alice' } })

  const bob = new Engine({ appkey: APP_KEY, dbpath: h.tmpDir('server-list-bob'), serverUrl: [server.url, dead], logOutputLevel: 1 })
  bob.onEvent(() => {})
  t.after(async () => {
    await bob.disconnect()
    await bob.close()
  })
  assert.equal((await bob.connect(await server.getToken('bob'))).code, 0)
  const sent = await bob.sendMessage({ conversationType: 1, targetId: 'alice' }, { messageType: 'RC:TxtMsg', content: { content: 'hi over the list' } })
  assert.equal(sent.code, 0, JSON.stringify(sent))
  await tap.wait((e) => e.name === 'MESSAGES' && e.payload.messages.some((m) => m.messageUId === sent.data.messageUId), 'alice gets the message', { ms: 15000 })
})

test('a connect where no node answers fails with 30010 naming a node', async (t) => {
  const [a, b] = [await deadUrl(), await deadUrl()]
  const server = await startServer(t, { appKey: APP_KEY, appSecret: APP_SECRET })
  const engine = new Engine({ appkey: APP_KEY, dbpath: h.tmpDir('server-list-none'), serverUrl: [a, b], logOutputLevel: 1 })
  t.after(() => engine.close())
  const r = await engine.connect(await server.getToken('carol'))
  assert.equal(r.code, 30010, JSON.stringify(r))
  assert.ok(r.msg.includes(b), r.msg)
})
