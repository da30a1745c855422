// Compiled once per napi env by src/js_args.rs; the script's value is the function that turns
// one call's arguments into one JSON text. See js_args.rs for why it runs as JavaScript.
//
// convert(...args) returns either the JSON text of the array of arguments (it starts with
// "[") or a refusal "<argument index>:<the message after the argument's name>". It never
// throws: every getter and Proxy trap runs inside a try, and what they throw is quoted.
//
// Every property is read once, into a plain copy (objects, arrays, strings, numbers,
// booleans, null), and JSON.stringify serializes the copy: a getter cannot answer one thing
// to the checks and another to the serializer, and no toJSON of the original runs.
;(function () {
  'use strict'

  // The bounds (js_args.rs explains them).
  const MAX_DEPTH = 32
  const MAX_ITEMS = 100000
  const MAX_VALUES = 200000
  const MAX_TEXT_BYTES = 64 * 1024 * 1024
  const PATH_KEY_CHARS = 64

  // Taken once, when this script is first compiled, so app code that later replaces a
  // global does not change the rules. (isWellFormed is called as a method: through
  // Reflect.apply it cost a tenth of the walk. Only code in this process could replace it,
  // never a window's data.)
  const { isArray } = Array
  const { isView } = ArrayBuffer
  const { keys: ownKeys, hasOwn, create, defineProperty, setPrototypeOf, getPrototypeOf, getOwnPropertyDescriptor } = Object
  const { apply } = Reflect
  const stringify = JSON.stringify
  const ObjectPrototype = Object.prototype
  const ArrayPrototype = Array.prototype
  const objectTag = ObjectPrototype.toString
  const typedArrayTag = getOwnPropertyDescriptor(getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get
  const arrayBufferByteLength = getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get
  const dateGetTime = Date.prototype.getTime
  const stringValueOf = String.prototype.valueOf
  const nativeWellFormed = String.prototype.isWellFormed // Node 20 and later
  const nativeByteLength = typeof Buffer === 'function' && typeof Buffer.byteLength === 'function' ? Buffer.byteLength : null
  const NO_ARGS = []
  // A lone surrogate: a high one not followed by a low one, or a low one not preceded by a
  // high one (without the u flag, so the pattern sees UTF-16 code units).
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
  const wellFormed = nativeWellFormed ? (s) => s.isWellFormed() : (s) => !LONE_SURROGATE.test(s)
  const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
  // What Rust's `{:?}` escapes in a string (quoting keys and thrown text as the Rust reader
  // did), so a key or message cannot forge or garble the error.
  const DEBUG_ESCAPE = /["\\\0\t\r\n]|[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]|(?! )\p{Zs}/gu
  const DEBUG_SHORT = { '"': '\\"', '\\': '\\\\', '\0': '\\0', '\t': '\\t', '\r': '\\r', '\n': '\\n' }

  /** A refusal of the argument being read; anything else caught is a bug or a thrown value. */
  class Refusal {
    constructor(message) {
      this.message = message
    }
  }

  /** The shown form of a string: quoted and escaped as Rust's Debug writes it. */
  function quote(s) {
    return `"${s.replace(DEBUG_ESCAPE, (c) => DEBUG_SHORT[c] || `\\u{${c.codePointAt(0).toString(16)}}`)}"`
  }

  /** The first `n` code points of `s`, each lone surrogate as U+FFFD. */
  function firstChars(s, n) {
    let out = ''
    let count = 0
    for (const c of s) {
      if (count++ === n) break
      out += c.length === 1 && c >= '\uD800' && c <= '\uDFFF' ? '\uFFFD' : c
    }
    return out
  }

  /** A thrown value as the message shows it: a string, or an Error's string message. */
  function describe(e) {
    let text
    try {
      if (typeof e === 'string') text = e
      else if (e !== null && typeof e === 'object' && apply(objectTag, e, NO_ARGS) === '[object Error]') {
        const m = e.message
        if (typeof m === 'string') text = m
      }
    } catch {
      // A message getter (or Proxy trap) that throws too: described generically.
    }
    return text === undefined ? 'an exception' : quote(firstChars(text, 200))
  }

  function pushKey(out, key) {
    if (key.length <= PATH_KEY_CHARS && IDENTIFIER.test(key)) return `${out}.${key}`
    const shown = firstChars(key, PATH_KEY_CHARS)
    return `${out}[${quote(shown)}${shown.length < key.length ? '…' : ''}]`
  }

  /** UTF-8 bytes of `s` (a lone surrogate counts 3, as U+FFFD), and whether one occurs. */
  let sawLone = false
  function utf8Bytes(s) {
    if (s.length === 0) {
      sawLone = false
      return 0
    }
    sawLone = !wellFormed(s)
    return nativeByteLength ? nativeByteLength(s) : byteLengthLoop(s)
  }

  /** utf8Bytes where Buffer is missing (an embedder other than Node or Electron). */
  function byteLengthLoop(s) {
    let bytes = s.length
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c < 0x80) continue
      if (c < 0x800) {
        bytes += 1
      } else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        bytes += 2 // a pair: 4 bytes for 2 units
        i++
      } else {
        bytes += 2
      }
    }
    return bytes
  }

  function loneSurrogate(s) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c < 0xd800 || c > 0xdfff) continue
      if (c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        i++
        continue
      }
      return `contains a lone surrogate (code unit 0x${c.toString(16).toUpperCase()} at index ${i}); text must be valid Unicode`
    }
    return 'contains a lone surrogate; text must be valid Unicode'
  }

  /** One call's walk: its budgets and where it is. */
  class Walk {
    constructor() {
      this.valuesLeft = MAX_VALUES
      this.bytesLeft = MAX_TEXT_BYTES
      // path[d]: the element index (number) or member key (string) at depth d; path[0] is
      // the argument, whose name Rust puts in front.
      this.path = ['']
      // Copies get no prototype when an inherited toJSON exists: JSON.stringify would call it.
      this.bare = 'toJSON' in ObjectPrototype || 'toJSON' in ArrayPrototype
    }

    where(depth) {
      let out = ''
      for (let d = 1; d <= depth; d++) {
        const step = this.path[d]
        out = typeof step === 'number' ? `${out}[${step}]` : pushKey(out, step)
      }
      return out
    }

    refuse(depth, rule) {
      return new Refusal(`${this.where(depth)} ${rule}`)
    }

    threw(depth, doing, e) {
      return this.refuse(depth, `cannot be read: ${doing} threw ${describe(e)}`)
    }

    spend(depth, n) {
      if (n > this.valuesLeft) {
        throw this.refuse(
          depth,
          `makes the call's arguments hold more than ${MAX_VALUES} values (elements and members, counting every visit of a shared object)`,
        )
      }
      this.valuesLeft -= n
    }

    /** Spends the text budget on `s` and refuses a lone surrogate; `depth` names the place. */
    text(s, depth, key) {
      const bytes = utf8Bytes(s)
      if (bytes > this.bytesLeft) {
        throw this.refuseText(
          depth,
          key,
          `is ${bytes} bytes of text, past what is left of the call's budget: the arguments of one call may hold at most ${MAX_TEXT_BYTES >> 20} MiB of text`,
        )
      }
      this.bytesLeft -= bytes
      if (sawLone) throw this.refuseText(depth, key, loneSurrogate(s))
    }

    refuseText(depth, key, rule) {
      return new Refusal(`${this.where(depth)}${key ? ' key' : ''} ${rule}`)
    }

    /** The plain copy of `v`, whose cost the caller has spent. */
    value(v, depth) {
      // An if chain, not a switch on typeof: V8 compiles `typeof v === '…'` to a type check.
      if (typeof v === 'string') {
        this.text(v, depth, false)
        return v
      }
      if (typeof v === 'object') return v === null ? null : this.object(v, depth)
      if (typeof v === 'number') {
        if (v - v !== 0) {
          const got = v !== v ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity'
          throw this.refuse(depth, `must be a finite number, got ${got}`)
        }
        return v
      }
      if (typeof v === 'boolean') return v
      if (typeof v === 'undefined') return null // as JSON.stringify writes an undefined element
      if (typeof v === 'bigint') throw this.refuse(depth, 'must be a number, got a BigInt')
      if (typeof v === 'function') throw this.refuse(depth, 'cannot be a function')
      if (typeof v === 'symbol') throw this.refuse(depth, 'cannot be a symbol')
      throw this.refuse(depth, 'cannot be an external value')
    }

    object(v, depth) {
      if (depth >= MAX_DEPTH) {
        throw this.refuse(depth, `is nested more than ${MAX_DEPTH} levels deep (or refers to itself)`)
      }
      let array
      try {
        array = isArray(v)
      } catch (e) {
        throw this.threw(depth, 'Array.isArray', e)
      }
      if (array) return this.array(v, depth)
      let kind
      try {
        kind = exotic(v)
      } catch (e) {
        throw this.threw(depth, 'inspecting the object', e)
      }
      if (kind !== undefined) {
        throw this.refuse(depth, `must be plain data (objects, arrays, strings, numbers, booleans), got ${kind}`)
      }
      let keys
      try {
        keys = ownKeys(v)
      } catch (e) {
        throw this.threw(depth, 'listing its keys', e)
      }
      const n = keys.length
      if (n > MAX_ITEMS) throw this.refuse(depth, `has ${n} keys; at most ${MAX_ITEMS} are accepted`)
      // Every member costs a read, `undefined` ones included.
      this.spend(depth, n)
      const out = this.bare ? create(null) : {}
      const inner = depth + 1
      for (let i = 0; i < n; i++) {
        const key = keys[i]
        this.text(key, depth, true)
        this.path[inner] = key
        let item
        try {
          item = v[key]
        } catch (e) {
          throw this.threw(inner, 'reading it', e)
        }
        // JSON.stringify drops undefined members; so does this.
        if (item === undefined) continue
        const copy = this.value(item, inner)
        // Assigning "__proto__" would set the copy's prototype instead of a member.
        if (key === '__proto__') defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true })
        else out[key] = copy
      }
      return out
    }

    array(v, depth) {
      let n
      try {
        n = v.length
      } catch (e) {
        throw this.threw(depth, 'reading the length', e)
      }
      // Checked before any element is read: a sparse array's length costs nothing to
      // declare. (Only a Proxy of an array can answer something other than a uint32.)
      if (typeof n !== 'number' || !(n >= 0 && n <= 4294967295 && n % 1 === 0)) {
        throw this.refuse(depth, 'has a length that is not an array length')
      }
      if (n > MAX_ITEMS) throw this.refuse(depth, `has ${n} elements; at most ${MAX_ITEMS} are accepted`)
      this.spend(depth, n)
      const out = []
      const inner = depth + 1
      for (let i = 0; i < n; i++) {
        this.path[inner] = i
        let item
        try {
          item = v[i]
        } catch (e) {
          throw this.threw(inner, 'reading the element', e)
        }
        // A hole or undefined element is null, as in JSON.stringify.
        out.push(this.value(item, inner))
      }
      if (this.bare) setPrototypeOf(out, null)
      return out
    }
  }

  /**
   * What a non-array object is when it is not plain data, or undefined. Typed arrays and
   * String objects (one key per element or character) are recognised by their internal
   * slots whatever their prototype or Symbol.toStringTag says. Date, ArrayBuffer and
   * Promise are recognised by their tag (a Date or ArrayBuffer then by its slot too): one
   * whose Symbol.toStringTag was rewritten is read as the object it then claims to be,
   * which has no own members to cost anything, and an object that claims to be a Promise
   * is refused as one (JavaScript has no side-effect-free test for a real Promise).
   */
  function exotic(v) {
    if (isView(v)) {
      return apply(typedArrayTag, v, NO_ARGS) === undefined ? 'a DataView' : 'a typed array (Buffer, Uint8Array, …)'
    }
    const tag = apply(objectTag, v, NO_ARGS)
    if (tag !== '[object Object]') {
      if (tag === '[object Date]' && hasSlot(dateGetTime, v)) return 'a Date (pass its getTime() for a timestamp)'
      if (tag === '[object Promise]') return 'a Promise (await it first)'
      if (tag === '[object ArrayBuffer]' && hasSlot(arrayBufferByteLength, v)) return 'an ArrayBuffer'
    }
    // A String object always has its own `length`; few other objects do.
    if (hasOwn(v, 'length') && hasSlot(stringValueOf, v)) return 'a String object (pass the string itself)'
    return undefined
  }

  /** Whether `method` accepts `v` as its receiver: true only for the method's own kind. */
  function hasSlot(method, v) {
    try {
      apply(method, v, NO_ARGS)
      return true
    } catch {
      return false
    }
  }

  return function convert(...args) {
    const walk = new Walk()
    const copies = []
    let index = 0
    try {
      for (; index < args.length; index++) {
        walk.spend(0, 1)
        copies.push(walk.value(args[index], 0))
      }
      index = 0
      if (walk.bare) setPrototypeOf(copies, null)
      return stringify(copies)
    } catch (e) {
      if (e instanceof Refusal) return `${index}:${e.message}`
      // Not a rule: the stack ran out, or the serializer failed.
      return `${index}: cannot be read: ${describe(e)}`
    }
  }
})()
