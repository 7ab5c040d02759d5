// @ts-check
// The web world in the browser: sign-in, the room (where every tab of this server meets),
// the canvas, the keyboard, the chat box and, in the host tab, the server's link to the
// daemon (link.js over the browser's WebSocket). See encounters_bridge/play.py for the
// design and the credentials: this page never sees a world key, only single-use passes.

import { AdapterLink } from './link.js'
import { DecodeError, CLOSE, encodeFrame } from './codec.js'
import { World, CAPABILITIES } from './world.js'
import { Voices } from './voice.js'
import { list, loadMessages, t, tn } from './i18n.js'

const KEY = 'ae-studio-key' // the studio's sign-in, shared when the tab came from it
const TICK_MS = 50
const MOVE_EVERY = 0.1 // seconds between position reports to the room
const SHARE_EVERY = 0.15 // seconds between the host's companion reports
const REJOIN_MS = 2000 // after the room closed under us (a daemon restart)
const MAX_BACKOFF = 10 // seconds: a browser game retries sooner than PROTOCOL.md's 60
const now = () => performance.now() / 1000

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))
const server = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop() || '')

/** @param {string} text */
function status (text) {
  $('status').textContent = text
}

class PassError extends Error {
  /** @param {string} message @param {number} status */
  constructor (message, status) {
    super(message)
    this.status = status
  }
}

/** Passes into this server's room and link for the signed-in key. @param {string} key */
async function getPasses (key) {
  const res = await fetch(`/web-world/${encodeURIComponent(server)}/passes`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}` }
  })
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new PassError(body?.error?.message ?? `HTTP ${res.status}`, res.status)
  return body
}

/** The server's link: AdapterLink's effects carried out over a WebSocket, with reconnection. */
class LinkIO {
  /**
   * @param {object} o
   * @param {string} o.wsUrl
   * @param {string} o.pass         a link pass for the first identify
   * @param {() => Promise<string>} o.freshPass  another one, for identifying again
   * @param {(frame: import('./codec.js').Frame) => void} o.onDispatch
   * @param {(sessions: any[]) => void} o.onReady
   * @param {(state: string) => void} o.onState
   */
  constructor ({ wsUrl, pass, freshPass, onDispatch, onReady, onState }) {
    this.wsUrl = wsUrl
    this.freshPass = freshPass
    this.onDispatch = onDispatch
    this.onReady = onReady
    this.onState = onState
    this.link = new AdapterLink({ serverId: server, key: pass, capabilities: CAPABILITIES })
    /** @type {WebSocket | null} */
    this.ws = null
    this.attempt = 0
    this.passUsed = false
    this.timer = setInterval(() => this.apply(this.link.tick(now())), TICK_MS)
  }

  async connect () {
    if (this.link.stopped) return
    if (this.passUsed && !this.link.linkId) {
      try {
        this.link.key = await this.freshPass() // passes are single-use
      } catch (err) {
        this.onState(t('cannot get a new link pass: {error}', { error: err instanceof Error ? err.message : String(err) }))
        return this.retry()
      }
    }
    const ws = new WebSocket(this.wsUrl)
    this.ws = ws
    this.link.connected(now())
    this.onState(t('connecting'))
    ws.addEventListener('message', (e) => {
      if (this.ws !== ws) return
      try {
        this.apply(this.link.receive(e.data, now()))
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err
        ws.close(CLOSE.DECODE_ERROR, 'undecodable frame')
      }
    })
    ws.addEventListener('close', (e) => {
      if (this.ws !== ws) return
      this.ws = null
      const decision = this.link.closed(e.code)
      if (decision === 'stop') {
        this.onState(t('stopped ({code} {reason})', { code: e.code, reason: e.reason }))
        return
      }
      this.onState(decision === 'resume'
        ? t('closed ({code}), will resume', { code: e.code })
        : t('closed ({code}), will identify again', { code: e.code }))
      this.retry()
    })
  }

  retry () {
    const delay = Math.min(this.link.backoff(this.attempt), MAX_BACKOFF)
    this.attempt += 1
    setTimeout(() => { this.connect() }, delay * 1000)
  }

  /** @param {import('./link.js').Effect[]} effects */
  apply (effects) {
    const ws = this.ws
    for (const effect of effects) {
      if (effect.type === 'send') {
        if (ws && ws.readyState === WebSocket.OPEN) {
          if (effect.frame.op === 'identify') this.passUsed = true
          ws.send(encodeFrame(effect.frame))
        }
      } else if (effect.type === 'dispatch') {
        this.onDispatch(effect.frame)
      } else if (effect.type === 'ready') {
        this.attempt = 0
        this.onState(t('linked'))
        this.onReady(effect.sessions)
      } else if (effect.type === 'resumed') {
        this.attempt = 0
        this.onState(t('linked (resumed)'))
      } else if (effect.type === 'dead' && ws) {
        ws.close(4000, 'the daemon went silent')
      } else if (effect.type === 'log') {
        console[effect.level](`ae link: ${effect.message}`)
      }
    }
  }

  /** Leave for good: close the socket and stop reconnecting (the daemon keeps the link's
   * undelivered dispatches for the server's next link). */
  stop () {
    this.link.stopped = true
    clearInterval(this.timer)
    const ws = this.ws
    this.ws = null
    if (ws) ws.close(CLOSE.NORMAL, 'the tab left the room')
  }

  /**
   * Queue an event for the daemon. False when it was refused: the queue of events the
   * daemon has not acknowledged is full (logged once per outage, see link.js), or the
   * daemon could not read the event (logged each time: what is wrong and how to fix it).
   * @param {Record<string, any>} d @param {string} [sid] @returns {boolean}
   */
  event (d, sid) {
    const effects = this.link.event(d, sid, now())
    this.apply(effects)
    return !effects.some((e) => e.type === 'refused' || e.type === 'invalid')
  }
}

// -- the game ------------------------------------------------------------------------------

/** @param {string} key @param {any} passes */
function play (key, passes) {
  $('game').hidden = false
  const world = new World({ width: 800, height: 600 })
  /** @type {string | null} */
  let me = null
  let host = false
  /** @type {LinkIO | null} */
  let link = null
  let linkState = 'none'
  let left = false // the room closed: this tab is out of the game
  const pressed = new Set()
  const voices = new Voices({
    shelf: $('voices'),
    onSpeaking: (names) => {
      const who = names.filter(Boolean)
      $('speaking').textContent = who.length ? tn('{names} is speaking', '{names} are speaking', who.length, { names: list(who) }) : ''
    }
  })
  const muteButton = $('voice-mute')
  const volume = /** @type {HTMLInputElement} */ ($('voice-volume'))
  muteButton.setAttribute('aria-pressed', String(voices.muted))
  volume.value = String(Math.round(voices.volume * 100))
  muteButton.addEventListener('click', () => {
    voices.setMuted(!voices.muted)
    muteButton.setAttribute('aria-pressed', String(voices.muted))
  })
  volume.addEventListener('input', () => voices.setVolume(Number(volume.value) / 100))
  const listener = () => (me ? world.players.get(me) : undefined)

  const roomUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/web-world/${encodeURIComponent(server)}/room`
  const room = new WebSocket(roomUrl)
  /** @param {object} message */
  const tell = (message) => { if (room.readyState === WebSocket.OPEN) room.send(JSON.stringify(message)) }
  room.addEventListener('open', () => tell({ t: 'join', token: passes.roomPass }))
  room.addEventListener('close', (e) => {
    left = true
    link?.stop() // a tab outside the room speaks for nobody
    if (e.code >= 4000 && e.code < 4100) {
      status(t('the room refused this tab ({code} {reason}): reload to play again', { code: e.code, reason: e.reason }))
      return
    }
    // the daemon went away (a restart): join again with fresh passes, as a new tab would
    status(t('the room closed ({code}): joining again…', { code: e.code }))
    const rejoin = () => {
      fetch('/health').then((r) => r.ok ? location.reload() : Promise.reject(new Error('not yet')))
        .catch(() => setTimeout(rejoin, REJOIN_MS))
    }
    setTimeout(rejoin, REJOIN_MS)
  })
  room.addEventListener('message', (e) => {
    let m
    try { m = JSON.parse(e.data) } catch { return }
    heard(m)
  })

  function showStatus () {
    if (left) return
    const who = me ? world.players.get(me)?.name : '...'
    status([
      t('{player} in {server}', { player: who ?? '...', server }),
      tn('{count} player here', '{count} players here', world.players.size),
      host ? t('hosting the link: {state}', { state: linkState }) : t('guest')
    ].join(' · '))
  }

  /** @param {string} who @param {string} text @param {string} kind */
  function log (who, text, kind) {
    const li = document.createElement('li')
    li.className = kind
    li.textContent = who ? `${who}: ${text}` : text
    $('chat-log').append(li)
    li.scrollIntoView({ block: 'nearest' })
  }

  /** The one companion, when there is exactly one (the companion a chat line addresses). */
  function addressed () {
    return world.companions.size === 1 ? [...world.companions.keys()][0] : undefined
  }

  /** @param {any} m a room message */
  function heard (m) {
    switch (m.t) {
      case 'welcome':
        me = m.you
        for (const p of m.players) world.setPlayer(p)
        for (const c of m.companions) shown(c)
        if (m.host) becomeHost(passes.linkPass)
        break
      case 'host':
        getPasses(key).then((p) => becomeHost(p.linkPass), (err) => status(t('cannot host: {error}', { error: err.message })))
        break
      case 'join':
        world.setPlayer(m.player)
        log('', t('{name} joined', { name: m.player.name }), 'system')
        link?.event({ type: 'player_join', player: { id: m.player.id, name: m.player.name } })
        break
      case 'leave':
        world.players.delete(m.id)
        log('', t('{name} left', { name: m.player.name }), 'system')
        link?.event({ type: 'player_leave', player: { id: m.id, name: m.player.name } })
        break
      case 'player':
        if (m.id !== me) world.setPlayer(m)
        break
      case 'chat':
        log(m.from.name, m.text, 'player')
        link?.event({ type: 'player_chat', player: { id: m.from.id, name: m.from.name }, message: m.text }, addressed())
        break
      case 'refused':
        log('', t('Your message was not sent: the chat filter blocked it.'), 'system')
        break
      case 'companions':
        if (!host) {
          const keep = new Set(m.list.map((/** @type {any} */ c) => c.sid))
          for (const sid of [...world.companions.keys()]) if (!keep.has(sid)) world.despawn(sid)
          for (const c of m.list) shown(c)
        }
        break
      case 'say':
        if (!world.companions.has(m.sid)) shown({ sid: m.sid, name: m.name, x: 400, y: 300, facing: 0 })
        world.say(m.sid, m.text, now())
        log(m.name, m.text, 'companion')
        if (m.audio && typeof m.audio.url === 'string') {
          const c = world.companions.get(m.sid)
          if (c) voices.play(m.sid, m.name, m.audio, listener(), c)
        }
        break
      case 'emote':
        world.showEmote(m.sid, m.name, now())
        break
      case 'gone':
        voices.silence(m.sid)
        world.despawn(m.sid)
        break
    }
    showStatus()
  }

  /** A companion as the host reported it. @param {any} c */
  function shown (c) {
    const old = world.companions.get(c.sid)
    if (!old) world.spawn(c.sid, { name: c.name }, { x: c.x, z: c.y })
    const it = world.companions.get(c.sid)
    if (it) Object.assign(it, { x: c.x, y: c.y, facing: c.facing })
  }

  /** This tab holds the server's link from now on. @param {string} pass */
  function becomeHost (pass) {
    if (link) return
    host = true
    let greeted = false
    link = new LinkIO({
      wsUrl: passes.wsUrl,
      pass,
      freshPass: async () => (await getPasses(key)).linkPass,
      onState: (s) => { linkState = s; showStatus() },
      onReady: (sessions) => {
        for (const s of sessions) world.spawn(s.sid, s.persona ?? {}, s.location ?? {})
        if (!greeted) {
          greeted = true
          for (const p of world.players.values()) link?.event({ type: 'player_join', player: { id: p.id, name: p.name } })
        }
      },
      onDispatch: (frame) => dispatched(frame)
    })
    link.connect()
  }

  /** One dispatch from the daemon, in order, once. @param {import('./codec.js').Frame} frame */
  function dispatched (frame) {
    const d = frame.d
    const sid = frame.sid ?? d.sid
    if (typeof sid !== 'string') return
    if (d.type === 'spawn') {
      world.spawn(sid, d.persona ?? {}, d.location ?? {})
      link?.event({ type: 'spawned', entity: `web-${sid}` }, sid)
    } else if (d.type === 'despawn') {
      world.despawn(sid)
    } else if (d.type === 'action' && d.action && typeof d.action === 'object') {
      const action = d.action
      const outcome = world.apply(sid, action, now())
      if (!outcome.ok) {
        link?.event({ type: 'action_failed', action_id: action.id, reason: outcome.reason }, sid)
      } else if (outcome.done) {
        link?.event({ type: 'action_done', action_id: action.id, ...(outcome.detail ? { detail: outcome.detail } : {}) }, sid)
      }
    }
  }

  // keyboard, chat box, the loop
  const keys = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1], a: [-1, 0], d: [1, 0], w: [0, -1], s: [0, 1] }
  window.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement) return
    if (e.key in keys) { pressed.add(e.key); e.preventDefault() }
  })
  window.addEventListener('keyup', (e) => pressed.delete(e.key))
  window.addEventListener('blur', () => pressed.clear())
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const input = /** @type {HTMLInputElement} */ ($('chat'))
    const text = input.value.trim()
    if (text) tell({ t: 'chat', text })
    input.value = ''
  })

  let last = now()
  let movedAt = 0
  let sharedAt = 0
  let moved = false
  setInterval(() => {
    const t = now()
    const dt = Math.min(t - last, 0.25)
    last = t
    if (me) {
      let dx = 0
      let dy = 0
      for (const k of pressed) { dx += keys[/** @type {keyof keys} */ (k)][0]; dy += keys[/** @type {keyof keys} */ (k)][1] }
      if (world.walk(me, dx, dy, dt)) moved = true
      if (moved && t - movedAt >= MOVE_EVERY) {
        const p = world.players.get(me)
        if (p) tell({ t: 'move', x: p.x, y: p.y })
        movedAt = t
        moved = false
      }
    }
    for (const arrived of world.step(dt, t)) {
      link?.event({ type: 'action_done', action_id: arrived.actionId, detail: 'arrived' }, arrived.sid)
    }
    if (host && t - sharedAt >= SHARE_EVERY) {
      sharedAt = t
      tell({ t: 'companions', list: [...world.companions.values()].map((c) => ({ sid: c.sid, x: c.x, y: c.y, facing: c.facing })) })
    }
    voices.follow((sid) => world.companions.get(sid), listener())
    lists()
  }, TICK_MS)

  /** The DOM's view of who is where (for screen readers, and what tests read). */
  function lists () {
    const players = [...world.players.values()].map((p) => t('{name} at {x}, {y}', { name: p.id === me ? t('{name} (you)', { name: p.name }) : p.name, x: Math.round(p.x), y: Math.round(p.y) }))
    const companions = [...world.companions.values()].map((c) => t('{name} at {x}, {y} facing {direction}', { name: c.name, x: Math.round(c.x), y: Math.round(c.y), direction: t(compass(c.facing)) }) +
      `${c.emote ? ` *${c.emote.name}*` : ''}${c.bubble ? `: “${c.bubble.text}”` : ''}`)
    fill('players', players)
    fill('companions', companions)
  }

  /** @param {string} id @param {string[]} lines */
  function fill (id, lines) {
    const ul = $(id)
    if (ul.children.length === lines.length && lines.every((l, i) => ul.children[i].textContent === l)) return
    ul.replaceChildren(...lines.map((l) => { const li = document.createElement('li'); li.textContent = l; return li }))
  }

  const canvas = /** @type {HTMLCanvasElement} */ ($('map'))
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'))
  function draw () {
    ctx.clearRect(0, 0, canvas.width, canvas.height)
    ctx.strokeStyle = 'rgba(255,255,255,0.08)'
    for (let x = 0; x <= canvas.width; x += 40) { ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, canvas.height); ctx.stroke() }
    for (let y = 0; y <= canvas.height; y += 40) { ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(canvas.width, y); ctx.stroke() }
    ctx.font = '13px system-ui, sans-serif'
    ctx.textAlign = 'center'
    for (const p of world.players.values()) {
      ctx.fillStyle = p.id === me ? '#4fa3ff' : '#ffb74d'
      ctx.beginPath(); ctx.arc(p.x, p.y, 11, 0, Math.PI * 2); ctx.fill()
      ctx.fillStyle = '#fff'
      ctx.fillText(p.name, p.x, p.y + 26)
    }
    for (const c of world.companions.values()) {
      ctx.fillStyle = '#b388ff'
      ctx.fillRect(c.x - 10, c.y - 10, 20, 20)
      ctx.strokeStyle = '#fff'
      ctx.beginPath(); ctx.moveTo(c.x, c.y); ctx.lineTo(c.x + Math.cos(c.facing) * 16, c.y + Math.sin(c.facing) * 16); ctx.stroke()
      ctx.fillStyle = '#fff'
      ctx.fillText(c.name, c.x, c.y + 26)
      if (c.emote) { ctx.fillStyle = '#ffe082'; ctx.fillText(`*${c.emote.name}*`, c.x, c.y - 16) }
      if (c.bubble) bubble(c.bubble.text, c.x, c.y - (c.emote ? 32 : 18))
    }
    requestAnimationFrame(draw)
  }

  /** A speech bubble above (x, y). @param {string} text @param {number} x @param {number} y */
  function bubble (text, x, y) {
    const line = text.length > 48 ? text.slice(0, 47) + '…' : text
    const w = ctx.measureText(line).width + 16
    const left = Math.min(Math.max(x - w / 2, 2), canvas.width - w - 2)
    ctx.fillStyle = 'rgba(255,255,255,0.95)'
    ctx.beginPath(); ctx.roundRect(left, y - 26, w, 22, 8); ctx.fill()
    ctx.beginPath(); ctx.moveTo(x - 5, y - 4); ctx.lineTo(x + 5, y - 4); ctx.lineTo(x, y + 3); ctx.fill()
    ctx.fillStyle = '#222'
    ctx.fillText(line, left + w / 2, y - 10)
  }
  requestAnimationFrame(draw)
  canvas.focus()
}

const DIRECTIONS = ['east', 'south-east', 'south', 'south-west', 'west', 'north-west', 'north', 'north-east']

/** One of 8 directions for an angle on the map (y grows southwards). @param {number} angle */
function compass (angle) {
  const turn = ((angle % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)
  return DIRECTIONS[Math.round(turn / (Math.PI / 4)) % 8]
}

// -- sign-in -------------------------------------------------------------------------------

/** @param {string} [error] */
function signIn (error) {
  $('signin').hidden = false
  $('signin-error').textContent = error ?? ''
  status(t('sign in to play'))
}

/** @param {string} key */
async function start (key) {
  try {
    const passes = await getPasses(key)
    $('signin').hidden = true
    play(key, passes)
  } catch (err) {
    if (err instanceof PassError && (err.status === 401 || err.status === 403)) {
      sessionStorage.removeItem(KEY)
      signIn(t('that key was not accepted: {error}', { error: err.message }))
    } else {
      status(t('cannot join {server}: {error}', { server, error: err instanceof Error ? err.message : String(err) }))
    }
  }
}

await loadMessages()
$('server').textContent = server
$('signin-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const key = /** @type {HTMLInputElement} */ ($('key')).value.trim()
  if (!key) return
  sessionStorage.setItem(KEY, key)
  start(key)
})
const saved = sessionStorage.getItem(KEY)
if (saved) start(saved)
else signIn()
