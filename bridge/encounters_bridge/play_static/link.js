// @ts-check
// The web world's side of the bridge protocol as a state machine with no I/O, the same
// design as the Python AdapterLink (encounters_bridge/protocol.py), the addon's
// protocol.lua and the Minecraft bridge's link.js: it takes what arrived (`receive`)
// and the current time in seconds, and returns *effects* for the I/O layer. Nothing here
// touches a socket, a timer or a clock, so every rule is testable with plain calls.
//
// Effects:
//   {type: 'send', frame}                frame to encode and send now
//   {type: 'dispatch', frame}            a new daemon dispatch, once, in order
//   {type: 'ready', sessions, linkId}    identify checked out (a new link identity)
//   {type: 'resumed', replayed}          resume checked out
//   {type: 'acked', s}                   the daemon processed our events up to s
//   {type: 'error', code, message}       the daemon refused a frame (the link stays)
//   {type: 'dead'}                       the daemon has been silent too long: drop the socket
//   {type: 'refused', waiting, limit}    event() refused the event: the queue is full
//   {type: 'invalid', where, problem, fix, message}
//                                        event() refused the event: the daemon could not
//                                        read it (see eventProblem); with a 'log' warning
//   {type: 'log', level, message}        a line for the console ('warn' or 'info')
//
// Limits: events wait in memory until acknowledged (a closed tab loses them; the daemon
// keeps its own dispatches for the next link of the server), at most maxUnackedEvents:
// refuse new events when full; never drop queued ones. Events are numbered and the
// daemon refuses a gap, so the oldest cannot make room; a refused event is not queued.
// An event the daemon would close the link on (eventProblem) is refused the same way:
// queued, it would be resent after every reconnection and close the link again, forever.

import {
  PROTOCOL_VERSION, MAX_DEPTH, MAX_FRAME_BYTES, MAX_SEQUENCE, DecodeError, retryAfterClose,
  decodeFrame, encodeFrame, depthOf, isPlainObject, utf8Length
} from './codec.js'

/** Dispatches processed before an ack must go out (otherwise at the next tick). */
export const ACK_EVERY = 32
/** Seconds to wait before resending events the daemon refused (rate_limited, out_of_order). */
export const RESEND_PAUSE = 1.0
/** Our own pace for events, a little under the daemon's 20 per second, bursts of 40. */
export const EVENT_RATE = 18
export const EVENT_BURST = 36
/** The daemon is dead when it sent nothing for 2 heartbeat intervals + 5 s. */
export const SILENCE_GRACE = 5
/**
 * Events that may wait for the daemon's acknowledgement before event() refuses new ones.
 * A tab's events (joins, chats, action reports) come a few a second at most, so 1,000
 * cover minutes of a daemon away; resending them at our pace (18 a second) takes about a
 * minute, and they hold well under a megabyte of the tab's memory. (The Python adapter,
 * a game server's, keeps 10,000.)
 */
export const MAX_UNACKED_EVENTS = 1000

/**
 * @typedef {import('./codec.js').Frame} Frame
 * @typedef {{type: 'send', frame: Frame} | {type: 'dispatch', frame: Frame}
 *   | {type: 'ready', sessions: any[], linkId: string | null} | {type: 'resumed', replayed: number}
 *   | {type: 'acked', s: number} | {type: 'error', code: string, message: string} | {type: 'dead'}
 *   | {type: 'refused', waiting: number, limit: number}
 *   | {type: 'invalid', where: 'd' | 'sid', problem: string, fix: string, message: string}
 *   | {type: 'log', level: 'warn' | 'info', message: string}} Effect
 */

export class AdapterLink {
  /**
   * @param {object} o
   * @param {string} o.serverId
   * @param {string} o.key         the credential for identify (for the web world: a play token)
   * @param {string[]} o.capabilities  action types this adapter carries out
   * @param {string} [o.world]
   * @param {{name: string, version: string}} [o.adapter]
   * @param {() => number} [o.random]  in [0, 1): heartbeat jitter and backoff
   * @param {number} [o.maxUnackedEvents]  events waiting for an ack before new ones are refused
   */
  constructor ({ serverId, key, capabilities, world = 'web', adapter, random, maxUnackedEvents = MAX_UNACKED_EVENTS }) {
    if (!Number.isInteger(maxUnackedEvents) || maxUnackedEvents < 1) {
      throw new RangeError('maxUnackedEvents must be a whole number, at least 1')
    }
    this.world = world
    this.serverId = serverId
    this.key = key
    this.capabilities = capabilities
    this.adapter = adapter || { name: 'ae-web-world', version: '0.1.0' }
    this.random = random || Math.random
    /** @type {string | null} */
    this.linkId = null
    /** @type {string | null} */
    this.resumeToken = null
    this.inS = 0 // last daemon dispatch processed
    this.ackedS = 0 // last dispatch acknowledged to the daemon
    this.outS = 0 // last event sequence number given
    /** @type {Frame[]} events sent or waiting, not yet acknowledged, in s order */
    this.unacked = []
    /** @type {string | null} the link id the unacked events are numbered on */
    this.eventsLink = null
    this.sentS = 0 // highest event s sent on the current connection
    this.heartbeatInterval = 15
    /** @type {number | null} */
    this.nextHeartbeat = null
    /** @type {number | null} */
    this.lastHeard = null
    this.ready = false
    this.stopped = false
    /** @type {number | null} */
    this.resendAt = null
    this.tokens = EVENT_BURST
    /** @type {number | null} */
    this.tokensAt = null
    this.maxUnackedEvents = maxUnackedEvents
    this.refused = 0 // events refused since the queue was last full (0: not full now)
    /** the largest frame the daemon reads: hello's max_frame_bytes once one came */
    this.maxFrameBytes = MAX_FRAME_BYTES
  }

  // -- inputs -----------------------------------------------------------------------

  /** A new connection is open (before hello). @param {number} now @returns {Effect[]} */
  connected (now) {
    this.ready = false
    this.lastHeard = now
    this.sentS = 0
    this.resendAt = null
    return []
  }

  /**
   * One WebSocket message from the daemon. Throws DecodeError on a malformed frame.
   * @param {unknown} data @param {number} now @returns {Effect[]}
   */
  receive (data, now) {
    const frame = decodeFrame(data, 1 << 24)
    this.lastHeard = now
    switch (frame.op) {
      case 'hello': return this._onHello(frame, now)
      case 'ready': return this._onReady(frame, now)
      case 'resumed': return this._onResumed(frame, now)
      case 'dispatch': return this._onDispatch(frame)
      case 'ack':
      case 'heartbeat_ack':
        return this._acked(frame.op === 'ack' ? frame.d.s : frame.d.ack)
      case 'error': {
        const code = String(frame.d.code)
        if (code === 'rate_limited' || code === 'out_of_order') {
          this.resendAt = now + RESEND_PAUSE // then resend everything unacked, in order
        }
        return [{ type: 'error', code, message: String(frame.d.message ?? '') }]
      }
      default:
        return [] // unknown ops are ignored (forward compatibility)
    }
  }

  /** @param {Frame} frame @param {number} now @returns {Effect[]} */
  _onHello (frame, now) {
    const ms = frame.d.heartbeat_interval
    this.heartbeatInterval = typeof ms === 'number' && ms > 0 ? ms / 1000 : 15
    const maxBytes = frame.d.max_frame_bytes
    if (Number.isSafeInteger(maxBytes) && maxBytes > 0) this.maxFrameBytes = maxBytes
    // the first beat is jittered, so restarted servers do not beat in step
    this.nextHeartbeat = now + this.heartbeatInterval * this.random()
    if (this.linkId && this.resumeToken) {
      return [send('resume', { link_id: this.linkId, resume_token: this.resumeToken, last_s: this.inS })]
    }
    /** @type {Record<string, unknown>} */
    const identify = {
      protocol: PROTOCOL_VERSION,
      world: this.world,
      server_id: this.serverId,
      key: this.key,
      adapter: this.adapter,
      capabilities: this.capabilities
    }
    // the daemon answers how far it stored that link's events (ready's `previous`)
    if (this.unacked.length > 0 && this.eventsLink) identify.previous_link = this.eventsLink
    return [send('identify', identify)]
  }

  /** @param {Frame} frame @param {number} now @returns {Effect[]} */
  _onReady (frame, now) {
    this.linkId = typeof frame.d.link_id === 'string' ? frame.d.link_id : null
    this.resumeToken = typeof frame.d.resume_token === 'string' ? frame.d.resume_token : null
    this.ready = true
    this.inS = this.ackedS = 0
    // a new link identity: events not yet acknowledged are numbered again from 1, less
    // those the daemon says it stored under the previous link (their acks were lost)
    const pending = this._notStored(frame.d.previous)
    this.unacked = []
    this.eventsLink = this.linkId
    this.outS = 0
    for (const f of pending) this._sequence(f.d, f.sid)
    this.sentS = 0
    this.resendAt = null
    const sessions = Array.isArray(frame.d.sessions) ? frame.d.sessions : []
    return [{ type: 'ready', sessions, linkId: this.linkId }, ...this._drained(), ...this._pump(now)]
  }

  /**
   * The unacked events less those ready's `previous` ({link_id, in_s}) says the daemon
   * stored: `in_s` counts events of that link, so it applies only when the unacked
   * events are numbered on it. Without it every one is sent again (one may be stored twice).
   * @param {unknown} previous @returns {Frame[]}
   */
  _notStored (previous) {
    if (previous && typeof previous === 'object' && this.eventsLink) {
      const { link_id: linkId, in_s: stored } = /** @type {Record<string, unknown>} */ (previous)
      if (linkId === this.eventsLink && typeof stored === 'number' && Number.isSafeInteger(stored)) {
        return this.unacked.filter((f) => /** @type {number} */ (f.s) > stored)
      }
    }
    return this.unacked
  }

  /** @param {Frame} frame @param {number} now @returns {Effect[]} */
  _onResumed (frame, now) {
    this.ready = true
    this.sentS = this._ackedOut() // the daemon has everything up to its last ack
    this.resendAt = null
    const replayed = typeof frame.d.replayed === 'number' ? frame.d.replayed : 0
    return [{ type: 'resumed', replayed }, ...this._pump(now)]
  }

  /** @param {Frame} frame @returns {Effect[]} */
  _onDispatch (frame) {
    if (frame.s === undefined) return []
    if (frame.s <= this.inS) return [this._ack()] // a replay of one we ran: ack it again
    this.inS = frame.s
    /** @type {Effect[]} */
    const out = [{ type: 'dispatch', frame }]
    if (this.inS - this.ackedS >= ACK_EVERY) out.push(this._ack())
    return out
  }

  /** @param {unknown} s @returns {Effect[]} */
  _acked (s) {
    if (typeof s !== 'number' || !Number.isInteger(s)) return []
    let n = 0
    while (n < this.unacked.length && /** @type {number} */ (this.unacked[n].s) <= s) n++
    if (n === 0) return []
    this.unacked.splice(0, n)
    return [{ type: 'acked', s }, ...this._drained()]
  }

  /**
   * The line that ends an outage of the queue, once events were refused and the queue is
   * down to half its bound: not at the first free place, so a queue hovering at its bound
   * logs one warning and one such line, not one per event.
   * @returns {Effect[]}
   */
  _drained () {
    if (this.refused === 0 || this.unacked.length > Math.floor(this.maxUnackedEvents / 2)) return []
    const refused = this.refused
    this.refused = 0
    return [{
      type: 'log',
      level: 'info',
      message: `the daemon acknowledged the waiting events: ${refused} new event(s) were refused while the queue was full`
    }]
  }

  /** The last event s the daemon acknowledged (everything before the first unacked). */
  _ackedOut () {
    return this.unacked.length > 0 ? /** @type {number} */ (this.unacked[0].s) - 1 : this.outS
  }

  /** @returns {Effect} */
  _ack () {
    this.ackedS = this.inS
    return send('ack', { s: this.inS })
  }

  /** @param {Record<string, any>} d @param {string | undefined} sid */
  _sequence (d, sid) {
    this.outS += 1
    /** @type {Frame} */
    const frame = { op: 'event', d, s: this.outS }
    if (sid !== undefined && sid !== null) frame.sid = sid
    this.unacked.push(frame)
    return frame
  }

  /** Send waiting events in order, within our own rate (never during a resend pause). @param {number} now @returns {Effect[]} */
  _pump (now) {
    if (!this.ready || this.resendAt !== null) return []
    this._refill(now)
    /** @type {Effect[]} */
    const out = []
    for (const frame of this.unacked) {
      if (/** @type {number} */ (frame.s) <= this.sentS) continue
      if (this.tokens < 1) break
      this.tokens -= 1
      this.sentS = /** @type {number} */ (frame.s)
      out.push({ type: 'send', frame })
    }
    return out
  }

  /** @param {number} now */
  _refill (now) {
    if (this.tokensAt !== null) {
      this.tokens = Math.min(EVENT_BURST, this.tokens + (now - this.tokensAt) * EVENT_RATE)
    }
    this.tokensAt = now
  }

  /**
   * Queue an event: sent now when the link is ready (and within rate), else later. An
   * event the daemon could not read (eventProblem) is refused: an 'invalid' effect and a
   * warning 'log' effect, each time. When maxUnackedEvents already wait, the event is
   * refused: a 'refused' effect, and a warning 'log' effect at the first refusal of an
   * outage. A refused event is not queued and takes no number.
   * @param {Record<string, any>} d @param {string | undefined} sid @param {number} now @returns {Effect[]}
   */
  event (d, sid, now) {
    const invalid = eventProblem(d, sid, this.maxFrameBytes)
    if (invalid !== null) {
      const message = `event refused, not queued: ${invalid.where}: ${invalid.problem}; ${invalid.fix}`
      return [{ type: 'invalid', ...invalid, message }, { type: 'log', level: 'warn', message }]
    }
    const waiting = this.unacked.length
    if (waiting >= this.maxUnackedEvents) {
      this.refused += 1
      /** @type {Effect[]} */
      const out = [{ type: 'refused', waiting, limit: this.maxUnackedEvents }]
      if (this.refused === 1) {
        out.push({
          type: 'log',
          level: 'warn',
          message: `event refused: ${waiting} events already wait for the daemon, which has not acknowledged ` +
            'them (is it down or unreachable?); they are kept and sent when it is back, and new events ' +
            `are refused until then. Raise the bound with maxUnackedEvents (now ${this.maxUnackedEvents})`
        })
      }
      return out
    }
    this._sequence(d, sid)
    return this._pump(now)
  }

  /**
   * Call often (the I/O layer does every 50 ms): resends after a refusal, queued events,
   * a heartbeat when one is due (it carries the ack), any ack still owed, and a 'dead'
   * effect when the daemon has been silent for too long.
   * @param {number} now @returns {Effect[]}
   */
  tick (now) {
    /** @type {Effect[]} */
    const out = []
    if (this.lastHeard !== null && now - this.lastHeard > 2 * this.heartbeatInterval + SILENCE_GRACE) {
      this.lastHeard = now
      out.push({ type: 'dead' })
      return out
    }
    if (!this.ready) return out
    if (this.resendAt !== null && now >= this.resendAt) {
      this.resendAt = null
      this.sentS = this._ackedOut() // everything unacknowledged again, in order
    }
    out.push(...this._pump(now))
    if (this.nextHeartbeat !== null && now >= this.nextHeartbeat) {
      this.nextHeartbeat = now + this.heartbeatInterval
      this.ackedS = this.inS
      out.push(send('heartbeat', { ack: this.inS }))
    }
    out.push(...this.flushAcks())
    return out
  }

  /** An ack for dispatches processed but not yet acknowledged, if any. @returns {Effect[]} */
  flushAcks () {
    return this.ready && this.inS > this.ackedS ? [this._ack()] : []
  }

  /**
   * What to do after the link closed with `code`: 'resume', 'identify' or 'stop'.
   * @param {number} code
   */
  closed (code) {
    this.ready = false
    this.resendAt = null
    this.lastHeard = null
    const action = retryAfterClose(code)
    if (action === 'identify') this.linkId = this.resumeToken = null
    if (action === 'stop') this.stopped = true
    return action
  }

  /** Seconds before reconnection `attempt` (0-based): 1, 2, 4 ... 60, times [0.5, 1). @param {number} attempt */
  backoff (attempt) {
    return Math.min(60, 2 ** Math.min(attempt, 6)) * (0.5 + 0.5 * this.random())
  }
}

const PLAIN = 'use only objects, arrays, strings, numbers, booleans and null'

/**
 * Why the daemon could not read an event frame of `d` and `sid`, or null when it could
 * (PROTOCOL.md, "Events the daemon could not read are refused at the call"): `d` not a
 * plain object, `sid` not a string of 1 to 64 characters (counted as the daemon counts
 * them, by code point), nesting deeper than MAX_DEPTH, a value JSON.stringify refuses
 * (a BigInt), or a frame over `maxBytes`. The frame is encoded as it goes on the wire,
 * with the largest `s` (renumbering it on a new link cannot push it over the size), and
 * decoded back as the daemon decodes it. Limit: what JSON.stringify changes goes as it
 * writes it (NaN and Infinity as null; undefined and functions left out).
 * @param {unknown} d @param {unknown} sid @param {number} [maxBytes]
 * @returns {{where: 'd' | 'sid', problem: string, fix: string} | null}
 */
export function eventProblem (d, sid, maxBytes = MAX_FRAME_BYTES) {
  if (!isPlainObject(d)) {
    const got = Array.isArray(d) ? 'an array' : d === null ? 'null' : `a ${typeof d}`
    return { where: 'd', problem: `the event is ${got}, not an object`, fix: 'pass its fields as an object' }
  }
  if (sid !== undefined && sid !== null) {
    const length = typeof sid === 'string' ? [...sid].length : -1
    if (length < 1 || length > 64) {
      const got = length < 0 ? `a ${typeof sid} (${String(sid).slice(0, 40)})` : `${length} characters`
      return {
        where: 'sid',
        problem: `the session id is ${got}, not a string of 1 to 64 characters`,
        fix: 'pass the session id the daemon gave (a string), or undefined for no session'
      }
    }
  }
  /** @type {import('./codec.js').Frame} */
  const frame = { op: 'event', d, s: MAX_SEQUENCE }
  if (sid !== undefined && sid !== null) frame.sid = /** @type {string} */ (sid)
  if (depthOf(frame) > MAX_DEPTH + 1) {
    return { where: 'd', problem: `nested deeper than ${MAX_DEPTH} levels (or it holds itself)`, fix: 'flatten it' }
  }
  let text
  try {
    text = encodeFrame(frame)
  } catch (err) {
    return { where: 'd', problem: `JSON cannot carry it (${err instanceof Error ? err.message : String(err)})`, fix: PLAIN }
  }
  const size = utf8Length(text)
  if (size > maxBytes) {
    return {
      where: 'd',
      problem: `its frame is ${size} bytes, over the daemon's limit of ${maxBytes}`,
      fix: 'send less (a summary, or an id the game looks up), or split it into several events'
    }
  }
  try {
    decodeFrame(text, maxBytes)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    return { where: 'd', problem: `the daemon could not read it (${err.message})`, fix: PLAIN }
  }
  return null
}

/** @param {string} op @param {Record<string, any>} d @returns {Effect} */
function send (op, d) {
  return { type: 'send', frame: { op, d } }
}
