'use strict'
// The link's I/O: a WebSocket (the `ws` package) to the daemon, the AdapterLink state
// machine, a 50 ms tick, and reconnection with backoff following the close code
// (resume, identify again, or stop for good after a bad key).
//
// The daemon may be several nodes of one cluster: `url` is then a list (an array, or one
// string with the addresses separated by commas), or one load-balanced address. When a
// node goes away (no close handshake, no connection, or 1001) the next connection goes
// to the next address, round robin, and resumes the same link there (the nodes keep the
// link in PostgreSQL, so any node takes the resume); other closes retry the same
// address. The backoff grows with failed attempts in a row, whichever address they went to.

const { EventEmitter } = require('node:events')
const WebSocket = require('ws')
const { AdapterLink } = require('./link')
const { CLOSE, DecodeError, encodeFrame } = require('./codec')
const { parseUrls } = require('./urls')

const TICK_MS = 50
// Close codes after which the next URL is tried: the node went away (1006: no close
// handshake, or no connection at all; 1001: stopping, or the link is held elsewhere).
const NEXT_NODE = new Set([1001, 1006])

function monotonic () {
  return performance.now() / 1000
}

/**
 * Events: 'dispatch' (frame), 'ready' ({sessions, linkId}), 'resumed' ({replayed}),
 * 'connected', 'closed' ({code, reason, decision}), 'stopped' ({code}), 'error' (err),
 * 'daemon_error' ({code, message}: an `error` frame) and 'state' (the link's state
 * changed: what a restarted bridge needs to resume, see state.js).
 */
class BridgeConnection extends EventEmitter {
  /**
   * @param {object} o
   * @param {string|string[]} o.url  the daemon's WebSocket base, e.g. ws://127.0.0.1:3002/ws,
   *                                  or several nodes' (an array, or separated by commas)
   * @param {string} o.key
   * @param {string} o.serverId
   * @param {string[]} o.capabilities
   * @param {'json'|'msgpack'} [o.encoding]
   * @param {string} [o.world]
   * @param {number} [o.maxBackoff]   seconds (60 by PROTOCOL.md; tests use less)
   * @param {object} [o.adapter]      {name, version} sent in identify
   * @param {object} [o.log]
   * @param {number} [o.maxUnacked]   the most events kept for the daemon (link.js MAX_UNACKED)
   */
  constructor ({ url, key, serverId, capabilities, encoding = 'msgpack', world = 'minecraft',
    maxBackoff = 60, adapter, log, random, maxUnacked } = {}) {
    super()
    this.urls = parseUrls(url).map((u) => `${u}${u.includes('?') ? '&' : '?'}encoding=${encoding}`)
    if (this.urls.length === 0) throw new TypeError('BridgeConnection needs a daemon URL')
    this.urlIndex = 0
    this.encoding = encoding
    this.maxBackoff = maxBackoff
    this.log = log || require('./log').createLogger('warn')
    this.link = new AdapterLink({ world, serverId, key, capabilities, adapter, encoding, random, maxUnacked })
    this.ws = null
    this.attempt = 0
    this.connections = 0
    this.lastClose = null
    this._stopping = false
    this._timer = null
    this._retry = null
  }

  /** The address the current (or next) connection uses. */
  get url () {
    return this.urls[this.urlIndex]
  }

  get ready () {
    return this.link.ready
  }

  /** Connect and hold the link until stop() or a close that says stop. */
  start () {
    this._stopping = false
    this._connect()
    return this
  }

  _connect () {
    if (this._stopping || this.link.stopped) return
    this._retry = null
    let ws
    try {
      ws = new WebSocket(this.url, { perMessageDeflate: false, handshakeTimeout: 10000, maxPayload: 0 })
    } catch (err) {
      this.log.error('link.bad_url', { url: this.url, error: err.message })
      this.emit('error', err)
      return
    }
    this.ws = ws
    this.link.connected(monotonic())
    let opened = false
    ws.on('open', () => {
      opened = true
      this.connections += 1
      this.log.info('link.connected', { url: this.url })
      this.emit('connected')
    })
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return
      let effects
      try {
        effects = this.link.receive(data, isBinary, monotonic())
      } catch (err) {
        if (err instanceof DecodeError) {
          this.log.warn('link.bad_frame', { error: err.message })
          ws.close(CLOSE.DECODE_ERROR, 'undecodable frame')
          return
        }
        throw err
      }
      this._apply(ws, effects)
    })
    ws.on('error', (err) => {
      // why the daemon cannot be reached (refused, DNS, TLS, HTTP status) is worth a line
      if (!opened) this.log.info('link.connect_failed', { url: this.url, error: err.message, code: err.code })
      else this.log.info('link.socket_error', { error: err.message, code: err.code })
    })
    ws.on('close', (code, reason) => this._closed(ws, code, reason.toString()))
    if (this._timer === null) {
      this._timer = setInterval(() => this._tick(), TICK_MS)
      this._timer.unref?.()
    }
  }

  _tick () {
    const ws = this.ws
    if (ws === null || ws.readyState !== WebSocket.OPEN) return
    this._apply(ws, this.link.tick(monotonic()))
  }

  /** Carry out the link's effects (`ws` null: no connection, nothing is sent). */
  _apply (ws, effects) {
    let changed = false
    for (const effect of effects) {
      // a refused event changes nothing: no state file write for it
      if (effect.type !== 'refused' && effect.type !== 'queue_full' && effect.type !== 'bad_event') changed = true
      switch (effect.type) {
        case 'send':
          if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(effect.frame, this.encoding))
          break
        case 'queue_full':
          this.log.warn('link.queue_full', {
            unacked: effect.unacked,
            limit: effect.limit,
            hint: 'the daemon has not acknowledged these events (is it away?): new events are refused until it does; none waiting is dropped (--max-unacked)'
          })
          break
        case 'bad_event':
          this.log.warn('link.bad_event', {
            reason: effect.reason,
            event_type: effect.eventType,
            hint: `${effect.hint}; the event was refused (sendEvent returned false), nothing was queued; later refusals for this reason are not logged`
          })
          break
        case 'queue_room':
          this.log.info('link.queue_room', { refused: effect.refused }) // good news: warn is for the full queue
          break
        case 'dispatch':
          this._safeEmit('dispatch', effect.frame)
          break
        case 'ready':
          this.attempt = 0
          this.log.info('link.ready', { link_id: effect.linkId, sessions: effect.sessions.length })
          this._safeEmit('ready', { sessions: effect.sessions, linkId: effect.linkId })
          break
        case 'resumed':
          this.attempt = 0
          this.log.info('link.resumed', { replayed: effect.replayed })
          this._safeEmit('resumed', { replayed: effect.replayed })
          break
        case 'error':
          this.log.warn('link.refused', { code: effect.code, message: effect.message })
          this._safeEmit('daemon_error', { code: effect.code, message: effect.message })
          break
        case 'dead':
          this.log.warn('link.daemon_silent', {})
          ws.terminate()
          break
        default:
          break
      }
    }
    if (changed) this._changed()
  }

  _changed () {
    this._safeEmit('state', null)
  }

  /** A handler that throws must not take the link down. */
  _safeEmit (name, value) {
    try {
      this.emit(name, value)
    } catch (err) {
      this.log.error('link.handler_failed', { event: name, error: err.stack || String(err) })
    }
  }

  _closed (ws, code, reason) {
    if (this.ws !== ws) return
    this.ws = null
    this.lastClose = code
    const decision = this.link.closed(code)
    this.log.info('link.closed', { code, reason, decision })
    this._safeEmit('closed', { code, reason, decision })
    if (decision === 'identify') this._changed() // the link is refused: none to resume
    if (this._stopping) return this._halt()
    if (decision === 'stop') {
      this.log.error('link.stopped', {
        code,
        reason,
        hint: code === CLOSE.AUTH_FAILED ? 'the world key is bad, revoked or for another world' : undefined
      })
      this._halt()
      this._safeEmit('stopped', { code, reason })
      return
    }
    const delay = Math.min(this.link.backoff(this.attempt), this.maxBackoff)
    this.attempt += 1
    if (NEXT_NODE.has(code)) this.urlIndex = (this.urlIndex + 1) % this.urls.length // another node takes the link
    this.log.info('link.retrying', { in_s: Math.round(delay * 10) / 10, next: decision, url: this.url })
    this._retry = setTimeout(() => this._connect(), delay * 1000)
  }

  _halt () {
    if (this._timer !== null) clearInterval(this._timer)
    if (this._retry !== null) clearTimeout(this._retry)
    this._timer = this._retry = null
  }

  /**
   * Queue an event (kept until the daemon acknowledges it; resent after a resume). Returns
   * true, or false when it was refused: --max-unacked events wait for the daemon's ack
   * (refuse new events when full; never drop queued ones; a warning is logged once), or
   * the daemon would refuse the event and close the link over it (a sid that is not a
   * string of 1 to 64 characters, data that is no plain object, over 64 KiB encoded or
   * nested deeper than 32: link.BAD_EVENT; one link.bad_event warning per reason). A
   * refused event is not queued, numbered or written to the state file.
   */
  sendEvent (d, sid) {
    const effects = this.link.event(d, sid, monotonic())
    this._apply(this.ws, effects) // saves the state when the event went out now
    if (effects.some((e) => e.type === 'refused')) return false
    if (effects.length === 0) this._changed() // queued for later: saved all the same
    return true
  }

  /** Cut the connection without a closing handshake (a network failure). */
  drop () {
    if (this.ws !== null) this.ws.terminate()
  }

  /** Close with 1000 and stop reconnecting. Resolves once the socket is closed. */
  stop (code = CLOSE.NORMAL, reason = 'bridge shutting down') {
    this._stopping = true
    this._halt()
    const ws = this.ws
    if (ws === null || ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      const done = setTimeout(() => { ws.terminate(); resolve() }, 2000)
      ws.once('close', () => { clearTimeout(done); resolve() })
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
      else ws.close(code, reason)
    })
  }
}

module.exports = { BridgeConnection, monotonic, TICK_MS }
