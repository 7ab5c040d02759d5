'use strict'
// Events from the game to the daemon (PROTOCOL.md, "Events").
//
// Per companion: health (when it changes, at most one a second), companion_damaged,
// death. For the world: player_chat, player_join and player_leave, seen by one companion
// (the *observer*: the oldest companion in the game) so each is reported once however many
// companions hear it. A chat that names a companion (its username or persona name), or a
// whisper to one, carries that companion's `sid`.

const HEALTH_EVERY_MS = 1000
const FIRST_LIST_GRACE_MS = 2000 // a new observer's initial player list is not "joins"

/** Plain text of a chat component, a JSON string or an NBT-ish object (kick reasons). */
function textOf (value) {
  if (value === null || value === undefined) return ''
  if (typeof value === 'string') {
    const trimmed = value.trim()
    if (trimmed.startsWith('{') || trimmed.startsWith('[') || trimmed.startsWith('"')) {
      try {
        return textOf(JSON.parse(trimmed))
      } catch {}
    }
    return value
  }
  if (Array.isArray(value)) return value.map(textOf).join('')
  if (typeof value === 'object') {
    if (typeof value.toString === 'function' && value.toString !== Object.prototype.toString) {
      const s = value.toString()
      if (s && s !== '[object Object]') return s
    }
    if ('value' in value && 'type' in value) return textOf(value.value) // NBT tag
    let out = ''
    if (value.text !== undefined) out += textOf(value.text)
    else if (value.translate !== undefined) out += textOf(value.translate)
    if (value.extra !== undefined) out += textOf(value.extra)
    if (value[''] !== undefined) out += textOf(value[''])
    return out
  }
  return String(value)
}

function escapeRegExp (text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Watch one companion's own state: health, damage, death. */
function watchCompanion (c) {
  const bot = c.bot
  let last = null
  let timer = null
  let lastSent = 0
  const sendHealth = () => {
    timer = null
    lastSent = Date.now()
    last = { health: Math.round(bot.health ?? 0), food: Math.round(bot.food ?? 0) }
    c.manager.emitEvent({ type: 'health', health: last.health, food: last.food }, c.sid)
  }
  let previous = null
  bot.on('health', () => {
    if (c.state !== 'live') return
    const health = bot.health ?? 0
    if (previous !== null && health < previous) {
      c.manager.emitEvent({ type: 'companion_damaged', amount: Math.round((previous - health) * 10) / 10 }, c.sid)
    }
    previous = health
    const now = { health: Math.round(health), food: Math.round(bot.food ?? 0) }
    if (last !== null && now.health === last.health && now.food === last.food) return
    if (timer !== null) return // the pending send takes the latest values
    const wait = Math.max(0, HEALTH_EVERY_MS - (Date.now() - lastSent))
    timer = setTimeout(sendHealth, wait)
  })
  bot.on('death', () => {
    if (c.state === 'live') c.manager.emitEvent({ type: 'death' }, c.sid)
  })
  bot.on('chat', (username, message) => c.manager.world.chat(c, username, message, false))
  bot.on('whisper', (username, message) => c.manager.world.chat(c, username, message, true))
  bot.on('playerJoined', (player) => c.manager.world.joined(c, player))
  bot.on('playerLeft', (player) => c.manager.world.left(c, player))
  // the first report goes out with the health update that follows the spawn
  return { stop: () => { if (timer !== null) clearTimeout(timer) } }
}

/** The world as the companions see it: who is online, who said what. */
class World {
  constructor (manager) {
    this.manager = manager
    this.observer = null
    this.known = new Map() // lower-case name -> {id, name}
    this.initialized = false
    this.graceUntil = 0
  }

  isOurs (username) {
    if (typeof username !== 'string') return true
    const lower = username.toLowerCase()
    for (const c of this.manager.companions.values()) {
      if (c.username && c.username.toLowerCase() === lower) return true
    }
    return false
  }

  playerRef (bot, username) {
    const player = bot.players?.[username]
    return { id: player?.uuid ?? username, name: username }
  }

  /** The companion a message names, by username or persona name (the earliest named). */
  addressed (message) {
    let best = null
    for (const c of this.manager.companions.values()) {
      if (c.state !== 'live') continue
      for (const name of [c.username, c.persona?.name]) {
        if (typeof name !== 'string' || name.length < 2) continue
        const m = new RegExp(`(^|[^A-Za-z0-9_])@?${escapeRegExp(name)}($|[^A-Za-z0-9_])`, 'i').exec(message)
        if (m && (best === null || m.index < best.index)) best = { index: m.index, sid: c.sid }
      }
    }
    return best ? best.sid : undefined
  }

  chat (c, username, message, whisper) {
    if (this.isOurs(username) || typeof message !== 'string') return
    if (!whisper && this.observer !== c) return
    const sid = whisper ? c.sid : this.addressed(message)
    const d = { type: 'player_chat', player: this.playerRef(c.bot, username), message }
    if (whisper) d.whisper = true
    this.manager.emitEvent(d, sid)
  }

  joined (c, player) {
    if (this.observer !== c || !player || this.isOurs(player.username)) return
    const key = player.username.toLowerCase()
    if (this.known.has(key)) return
    const ref = { id: player.uuid ?? player.username, name: player.username }
    this.known.set(key, ref)
    if (Date.now() < this.graceUntil) return // a new observer's initial list
    this.manager.emitEvent({ type: 'player_join', player: ref })
  }

  left (c, player) {
    if (this.observer !== c || !player || this.isOurs(player.username)) return
    const key = player.username.toLowerCase()
    const ref = this.known.get(key)
    if (!ref) return
    this.known.delete(key)
    this.manager.emitEvent({ type: 'player_leave', player: ref })
  }

  /** Choose the observer again (a companion joined or left the game). */
  update () {
    let next = null
    for (const c of this.manager.companions.values()) {
      if (c.state === 'live') { next = c; break }
    }
    if (next === this.observer) return
    this.observer = next
    if (next === null) return
    const present = new Map()
    for (const player of Object.values(next.bot.players || {})) {
      if (!player?.username || this.isOurs(player.username)) continue
      present.set(player.username.toLowerCase(), { id: player.uuid ?? player.username, name: player.username })
    }
    const fresh = Date.now() - (next.liveSince ?? 0) < FIRST_LIST_GRACE_MS
    if (!this.initialized || fresh) {
      // the first observer, or one that has just joined (its player list may still be
      // arriving): who is here already is not news
      this.initialized = true
      this.graceUntil = (next.liveSince ?? Date.now()) + FIRST_LIST_GRACE_MS
      this.known = present
      return
    }
    for (const [key, ref] of present) {
      if (!this.known.has(key)) {
        this.known.set(key, ref)
        this.manager.emitEvent({ type: 'player_join', player: ref })
      }
    }
    for (const [key, ref] of [...this.known]) {
      if (!present.has(key)) {
        this.known.delete(key)
        this.manager.emitEvent({ type: 'player_leave', player: ref })
      }
    }
  }
}

module.exports = { watchCompanion, World, textOf }
