'use strict'
// The adapter's side of the bridge protocol as a state machine with no I/O, like the
// Python AdapterLink (bridge/encounters_bridge/protocol.py): it takes what arrived
// (`receive`) and the current time, and returns *effects* for the I/O layer (frames to
// send, dispatches to carry out). Nothing here touches a socket, a timer or a clock, so
// every rule is testable with plain calls (test/link.test.js).
//
// Effects:
//   {type: 'send', frame}                frame to encode and send now
//   {type: 'dispatch', frame}            a new daemon dispatch, once, in order
//   {type: 'ready', sessions, linkId}    identify checked out (a new link identity)
//   {type: 'resumed', replayed}          resume checked out
//   {type: 'acked', s}                   the daemon processed our events up to s
//   {type: 'error', code, message}       the daemon refused a frame (the link stays)
//   {type: 'dead'}                       the daemon has been silent too long: drop the socket
//   {type: 'refused', reason}            event() refused the event ('queue_full', or a
//                                        reason of BAD_EVENT: the daemon would refuse it)
//   {type: 'bad_event', reason, hint, eventType}  the first refusal of a bad event for this reason
//   {type: 'queue_full', unacked, limit} the first refusal of an outage (worth a warning)
//   {type: 'queue_room', refused}        the outage is over: how many events were refused
//
// The events not yet acknowledged are bounded (maxUnacked): refuse new events when full;
// never drop queued ones. Dropping the oldest is not an option: the game already took them
// as sent, and the daemon refuses a gap in the numbering (out_of_order). An outage runs
// from the first refusal until the queue has drained to half the bound (so a queue held at
// the bound by a steady overload does not log a pair of lines per ack). Events renumbered
// on a new link or restored from a state file are never refused, whatever their number:
// new ones are, until the queue drains.

const { PROTOCOL_VERSION, retryAfterClose, decodeFrame, eventProblem, MAX_DEPTH } = require('./codec')

/**
 * Events the daemon would refuse, closing the link (4002, 4012): queued, one would be
 * resent after every reconnection and hold the link down for good, with every event behind
 * it. event() refuses them at the call; each reason with how to fix it.
 */
const BAD_EVENT = {
  bad_sid: 'the session id must be absent or a string of 1 to 64 characters (a number or an empty string is not one): pass the sid of a dispatch as it came',
  bad_data: 'the event data must be a plain object of JSON values (not an array or a string, no BigInt): pass names and ids, not game objects',
  too_big: 'the encoded event is over the daemon\'s 64 KiB frame limit: send a summary',
  too_deep: `the event nests more than ${MAX_DEPTH} levels (the frame and its d count as two), or refers to itself: flatten it`
}

/** Dispatches processed before an ack must go out (otherwise within one tick, 50 ms). */
const ACK_EVERY = 32
/** Seconds to wait before resending events the daemon refused (rate_limited, out_of_order). */
const RESEND_PAUSE = 1.0
/** Our own pace for events, a little under the daemon's 20 per second, bursts of 40. */
const EVENT_RATE = 18
const EVENT_BURST = 36
/** The daemon is dead when it sent nothing for 2 heartbeat intervals + 5 s. */
const SILENCE_GRACE = 5
/**
 * The default bound on events not yet acknowledged (--max-unacked): about an hour of a
 * busy server's events with the daemon away. The bridge is its own process, so memory is
 * cheap (a few MB). The state file holds every waiting event (10,000 chat events are
 * ~1.9 MB); a change appends to its journal whatever the backlog, and the whole file is
 * written again only now and then (state.js). The GMod addon, writing on the game's main
 * thread, keeps 1,000.
 */
const MAX_UNACKED = 10000

/** An event as a snapshot and the state file keep it: {s, d, sid?} (frames also carry `op`). */
function savedEvent (f) {
  return f.sid !== undefined && f.sid !== null ? { s: f.s, d: f.d, sid: f.sid } : { s: f.s, d: f.d }
}

class AdapterLink {
  /**
   * @param {object} o
   * @param {string} o.world        'minecraft' for this bridge
   * @param {string} o.serverId
   * @param {string} o.key          the world key (sent in identify, never in the URL)
   * @param {string[]} o.capabilities  action types this adapter carries out
   * @param {{name: string, version: string}} [o.adapter]
   * @param {'json'|'msgpack'} [o.encoding]
   * @param {() => number} [o.random]  in [0, 1): heartbeat jitter and backoff
   * @param {number} [o.maxUnacked]  the most events kept waiting for the daemon's ack: a
   *   whole number, at least 1 (MAX_UNACKED when undefined); anything else throws a
   *   RangeError, since NaN, Infinity or 0 would make the bound none or refuse every event
   */
  constructor ({ world, serverId, key, capabilities, adapter, encoding = 'msgpack', random, maxUnacked = MAX_UNACKED }) {
    if (!Number.isSafeInteger(maxUnacked) || maxUnacked < 1) {
      throw new RangeError(`AdapterLink maxUnacked must be a whole number, at least 1 (got ${String(maxUnacked)})`)
    }
    this.world = world
    this.serverId = serverId
    this.key = key
    this.capabilities = capabilities
    this.adapter = adapter || { name: 'ae-minecraft-bridge', version: '0.1.0' }
    this.encoding = encoding
    this.random = random || Math.random
    this.linkId = null
    this.resumeToken = null
    this.inS = 0 // last daemon dispatch processed
    this.ackedS = 0 // last dispatch acknowledged to the daemon
    this.outS = 0 // last event sequence number given
    this.unacked = [] // events sent or waiting, not yet acknowledged, in s order
    this.eventsLink = null // the link id the unacked events are numbered on
    this.maxUnacked = maxUnacked
    this.refused = 0 // new events refused in this outage (the queue was full)
    this.full = false // an outage: the queue was full and has not drained to half yet
    this.badEvents = 0 // events refused because the daemon would refuse them (BAD_EVENT)
    this.badLogged = new Set() // the BAD_EVENT reasons reported so far (each once)
    this.sentS = 0 // highest event s sent on the current connection
    this.heartbeatInterval = 15
    this.nextHeartbeat = null
    this.lastHeard = null
    this.ready = false
    this.stopped = false
    this.resendAt = null
    this.tokens = EVENT_BURST
    this.tokensAt = null
  }

  // -- inputs -----------------------------------------------------------------------

  /** A new connection is open (before hello). */
  connected (now) {
    this.ready = false
    this.lastHeard = now
    this.sentS = 0
    this.resendAt = null
    return []
  }

  /** One WebSocket message from the daemon. Throws DecodeError on a malformed frame. */
  receive (data, isBinary, now) {
    const frame = decodeFrame(data, isBinary, this.encoding, 1 << 24)
    this.lastHeard = now
    switch (frame.op) {
      case 'hello': return this._onHello(frame, now)
      case 'ready': return this._onReady(frame, now)
      case 'resumed': return this._onResumed(frame, now)
      case 'dispatch': return this._onDispatch(frame)
      case 'ack':
      case 'heartbeat_ack': {
        const s = frame.op === 'ack' ? frame.d.s : frame.d.ack
        return this._acked(s)
      }
      case 'error': {
        const code = frame.d.code
        if (code === 'rate_limited' || code === 'out_of_order') {
          this.resendAt = now + RESEND_PAUSE // then resend everything unacked, in order
        }
        return [{ type: 'error', code, message: frame.d.message }]
      }
      default:
        return [] // unknown ops are ignored (forward compatibility)
    }
  }

  _onHello (frame, now) {
    const ms = frame.d.heartbeat_interval
    this.heartbeatInterval = typeof ms === 'number' && ms > 0 ? ms / 1000 : 15
    // the first beat is jittered, so restarted servers do not beat in step
    this.nextHeartbeat = now + this.heartbeatInterval * this.random()
    if (this.linkId && this.resumeToken) {
      return [send('resume', { link_id: this.linkId, resume_token: this.resumeToken, last_s: this.inS })]
    }
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

  _onReady (frame, now) {
    this.linkId = frame.d.link_id ?? null
    this.resumeToken = frame.d.resume_token ?? null
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
    // `previous` may have dropped the stored ones
    return [{ type: 'ready', sessions, linkId: this.linkId }, ...this._roomAgain(), ...this._pump(now)]
  }

  /**
   * The unacked events less those ready's `previous` ({link_id, in_s}) says the daemon
   * stored: `in_s` counts events of that link, so it applies only when the unacked
   * events are numbered on it. Without it every one is sent again (one may be stored twice).
   */
  _notStored (previous) {
    if (previous && typeof previous === 'object' && this.eventsLink &&
        previous.link_id === this.eventsLink && Number.isSafeInteger(previous.in_s)) {
      return this.unacked.filter((f) => f.s > previous.in_s)
    }
    return this.unacked
  }

  _onResumed (frame, now) {
    this.ready = true
    this.sentS = this._ackedOut() // the daemon has everything up to its last ack
    this.resendAt = null
    return [{ type: 'resumed', replayed: frame.d.replayed }, ...this._pump(now)]
  }

  _onDispatch (frame) {
    if (frame.s === undefined) return []
    if (frame.s <= this.inS) return [this._ack()] // a replay of one we ran: ack it again
    this.inS = frame.s
    const out = [{ type: 'dispatch', frame }]
    if (this.inS - this.ackedS >= ACK_EVERY) out.push(this._ack())
    return out
  }

  _acked (s) {
    if (typeof s !== 'number' || !Number.isInteger(s)) return []
    let n = 0
    while (n < this.unacked.length && this.unacked[n].s <= s) n++
    if (n === 0) return []
    this.unacked.splice(0, n)
    return [{ type: 'acked', s }, ...this._roomAgain()]
  }

  /** The outage ends once the queue has drained to half the bound. */
  _roomAgain () {
    if (!this.full || this.unacked.length > Math.floor(this.maxUnacked / 2)) return []
    const refused = this.refused
    this.full = false
    this.refused = 0
    return [{ type: 'queue_room', refused }]
  }

  /** The last event s the daemon acknowledged (everything before the first unacked). */
  _ackedOut () {
    return this.unacked.length > 0 ? this.unacked[0].s - 1 : this.outS
  }

  _ack () {
    this.ackedS = this.inS
    return send('ack', { s: this.inS })
  }

  _sequence (d, sid) {
    this.outS += 1
    const frame = { op: 'event', d, s: this.outS }
    if (sid !== undefined && sid !== null) frame.sid = sid
    this.unacked.push(frame)
    return frame
  }

  /** Send waiting events in order, within our own rate (never during a resend pause). */
  _pump (now) {
    if (!this.ready || this.resendAt !== null) return []
    this._refill(now)
    const out = []
    for (const frame of this.unacked) {
      if (frame.s <= this.sentS) continue
      if (this.tokens < 1) break
      this.tokens -= 1
      this.sentS = frame.s
      out.push({ type: 'send', frame })
    }
    return out
  }

  _refill (now) {
    if (this.tokensAt !== null) {
      this.tokens = Math.min(EVENT_BURST, this.tokens + (now - this.tokensAt) * EVENT_RATE)
    }
    this.tokensAt = now
  }

  /**
   * Queue an event: sent now when the link is ready (and within rate), else later. When
   * maxUnacked events wait for the daemon's ack it is refused instead (the effects hold
   * {type: 'refused', reason: 'queue_full'}, and 'queue_full' at the first refusal of an
   * outage): refuse new events when full; never drop queued ones. An event the daemon
   * would refuse (BAD_EVENT) is refused too ({type: 'refused', reason}, and 'bad_event'
   * at the first refusal for its reason): it takes no sequence number, changes nothing.
   */
  event (d, sid, now) {
    const bad = eventProblem(d, sid, this.encoding)
    if (bad !== null) {
      this.badEvents += 1
      const out = [{ type: 'refused', reason: bad }]
      if (!this.badLogged.has(bad)) {
        this.badLogged.add(bad)
        out.push({ type: 'bad_event', reason: bad, hint: BAD_EVENT[bad], eventType: typeof d?.type === 'string' ? d.type : undefined })
      }
      return out
    }
    if (this.unacked.length >= this.maxUnacked) {
      this.refused += 1
      const out = [{ type: 'refused', reason: 'queue_full' }]
      if (!this.full) {
        this.full = true
        out.push({ type: 'queue_full', unacked: this.unacked.length, limit: this.maxUnacked })
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
   */
  tick (now) {
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

  /** An ack for dispatches processed but not yet acknowledged, if any. */
  flushAcks () {
    return this.ready && this.inS > this.ackedS ? [this._ack()] : []
  }

  /** What to do after the link closed with `code`: 'resume', 'identify' or 'stop'. */
  closed (code) {
    this.ready = false
    this.resendAt = null
    this.lastHeard = null
    const action = retryAfterClose(code)
    if (action === 'identify') this.linkId = this.resumeToken = null
    if (action === 'stop') this.stopped = true
    return action
  }

  /**
   * What a restarted bridge needs to resume this link: its identity, the last dispatch
   * processed, the events the daemon has not acknowledged and the link they are numbered
   * on. After a 4009 there is no identity to resume, only those events (the next start
   * identifies naming their link; events queued before any ready are on none). Null when
   * there is neither.
   */
  snapshot () {
    const view = this.view()
    if (view === null) return null
    return {
      ...view,
      unacked: view.unacked.map(savedEvent)
    }
  }

  /**
   * What snapshot() says, without copying the events: `unacked` is the link's own array
   * (for the state file, which tells the events it already holds by identity, so a change
   * costs the same whatever the backlog). Read it, never change it.
   */
  view () {
    const linked = Boolean(this.linkId && this.resumeToken)
    if (!linked && this.unacked.length === 0) return null
    return {
      ...(linked ? { linkId: this.linkId, resumeToken: this.resumeToken } : {}),
      eventsLink: this.eventsLink,
      inS: this.inS,
      outS: this.outS,
      unacked: this.unacked
    }
  }

  /**
   * Take up a snapshot (a bridge restart): the next connection resumes instead of
   * identifying; one without a link identity (taken after a 4009) identifies, naming the
   * link its unacknowledged events are numbered on, so ready's `previous` still applies.
   */
  restore (state) {
    const whole = (n) => Number.isSafeInteger(n) && n >= 0
    if (!state || !whole(state.inS) || !whole(state.outS)) return false
    const linked = typeof state.linkId === 'string' && typeof state.resumeToken === 'string'
    const eventsLink = typeof state.eventsLink === 'string' ? state.eventsLink : linked ? state.linkId : null
    if (!linked && state.linkId !== undefined) return false
    this.linkId = linked ? state.linkId : null
    this.resumeToken = linked ? state.resumeToken : null
    this.eventsLink = eventsLink
    this.inS = this.ackedS = state.inS
    this.outS = state.outS
    this.unacked = (Array.isArray(state.unacked) ? state.unacked : [])
      .filter((f) => f && whole(f.s) && f.s <= state.outS && f.d && typeof f.d === 'object')
      .map((f) => ({ op: 'event', d: f.d, s: f.s, ...(typeof f.sid === 'string' ? { sid: f.sid } : {}) }))
    return true
  }

  /** Seconds before reconnection `attempt` (0-based): 1, 2, 4 ... 60, times [0.5, 1). */
  backoff (attempt) {
    return Math.min(60, 2 ** Math.min(attempt, 6)) * (0.5 + 0.5 * this.random())
  }
}

function send (op, d) {
  return { type: 'send', frame: { op, d } }
}

module.exports = { AdapterLink, savedEvent, BAD_EVENT, ACK_EVERY, RESEND_PAUSE, EVENT_RATE, EVENT_BURST, SILENCE_GRACE, MAX_UNACKED }
