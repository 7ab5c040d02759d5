'use strict'
// The shared bridge conformance vectors (bridge/spec/vectors/*.json), run from the
// adapter's side with this package's WebSocket client (ws) and codecs (src/codec.js),
// against a real daemon. See bridge/spec/README.md for the format.
//
// The daemon's side (a fresh daemon per vector and encoding, the harness steps:
// dispatch, delivered events, the clock, restart, key revocation) is a small loopback
// HTTP control endpoint that tests/adapters/test_minecraft_bridge.py runs in front of the Python
// reference harness; its URL comes in AE_VECTORS_CONTROL. Without it these tests are
// reported as skipped (run them through pytest).

const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')
const WebSocket = require('ws')
const { encodeValue, encodeFrame, decodeFrame, frameFrom, toWire, isPlainObject } = require('../src/codec')

const CONTROL = process.env.AE_VECTORS_CONTROL
const DIR = process.env.AE_VECTORS_DIR || path.join(__dirname, '..', '..', 'bridge', 'spec', 'vectors')
const ONLY = process.env.AE_VECTORS_ONLY ? new RegExp(process.env.AE_VECTORS_ONLY) : null

const RECV_TIMEOUT = 3000 // longest wait for one frame, close or event
const CLOSE_HANDSHAKE_TIMEOUT = 1000 // after its close frame, the daemon closes TCP within this
const NO_EVENT_SETTLE = 200
const BAD_KEY = 'ae_wk_000000000000_' + 'A'.repeat(32)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

class VectorFailure extends Error {
  constructor (message) {
    super(message)
    this.name = 'VectorFailure'
  }
}

class LinkClosed extends VectorFailure {
  constructor (code, reason) {
    super(`expected a frame, the link closed with ${code} ${JSON.stringify(reason)}`)
    this.code = code
  }
}

// -- patterns ---------------------------------------------------------------------------

function describe (value) {
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

function match (pattern, value, captures, where = '$') {
  if (typeof pattern === 'string' && pattern.startsWith('$')) {
    const colon = pattern.indexOf(':')
    const kind = colon === -1 ? pattern : pattern.slice(0, colon)
    const name = colon === -1 ? '' : pattern.slice(colon + 1)
    if (kind === '$any') return
    if (kind === '$int') {
      if (typeof value === 'number' && Number.isInteger(value)) return
      throw new VectorFailure(`${where}: expected an integer, got ${describe(value)}`)
    }
    if (kind === '$str') {
      if (typeof value === 'string') return
      throw new VectorFailure(`${where}: expected a string, got ${describe(value)}`)
    }
    if (kind === '$capture') {
      captures[name] = value
      return
    }
    if (kind === '$ref') {
      if (!(name in captures)) throw new VectorFailure(`${where}: $ref:${name} was never captured`)
      pattern = captures[name]
    } else if (kind === '$not_ref') {
      if (deepEqual(value, captures[name])) throw new VectorFailure(`${where}: expected anything but ${describe(value)}`)
      return
    } else if (pattern.startsWith('$$')) {
      pattern = pattern.slice(1)
    } else {
      throw new VectorFailure(`${where}: unknown pattern ${pattern} (bad vector)`)
    }
  }
  if (isPlainObject(pattern)) {
    if (!isPlainObject(value)) throw new VectorFailure(`${where}: expected an object, got ${describe(value)}`)
    for (const [key, sub] of Object.entries(pattern)) {
      const present = Object.prototype.hasOwnProperty.call(value, key)
      if (sub === '$absent') {
        if (present) throw new VectorFailure(`${where}.${key}: expected absent, got ${describe(value[key])}`)
        continue
      }
      if (!present) throw new VectorFailure(`${where}.${key}: missing (in ${describe(value)})`)
      match(sub, value[key], captures, `${where}.${key}`)
    }
    return
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(value) || value.length !== pattern.length) {
      throw new VectorFailure(`${where}: expected ${describe(pattern)}, got ${describe(value)}`)
    }
    pattern.forEach((sub, i) => match(sub, value[i], captures, `${where}[${i}]`))
    return
  }
  // literals: same type, same value (JavaScript has one number type: compared by value)
  if (typeof pattern !== typeof value || pattern !== value) {
    throw new VectorFailure(`${where}: expected ${describe(pattern)}, got ${describe(value)}`)
  }
}

function deepEqual (a, b) {
  try {
    assert.deepStrictEqual(a, b)
    return true
  } catch {
    return false
  }
}

function matches (pattern, value, captures) {
  const trial = { ...captures }
  try {
    match(pattern, value, trial)
  } catch (err) {
    if (err instanceof VectorFailure) return false
    throw err
  }
  Object.assign(captures, trial)
  return true
}

// -- encoding what the adapter sends ----------------------------------------------------------

/** Well-formed envelopes go through the bridge's frame encoder; anything else as it is. */
function encodeSent (value, encoding) {
  if (isPlainObject(value) && 'd' in value && Object.keys(value).every((k) => ['op', 'd', 's', 'sid'].includes(k))) {
    let frame = null
    try {
      frame = frameFrom(value)
    } catch {}
    if (frame !== null && deepEqual(toWire(frame), value)) return encodeFrame(frame, encoding)
  }
  return encodeValue(value, encoding)
}

function sizeOf (data) {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length
}

function sized (frame, size, encoding) {
  let pad = 0
  for (let i = 0; i < 8; i++) {
    const data = encodeValue({ ...frame, pad: 'x'.repeat(pad) }, encoding)
    if (sizeOf(data) === size) return data
    pad = Math.max(0, pad + size - sizeOf(data))
  }
  throw new Error(`cannot pad ${describe(frame)} to exactly ${size} bytes`)
}

function nested (op, depth, kind, encoding) {
  if (depth < 3) throw new Error('send_nested needs a depth of at least 3')
  const links = depth - 3 // the envelope, d, and the innermost empty container
  if (encoding === 'json') {
    const head = kind === 'object' ? '{"n":' : '['
    const tail = kind === 'object' ? '}' : ']'
    const chain = head.repeat(links) + (kind === 'object' ? '{}' : '[]') + tail.repeat(links)
    return `{"op":${JSON.stringify(op)},"d":{"n":${chain}}}`
  }
  const n = Buffer.from([0xa1, 0x6e]) // "n"
  const head = kind === 'object' ? Buffer.concat([Buffer.from([0x81]), n]) : Buffer.from([0x91])
  const chain = Buffer.concat([Buffer.alloc(head.length * links, head), Buffer.from([kind === 'object' ? 0x80 : 0x90])])
  const opBytes = encodeValue(op, 'msgpack')
  return Buffer.concat([Buffer.from([0x82]), encodeValue('op', 'msgpack'), opBytes, encodeValue('d', 'msgpack'),
    Buffer.from([0x81]), n, chain])
}

// -- the daemon's side: the control endpoint -------------------------------------------------------

async function control (route, body = {}) {
  const res = await fetch(`${CONTROL}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30000)
  })
  const data = await res.json()
  if (res.status === 409) throw new VectorFailure(data.error)
  if (!res.ok) throw new Error(`control ${route}: HTTP ${res.status} ${describe(data)}`)
  return data
}

// -- one WebSocket connection, read as a queue -------------------------------------------------------

class Conn {
  constructor (url) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0, handshakeTimeout: RECV_TIMEOUT })
    this.queue = []
    this.closed = null // {code, reason} once TCP is gone
    this.closingSince = null // when the daemon's close frame was first seen
    this.wake = null
    this.ws.on('message', (data, isBinary) => { this.queue.push({ data, isBinary }); this._wake() })
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; this._wake() })
    this.ws.on('error', () => {})
  }

  _wake () {
    if (this.wake) { const w = this.wake; this.wake = null; w() }
  }

  async _waitChange (ms) {
    await new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve() }, ms)
      this.wake = () => { clearTimeout(timer); resolve() }
    })
  }

  opened () {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new VectorFailure('the connection did not open within 3 s')), RECV_TIMEOUT)
      this.ws.once('open', () => { clearTimeout(timer); resolve() })
      this.ws.once('unexpected-response', (req, res) => {
        clearTimeout(timer)
        reject(new VectorFailure(`HTTP ${res.statusCode} instead of a WebSocket`))
      })
      this.ws.once('close', () => { clearTimeout(timer); reject(new VectorFailure('closed before it opened')) })
    })
  }

  /** The daemon's close frame has arrived (our side answered it), or TCP is gone. */
  get closing () {
    return this.ws.readyState === WebSocket.CLOSING || this.ws.readyState === WebSocket.CLOSED
  }

  /** The close as far as it is known: the daemon's close frame, or TCP gone (1006). */
  closeNow () {
    if (this.closed !== null) return this.closed
    if (this.ws._closeFrameReceived) {
      return { code: this.ws._closeCode, reason: this.ws._closeMessage ? this.ws._closeMessage.toString() : '' }
    }
    return null
  }

  /** The next message, or LinkClosed once the daemon's close frame has arrived. */
  async next () {
    const deadline = Date.now() + RECV_TIMEOUT
    for (;;) {
      if (this.queue.length > 0) return this.queue.shift()
      if (this.closing) {
        this.closingSince ??= Date.now()
        let info = this.closeNow()
        while (info === null && Date.now() < this.closingSince + CLOSE_HANDSHAKE_TIMEOUT) {
          await this._waitChange(20)
          info = this.closeNow()
        }
        info ??= { code: 1006, reason: '' }
        throw new LinkClosed(info.code, info.reason)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new VectorFailure(`nothing within ${RECV_TIMEOUT / 1000} s`)
      await this._waitChange(Math.min(left, 20))
    }
  }

  /** Code and reason of the daemon's close; the closing handshake (TCP closed) must end
   *  within 1 s of the close frame. */
  async closeInfo () {
    this.closingSince ??= Date.now()
    while (this.closed === null && Date.now() < this.closingSince + CLOSE_HANDSHAKE_TIMEOUT) {
      await this._waitChange(20)
    }
    if (this.closed !== null) return this.closed
    const info = this.closeNow() ?? { code: 1006, reason: '' }
    throw new VectorFailure(`close ${info.code} received, but the daemon did not finish the closing handshake within 1 s`)
  }

  send (data) {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) {
        reject(new VectorFailure(`the daemon had closed the link (${this.closed ? this.closed.code : this.ws._closeCode ?? 1006})`))
        return
      }
      this.ws.send(data, { binary: typeof data !== 'string' }, (err) => err ? reject(new VectorFailure(`send failed: ${err.message}`)) : resolve())
    })
  }

  async close () {
    if (this.ws.readyState === WebSocket.CLOSED) return
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close()
    const deadline = Date.now() + 1000
    while (this.closed === null && Date.now() < deadline) await this._waitChange(20)
    this.ws.terminate()
  }

  terminate () {
    this.ws.terminate()
  }
}

// -- the runner -------------------------------------------------------------------------------------

class Runner {
  constructor (vector, encoding, daemon) {
    this.vector = vector
    this.encoding = encoding
    this.daemon = daemon // {port, keys, world, heartbeat_interval}
    this.captures = {}
    this.conn = null
    this.background = []
    this.linkId = null
    this.acked = {}
  }

  get url () {
    return `ws://127.0.0.1:${this.daemon.port}/ws?encoding=${this.encoding}`
  }

  async run () {
    for (const [index, step] of this.vector.steps.entries()) {
      const kinds = Object.keys(step)
      if (kinds.length !== 1) throw new Error(`step ${index} needs exactly one kind: ${describe(step)}`)
      const kind = kinds[0]
      const handler = this[`_${kind}`]
      if (typeof handler !== 'function') throw new Error(`step ${index}: unknown step kind ${kind}`)
      try {
        await handler.call(this, step[kind], index)
      } catch (err) {
        if (err instanceof VectorFailure) throw new VectorFailure(`step ${index} ${describe(step).slice(0, 300)}: ${err.message}`)
        throw err
      }
    }
  }

  async keepsServing () {
    await this._connect(true)
    await this._recv({ op: 'hello' })
    await this._send({
      op: 'identify',
      d: {
        protocol: 1, world: this.daemon.world, server_id: 'keeps-serving', key: this.daemon.keys.check,
        adapter: { name: 'vectors', version: '1' }, capabilities: []
      }
    })
    await this._recv({ op: 'ready', d: { link_id: '$str' } })
    await this.close()
  }

  async close (everything = false) {
    for (const conn of [this.conn, ...(everything ? this.background : [])]) {
      if (conn) await conn.close()
    }
    this.conn = null
    if (everything) this.background = []
  }

  subst (value) {
    if (Array.isArray(value)) return value.map((v) => this.subst(v))
    if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.subst(v)]))
    if (typeof value === 'string' && value.startsWith('$')) {
      const keys = this.daemon.keys
      const fixed = { $key: keys.key, $other_world_key: keys.other, $revoked_key: keys.revoked, $bad_key: BAD_KEY }
      if (value in fixed) return fixed[value]
      if (value.startsWith('$ref:')) {
        const name = value.slice(5)
        if (!(name in this.captures)) throw new Error(`$ref:${name} was never captured (bad vector)`)
        return this.captures[name]
      }
      if (value.startsWith('$$')) return value.slice(1)
      throw new Error(`unknown placeholder ${value} in a sent frame (bad vector)`)
    }
    return value
  }

  socket () {
    if (this.conn === null) throw new Error('no connection: the vector needs a connect step')
    return this.conn
  }

  async frame () {
    const { data, isBinary } = await this.socket().next()
    let wire
    try {
      wire = toWire(decodeFrame(data, isBinary, this.encoding, 1 << 24))
    } catch (err) {
      throw new VectorFailure(`the daemon sent an undecodable frame (${isBinary ? 'binary' : 'text'}, ${sizeOf(data)} bytes): ${err.message}`)
    }
    this.observe(wire)
    return wire
  }

  observe (wire) {
    if (wire.op === 'ready') this.linkId = wire.d.link_id ?? null
    const acked = wire.op === 'ack' ? wire.d.s : wire.d.ack
    if ((wire.op === 'ack' || wire.op === 'heartbeat_ack') && Number.isInteger(acked) && this.linkId) {
      this.acked[this.linkId] = Math.max(this.acked[this.linkId] ?? 0, acked)
    }
  }

  async collect (arg, untilClose) {
    const allow = arg.allow ?? ['$any']
    const require = arg.require ?? []
    const counts = require.map(() => 0)
    let received = 0
    while (untilClose || received < arg.count) {
      let wire
      try {
        wire = await this.frame()
      } catch (err) {
        if (!(err instanceof LinkClosed) || !untilClose) throw err
        await this.closeCode(arg.code)
        break
      }
      received += 1
      if (!allow.some((p) => matches(p, wire, this.captures))) {
        throw new VectorFailure(`frame ${received} ${describe(wire)} matches no allowed pattern`)
      }
      require.forEach((req, i) => { if (matches(req.match, wire, this.captures)) counts[i] += 1 })
    }
    require.forEach((req, i) => {
      const lo = req.min ?? 0
      const hi = req.max
      if (counts[i] < lo || (hi !== undefined && hi !== null && counts[i] > hi)) {
        throw new VectorFailure(`${counts[i]} frames matched ${describe(req.match)}; wanted ${lo}..${hi ?? ''}`)
      }
    })
  }

  async closeCode (code) {
    const conn = this.socket()
    const early = conn.closeNow()
    if (early !== null && early.code !== code) {
      throw new VectorFailure(`expected close ${code}, got ${early.code} ${JSON.stringify(early.reason)}`)
    }
    const { code: got, reason } = await conn.closeInfo()
    if (got !== code) throw new VectorFailure(`expected close ${code}, got ${got} ${JSON.stringify(reason)}`)
  }

  // wire steps ------------------------------------------------------------------------------

  async _send (frame) {
    await this.socket().send(encodeSent(this.subst(frame), this.encoding))
  }

  async _send_raw (text) {
    await this.socket().send(String(text))
  }

  async _send_raw_b64 (b64) {
    await this.socket().send(Buffer.from(b64, 'base64'))
  }

  async _send_sized (arg) {
    await this.socket().send(sized(this.subst(arg.frame), arg.bytes, this.encoding))
  }

  async _send_nested (arg) {
    await this.socket().send(nested(arg.op ?? 'heartbeat', arg.depth, arg.kind ?? 'object', this.encoding))
  }

  async _send_many (arg) {
    const template = JSON.stringify(arg.frame)
    const first = arg.first ?? 1
    for (let i = 0; i < arg.count; i++) {
      const frame = JSON.parse(template.split('"$seq"').join(String(first + i)))
      try {
        await this.socket().send(encodeSent(this.subst(frame), this.encoding))
      } catch (err) {
        if (err instanceof VectorFailure) return // the daemon closed the link: the next steps check it
        throw err
      }
    }
  }

  async _recv (pattern) {
    const wire = await this.frame()
    const trial = { ...this.captures }
    match(pattern, wire, trial)
    this.captures = trial
  }

  async _recv_unordered (patterns) {
    const left = [...patterns]
    while (left.length > 0) {
      const wire = await this.frame()
      const i = left.findIndex((p) => matches(p, wire, this.captures))
      if (i === -1) throw new VectorFailure(`${describe(wire)} matches none of ${describe(left)}`)
      left.splice(i, 1)
    }
  }

  async _recv_many (arg) {
    await this.collect(arg, false)
  }

  async _recv_until_close (arg) {
    await this.collect(arg, true)
  }

  async _close (code) {
    let item
    try {
      item = await this.socket().next()
    } catch (err) {
      if (!(err instanceof LinkClosed)) throw err
      await this.closeCode(code)
      return
    }
    throw new VectorFailure(`expected close ${code}, got a frame of ${sizeOf(item.data)} bytes: ${String(item.data).slice(0, 200)}`)
  }

  async _connect (arg) {
    const keep = isPlainObject(arg) ? arg.keep_previous : undefined
    if ((keep === 'open' || keep === 'unresponsive') && this.conn !== null) {
      if (keep === 'unresponsive') this.conn.ws.pause() // stop reading at the TCP level
      this.background.push(this.conn)
      this.conn = null
    }
    await this.close()
    const conn = new Conn(this.url)
    this.conn = conn
    await conn.opened()
  }

  async _connect_rejected (arg) {
    const url = `ws://127.0.0.1:${this.daemon.port}${arg.path}`
    const status = await new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: RECV_TIMEOUT })
      ws.on('unexpected-response', (req, res) => { res.resume(); req.destroy(); resolve(res.statusCode) })
      ws.on('open', () => { ws.terminate(); resolve(null) })
      ws.on('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err) })
    })
    if (status === null) throw new VectorFailure(`${arg.path}: the daemon accepted the WebSocket`)
    if (status !== arg.status) throw new VectorFailure(`${arg.path}: HTTP ${status}, wanted ${arg.status}`)
  }

  async _drop () {
    const conn = this.socket()
    conn.terminate() // no closing handshake: a network failure
    const deadline = Date.now() + RECV_TIMEOUT
    while (conn.closed === null && Date.now() < deadline) await conn._waitChange(20)
    this.conn = null
  }

  async _reconnect () {
    await this._drop()
    await this._connect(true)
  }

  async _wait (seconds) {
    await sleep(seconds * 1000)
  }

  // harness steps: the daemon's side, through the control endpoint ----------------------------------

  async _dispatch (arg, index) {
    // the harness dispatches the step as its own JSON parser read it (no number round trip)
    await control('/dispatch', { vector: this.vector.name, index })
  }

  async _expect_event (pattern) {
    const { event } = await control('/events/next', { timeout: RECV_TIMEOUT / 1000 })
    if (event === null) throw new VectorFailure(`no event delivered within ${RECV_TIMEOUT / 1000} s`)
    const trial = { ...this.captures }
    match(pattern, event, trial)
    this.captures = trial
  }

  async _expect_no_event () {
    await sleep(NO_EVENT_SETTLE)
    const { events } = await control('/events/pending')
    if (events.length > 0) throw new VectorFailure(`unexpected events delivered: ${describe(events)}`)
  }

  async _expect_ack_invariant () {
    await sleep(NO_EVENT_SETTLE)
    if (this.linkId === null) throw new Error('expect_ack_invariant before any ready (bad vector)')
    const { history } = await control('/history')
    const delivered = history.filter(([lid]) => lid === this.linkId).map(([, wire]) => wire.s)
    const twice = [...new Set(delivered.filter((s, i) => delivered.indexOf(s) !== i))].sort((a, b) => a - b)
    if (twice.length > 0) throw new VectorFailure(`events delivered twice: ${twice}`)
    const sorted = [...delivered].sort((a, b) => a - b)
    if (!deepEqual(sorted, delivered)) throw new VectorFailure(`events delivered out of order: ${delivered}`)
    const top = this.acked[this.linkId] ?? 0
    const seen = new Set(delivered)
    const lost = []
    for (let s = 1; s <= top; s++) if (!seen.has(s)) lost.push(s)
    if (lost.length > 0) throw new VectorFailure(`acked up to s=${top} but never delivered: ${lost}`)
  }

  async _advance_clock (seconds) {
    await control('/clock/advance', { seconds })
    await sleep(this.daemon.heartbeat_interval * 1000) // let the daemon's watchdog see the new time
  }

  async _freeze_clock () {
    await control('/clock/freeze')
  }

  async _restart_daemon () {
    const { port } = await control('/restart')
    this.daemon.port = port
  }

  async _revoke_key () {
    await control('/revoke')
  }
}

// -- tests --------------------------------------------------------------------------------------------

function vectors () {
  return fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')))
}

if (!CONTROL) {
  test('shared protocol vectors', { skip: 'AE_VECTORS_CONTROL is not set: run them with `.venv/bin/pytest tests/adapters/test_minecraft_bridge.py -k vectors` (it starts the daemon side)' }, () => {})
} else {
  let known = {}
  test.before(async () => {
    known = (await control('/known_bugs')).known_bugs
  })
  for (const vector of vectors()) {
    for (const encoding of vector.encodings ?? ['json', 'msgpack']) {
      const id = `${vector.name}-${encoding}`
      if (ONLY && !ONLY.test(id)) continue
      test(id, { timeout: 60000 }, async () => {
        const daemon = await control('/start', { vector: vector.name })
        const runner = new Runner(vector, encoding, daemon)
        let failure = null
        try {
          await runner.run()
          await runner.close()
          await runner.keepsServing()
        } catch (err) {
          failure = err
        } finally {
          await runner.close(true)
          await control('/stop')
        }
        const symptom = known[vector.name]
        if (failure !== null) {
          if (symptom !== undefined && failure instanceof VectorFailure && failure.message.includes(symptom)) {
            return // a known daemon bug (KNOWN_BUGS in tests/support/vectors.py), failing the known way
          }
          throw failure
        }
        if (symptom !== undefined) {
          throw new Error(`${vector.name} is listed as a known daemon bug but passes: remove it from KNOWN_BUGS`)
        }
      })
    }
  }
}

module.exports = { match, matches, sized, nested, encodeSent, VectorFailure }
