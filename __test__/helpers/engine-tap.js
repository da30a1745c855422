'use strict'
// The engine's own events, for tests that run js/main.js against the native Engine.
// Engine.onEvent keeps ONE callback (a later call replaces it), so a test must not subscribe
// next to the service. Instead every callback handed to the native onEvent is wrapped (once,
// on the prototype, when this module is first required): the tap records (name, payload)
// exactly as the engine emitted it, then the subscriber's callback runs.

const assert = require('node:assert/strict')

const { withDeadline } = require('../electron/harness')
const { Engine } = require('../../index.js')

const taps = new WeakMap()

/** The recorder of `engine`'s events: `{ events, wait(pred, label, { from, ms }) }`. */
function tapOf(engine) {
  let tap = taps.get(engine)
  if (!tap) {
    const events = []
    const waiters = new Set()
    tap = {
      events,
      record(name, payload) {
        events.push({ name, payload })
        for (const w of [...waiters]) w()
      },
      /** Resolves the first recorded event (index >= from, already recorded or future) matching `pred`. */
      wait(pred, label = 'engine event', { from = 0, ms = 10000 } = {}) {
        return withDeadline(
          new Promise((resolve) => {
            const check = () => {
              const hit = events.slice(from).find(pred)
              if (hit) {
                waiters.delete(check)
                resolve(hit)
              }
            }
            waiters.add(check)
            check()
          }),
          ms,
          label,
        )
      },
    }
    taps.set(engine, tap)
  }
  return tap
}

{
  const proto = Engine.prototype
  const inner = proto.onEvent
  assert.equal(typeof inner, 'function', 'the native Engine has onEvent')
  Object.defineProperty(proto, 'onEvent', {
    configurable: true,
    writable: true,
    value: function onEvent(callback) {
      const tap = tapOf(this)
      return inner.call(this, (name, payload) => {
        tap.record(name, payload)
        callback(name, payload)
      })
    },
  })
}

module.exports = { tapOf }
