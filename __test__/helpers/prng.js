'use strict'
// The tests' one deterministic PRNG (mulberry32): the same seed gives the same sequence, so a
// failing seed can be replayed. Requires nothing, so fixtures in any process can use it.

/** mulberry32: a function returning floats in [0, 1), the same for the same seed. */
function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

module.exports = { mulberry32 }
