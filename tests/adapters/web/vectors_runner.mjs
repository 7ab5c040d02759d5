// The shared bridge conformance vectors (bridge/spec/vectors/*.json) run from the web
// world's side: the browser's WebSocket API (a global in browsers and in Node 22) and the
// web world's own JSON codec (bridge/encounters_bridge/play_static/codec.js), against a
// real daemon whose side (a fresh daemon per vector, the harness steps) is the control
// endpoint tests/test_minecraft_bridge.py defines (`VectorControl`). The same module runs
// in node's test runner (web_vectors.test.mjs) and in Chromium (vectors.html).
//
// What the browser's WebSocket API cannot do, so the vectors that need it are reported as
// skipped with that reason (web_link.py checks the list):
// - `msgpack` encodings: a browser link is always JSON (the web world never sends binary);
// - `connect_rejected`: the API hides the HTTP status of a refused handshake;
// - `connect: {keep_previous: "unresponsive"}`: the API cannot stop reading at the TCP level.
// `drop` (cut without a closing handshake) is approximated by close(4000): the API cannot
// abort a socket; to the daemon both end the connection and keep the link for a resume.

const RECV_TIMEOUT = 3000 // longest wait for one frame, close or event
const CLOSE_GRACE = 1000 // after the close frame, the close event comes within this
const NO_EVENT_SETTLE = 200
const BAD_KEY = 'ae_wk_000000000000_' + 'A'.repeat(32)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export class VectorFailure extends Error {
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

/** Why a vector x encoding cannot run through the browser's WebSocket API, or null. */
export function unsupported (vector, encoding) {
  if (encoding !== 'json') return 'a browser link speaks JSON only'
  for (const step of vector.steps) {
    if ('connect_rejected' in step) return "the browser's WebSocket API hides the HTTP status of a refused handshake"
    const arg = step.connect
    if (arg && typeof arg === 'object' && arg.keep_previous === 'unresponsive') {
      return "the browser's WebSocket API cannot stop reading a socket at the TCP level"
    }
  }
  return null
}

function describe (value) {
  try {
    return JSON.stringify(value)
  } catch {
    return String(value)
  }
}

function isObject (value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function deepEqual (a, b) {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isObject(a)) {
    if (!isObject(b)) return false
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
  }
  return false
}

// -- patterns (bridge/spec/README.md, "Patterns") ------------------------------------------

export function match (pattern, value, captures, where = '$') {
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
  if (isObject(pattern)) {
    if (!isObject(value)) throw new VectorFailure(`${where}: expected an object, got ${describe(value)}`)
    for (const [key, sub] of Object.entries(pattern)) {
      const present = Object.hasOwn(value, key)
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

// -- one WebSocket connection (the browser's API), read as a queue ------------------------------

class Conn {
  constructor (url) {
    this.ws = new WebSocket(url)
    this.ws.binaryType = 'arraybuffer'
    this.queue = []
    this.closed = null // {code, reason} once the close event came
    this.wake = null
    this.ws.addEventListener('message', (e) => { this.queue.push(e.data); this._wake() })
    this.ws.addEventListener('close', (e) => { this.closed = { code: e.code, reason: e.reason }; this._wake() })
    this.ws.addEventListener('error', () => {})
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
      this.ws.addEventListener('open', () => { clearTimeout(timer); resolve() }, { once: true })
      this.ws.addEventListener('close', () => { clearTimeout(timer); reject(new VectorFailure('closed before it opened')) }, { once: true })
    })
  }

  get closing () {
    return this.ws.readyState === WebSocket.CLOSING || this.ws.readyState === WebSocket.CLOSED
  }

  /** The close event's code and reason, waiting for it up to the grace. */
  async closeInfo () {
    const deadline = Date.now() + RECV_TIMEOUT + CLOSE_GRACE
    while (this.closed === null && Date.now() < deadline) await this._waitChange(20)
    if (this.closed === null) throw new VectorFailure('the daemon did not finish closing the link')
    return this.closed
  }

  /** The next message, or LinkClosed once the link has closed. */
  async next () {
    const deadline = Date.now() + RECV_TIMEOUT
    for (;;) {
      if (this.queue.length > 0) return this.queue.shift()
      if (this.closing) {
        const info = await this.closeInfo()
        throw new LinkClosed(info.code, info.reason)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new VectorFailure(`nothing within ${RECV_TIMEOUT / 1000} s`)
      await this._waitChange(Math.min(left, 20))
    }
  }

  send (data) {
    if (this.ws.readyState !== WebSocket.OPEN) {
      throw new VectorFailure(`the daemon had closed the link (${this.closed ? this.closed.code : 'closing'})`)
    }
    this.ws.send(data)
  }

  /** Wait until everything queued has left (the API buffers sends). */
  async flushed () {
    const deadline = Date.now() + RECV_TIMEOUT
    while (this.ws.bufferedAmount > 0 && this.ws.readyState === WebSocket.OPEN && Date.now() < deadline) await sleep(5)
  }

  async close (code = 1000) {
    if (this.ws.readyState === WebSocket.CLOSED) return
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try { this.ws.close(code) } catch {}
    }
    const deadline = Date.now() + 2000
    while (this.closed === null && Date.now() < deadline) await this._waitChange(20)
  }
}

// -- the runner ------------------------------------------------------------------------------

export class Runner {
  /**
   * @param {object} vector  one vector file, parsed
   * @param {object} daemon  what the control endpoint's /start answered: {port, keys, world, heartbeat_interval}
   * @param {object} o
   * @param {object} o.codec    the web world's codec module
   * @param {(route: string, body?: object) => Promise<any>} o.control  POST to the control endpoint
   */
  constructor (vector, daemon, { codec, control }) {
    this.vector = vector
    this.daemon = daemon
    this.codec = codec
    this.control = control
    this.captures = {}
    this.conn = null
    this.background = []
    this.linkId = null
    this.acked = {}
  }

  get url () {
    return `ws://127.0.0.1:${this.daemon.port}/ws?encoding=json`
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
    if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.subst(v)]))
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

  /** Well-formed envelopes go through the web world's frame encoder; anything else as it is. */
  encodeSent (value) {
    const { frameFrom, toWire, encodeFrame } = this.codec
    if (isObject(value) && 'd' in value && Object.keys(value).every((k) => ['op', 'd', 's', 'sid'].includes(k))) {
      let frame = null
      try {
        frame = frameFrom(value)
      } catch {}
      if (frame !== null && deepEqual(toWire(frame), value)) return encodeFrame(frame)
    }
    return JSON.stringify(value)
  }

  socket () {
    if (this.conn === null) throw new Error('no connection: the vector needs a connect step')
    return this.conn
  }

  async frame () {
    const data = await this.socket().next()
    let wire
    try {
      wire = this.codec.toWire(this.codec.decodeFrame(data, 1 << 24))
    } catch (err) {
      const kind = typeof data === 'string' ? `text, ${data.length} characters` : 'binary'
      throw new VectorFailure(`the daemon sent an undecodable frame (${kind}): ${err.message}`)
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
    const { code: got, reason } = await this.socket().closeInfo()
    if (got !== code) throw new VectorFailure(`expected close ${code}, got ${got} ${JSON.stringify(reason)}`)
  }

  // wire steps ------------------------------------------------------------------------------

  async _send (frame) {
    this.socket().send(this.encodeSent(this.subst(frame)))
  }

  async _send_raw (text) {
    this.socket().send(String(text))
  }

  async _send_raw_b64 (b64) {
    const text = atob(b64)
    const bytes = new Uint8Array(text.length)
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i)
    this.socket().send(bytes.buffer)
  }

  async _send_sized (arg) {
    const frame = this.subst(arg.frame)
    const size = arg.bytes
    let pad = 0
    for (let i = 0; i < 8; i++) {
      const data = JSON.stringify({ ...frame, pad: 'x'.repeat(pad) })
      const length = this.codec.utf8Length(data)
      if (length === size) {
        this.socket().send(data)
        return
      }
      pad = Math.max(0, pad + size - length)
    }
    throw new Error(`cannot pad ${describe(frame)} to exactly ${size} bytes`)
  }

  async _send_nested (arg) {
    const depth = arg.depth
    const kind = arg.kind ?? 'object'
    if (depth < 3) throw new Error('send_nested needs a depth of at least 3')
    const links = depth - 3 // the envelope, d, and the innermost empty container
    const head = kind === 'object' ? '{"n":' : '['
    const tail = kind === 'object' ? '}' : ']'
    const chain = head.repeat(links) + (kind === 'object' ? '{}' : '[]') + tail.repeat(links)
    this.socket().send(`{"op":${JSON.stringify(arg.op ?? 'heartbeat')},"d":{"n":${chain}}}`)
  }

  async _send_many (arg) {
    const template = JSON.stringify(arg.frame)
    const first = arg.first ?? 1
    const conn = this.socket()
    for (let i = 0; i < arg.count; i++) {
      if (conn.ws.readyState !== WebSocket.OPEN) return // the daemon closed the link: the next steps check it
      const frame = JSON.parse(template.split('"$seq"').join(String(first + i)))
      conn.send(this.encodeSent(this.subst(frame)))
      if (i % 64 === 63) await conn.flushed() // let the daemon's close arrive between batches
    }
    await conn.flushed()
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
    let data
    try {
      data = await this.socket().next()
    } catch (err) {
      if (!(err instanceof LinkClosed)) throw err
      await this.closeCode(code)
      return
    }
    throw new VectorFailure(`expected close ${code}, got a frame: ${String(data).slice(0, 200)}`)
  }

  async _connect (arg) {
    const keep = isObject(arg) ? arg.keep_previous : undefined
    if (keep === 'open' && this.conn !== null) {
      this.background.push(this.conn)
      this.conn = null
    }
    await this.close()
    const conn = new Conn(this.url)
    this.conn = conn
    await conn.opened()
  }

  async _drop () {
    // the closest the API comes to cutting a connection: a close the daemon resumes after
    await this.socket().close(4000)
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

  async _dispatch (_arg, index) {
    await this.control('/dispatch', { vector: this.vector.name, index })
  }

  async _expect_event (pattern) {
    const { event } = await this.control('/events/next', { timeout: RECV_TIMEOUT / 1000 })
    if (event === null) throw new VectorFailure(`no event delivered within ${RECV_TIMEOUT / 1000} s`)
    const trial = { ...this.captures }
    match(pattern, event, trial)
    this.captures = trial
  }

  async _expect_no_event () {
    await sleep(NO_EVENT_SETTLE)
    const { events } = await this.control('/events/pending')
    if (events.length > 0) throw new VectorFailure(`unexpected events delivered: ${describe(events)}`)
  }

  async _expect_ack_invariant () {
    await sleep(NO_EVENT_SETTLE)
    if (this.linkId === null) throw new Error('expect_ack_invariant before any ready (bad vector)')
    const { history } = await this.control('/history')
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
    await this.control('/clock/advance', { seconds })
    await sleep(this.daemon.heartbeat_interval * 1000) // let the daemon's watchdog see the new time
  }

  async _freeze_clock () {
    await this.control('/clock/freeze')
  }

  async _restart_daemon () {
    const { port } = await this.control('/restart')
    this.daemon.port = port
  }

  async _revoke_key () {
    await this.control('/revoke')
  }
}

/** A `control(route, body)` function for the endpoint at `base` (fetch, same in both). */
export function controlAt (base) {
  return async function control (route, body = {}) {
    const res = await fetch(`${base}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body)
    })
    const data = await res.json()
    if (res.status === 409) throw new VectorFailure(data.error)
    if (!res.ok) throw new Error(`control ${route}: HTTP ${res.status} ${describe(data)}`)
    return data
  }
}

/**
 * Run one vector over JSON against a fresh daemon: 'pass', 'known' (a known daemon bug,
 * failing its known way) or 'skip: why'; throws on a failure.
 */
export async function runOne (vector, { codec, control, known }) {
  const why = unsupported(vector, 'json')
  if (why !== null) return `skip: ${why}`
  const daemon = await control('/start', { vector: vector.name })
  const runner = new Runner(vector, daemon, { codec, control })
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
    if (symptom !== undefined && failure instanceof VectorFailure && failure.message.includes(symptom)) return 'known'
    throw failure
  }
  if (symptom !== undefined) {
    throw new Error(`${vector.name} is listed as a known daemon bug but passes: remove it from KNOWN_BUGS`)
  }
  return 'pass'
}
