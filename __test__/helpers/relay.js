'use strict'
// A TCP relay between a client under test and imsync-server on loopback, for the faults a
// real network has: `cut()` drops every live connection (new ones are accepted: a reconnect
// works), `refuse()` drops them and refuses new ones until `restore()`, `freeze()` stops
// forwarding while keeping the sockets open (a peer that vanished without a goodbye), and
// `bytesPerSecond` throttles both directions (a transfer that takes long enough to interrupt).

const net = require('node:net')

/** Starts a relay to `target` (an http:// URL); stopped when the test `t` ends. */
async function relay(t, target, { bytesPerSecond = 0 } = {}) {
  const { hostname, port } = new URL(target)
  const sockets = new Set()
  let refusing = false
  let frozen = false
  const server = net.createServer((client) => {
    if (refusing || frozen) return client.destroy()
    const upstream = net.connect(Number(port), hostname)
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ]) {
      sockets.add(from)
      from.on('close', () => {
        sockets.delete(from)
        if (!frozen) to.destroy()
      })
      from.on('error', () => {})
      from.on('end', () => frozen || to.end())
      from.on('data', (chunk) => {
        if (frozen) return
        to.write(chunk)
        if (bytesPerSecond > 0) {
          from.pause()
          setTimeout(() => from.resume(), (chunk.length / bytesPerSecond) * 1000)
        }
      })
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dropAll = () => {
    for (const s of sockets) s.destroy()
  }
  t.after(() => {
    dropAll()
    server.close()
  })
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut: dropAll,
    refuse() {
      refusing = true
      dropAll()
    },
    restore() {
      refusing = false
    },
    freeze() {
      frozen = true
    },
  }
}

module.exports = { relay }
