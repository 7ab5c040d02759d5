// @ts-check
// The web world's game state with no I/O: players and companions on a flat map, the
// companions' actions (the bridge's action vocabulary: chat, move_to, follow, look_at,
// emote, stop) and their movement over time. Time is passed in (seconds), so every rule
// is testable with plain calls. A location's x and z are the map's x and y (y is height).

/** Units per second a player walks. */
export const PLAYER_SPEED = 160
/** Units per second a companion walks. */
export const COMPANION_SPEED = 110
/** Seconds a chat bubble or an emote stays over a companion. */
export const BUBBLE_SECONDS = 6
export const EMOTE_SECONDS = 3
/** What this world carries out (sent as `capabilities` in identify). */
export const CAPABILITIES = ['chat', 'move_to', 'follow', 'look_at', 'emote', 'stop']

/**
 * @typedef {{id: string, name: string, x: number, y: number}} Player
 * @typedef {{kind: 'move', x: number, y: number, actionId: string | null}
 *   | {kind: 'follow', player: string, distance: number}} Goal
 * @typedef {{sid: string, name: string, x: number, y: number, facing: number,
 *   goal: Goal | null, bubble: {text: string, until: number} | null,
 *   emote: {name: string, until: number} | null}} Companion
 * @typedef {{ok: true, done: boolean, detail?: string} | {ok: false, reason: string}} Outcome
 */

/** @param {number} v @param {number} lo @param {number} hi */
const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi)
/** @param {unknown} v @returns {v is number} */
const isNum = (v) => typeof v === 'number' && Number.isFinite(v)

export class World {
  /** @param {{width: number, height: number}} size */
  constructor ({ width, height }) {
    this.width = width
    this.height = height
    /** @type {Map<string, Player>} */
    this.players = new Map()
    /** @type {Map<string, Companion>} */
    this.companions = new Map()
  }

  /** @param {Player} p */
  setPlayer (p) {
    this.players.set(p.id, { id: p.id, name: p.name, x: clamp(p.x, 0, this.width), y: clamp(p.y, 0, this.height) })
  }

  /** Move a player by a direction (dx, dy in -1..1) for dt seconds. @param {string} id @param {number} dx @param {number} dy @param {number} dt */
  walk (id, dx, dy, dt) {
    const p = this.players.get(id)
    if (!p || (dx === 0 && dy === 0)) return false
    const n = Math.hypot(dx, dy)
    p.x = clamp(p.x + (dx / n) * PLAYER_SPEED * dt, 0, this.width)
    p.y = clamp(p.y + (dy / n) * PLAYER_SPEED * dt, 0, this.height)
    return true
  }

  /**
   * A companion arrives (a `spawn` dispatch or a session in `ready`).
   * @param {string} sid @param {{name?: string}} persona @param {{x?: number, z?: number}} location
   */
  spawn (sid, persona, location) {
    const x = isNum(location?.x) ? location.x : this.width / 2
    const y = isNum(location?.z) ? location.z : this.height / 2
    const old = this.companions.get(sid)
    this.companions.set(sid, {
      sid,
      name: String(persona?.name ?? 'companion').slice(0, 64),
      x: old ? old.x : clamp(x, 0, this.width),
      y: old ? old.y : clamp(y, 0, this.height),
      facing: old ? old.facing : 0,
      goal: null,
      bubble: old ? old.bubble : null,
      emote: null
    })
  }

  /** @param {string} sid */
  despawn (sid) {
    this.companions.delete(sid)
  }

  /** A line over a companion's head. @param {string} sid @param {string} text @param {number} now */
  say (sid, text, now) {
    const c = this.companions.get(sid)
    if (c) c.bubble = { text, until: now + BUBBLE_SECONDS }
  }

  /** @param {string} sid @param {string} name @param {number} now */
  showEmote (sid, name, now) {
    const c = this.companions.get(sid)
    if (c) c.emote = { name, until: now + EMOTE_SECONDS }
  }

  /**
   * Carry out one (already moderated) action. `done: false` means it finishes later
   * (a move_to: `step` reports it when the companion arrives).
   * @param {string} sid @param {Record<string, any>} action @param {number} now @returns {Outcome}
   */
  apply (sid, action, now) {
    const c = this.companions.get(sid)
    if (!c) return { ok: false, reason: 'unknown_session' }
    switch (action.type) {
      case 'chat':
        if (typeof action.message !== 'string') return { ok: false, reason: 'bad_arguments' }
        this.say(sid, action.message, now)
        return { ok: true, done: true }
      case 'move_to': {
        if (!isNum(action.x) || !isNum(action.z)) return { ok: false, reason: 'bad_arguments' }
        if (action.x < 0 || action.x > this.width || action.z < 0 || action.z > this.height) {
          return { ok: false, reason: 'no_path' }
        }
        c.goal = { kind: 'move', x: action.x, y: action.z, actionId: typeof action.id === 'string' ? action.id : null }
        return { ok: true, done: false }
      }
      case 'follow': {
        const target = this.players.get(String(action.target))
        if (!target) return { ok: false, reason: 'no_target' }
        const distance = isNum(action.distance) ? clamp(action.distance * 10, 20, 320) : 30
        c.goal = { kind: 'follow', player: target.id, distance }
        return { ok: true, done: true, detail: `following ${target.name}` }
      }
      case 'look_at': {
        let tx = action.x
        let ty = action.z
        if (typeof action.target === 'string') {
          const p = this.players.get(action.target)
          if (!p) return { ok: false, reason: 'no_target' }
          tx = p.x
          ty = p.y
        }
        if (!isNum(tx) || !isNum(ty)) return { ok: false, reason: 'bad_arguments' }
        c.facing = Math.atan2(ty - c.y, tx - c.x)
        return { ok: true, done: true }
      }
      case 'emote':
        if (typeof action.name !== 'string') return { ok: false, reason: 'bad_arguments' }
        this.showEmote(sid, action.name, now)
        return { ok: true, done: true }
      case 'stop':
        c.goal = null
        return { ok: true, done: true }
      default:
        return { ok: false, reason: 'unknown_action' }
    }
  }

  /**
   * Advance the companions by dt seconds; returns the move_to actions that arrived.
   * @param {number} dt @param {number} now @returns {Array<{sid: string, actionId: string | null}>}
   */
  step (dt, now) {
    /** @type {Array<{sid: string, actionId: string | null}>} */
    const arrived = []
    for (const c of this.companions.values()) {
      if (c.bubble && c.bubble.until <= now) c.bubble = null
      if (c.emote && c.emote.until <= now) c.emote = null
      const goal = c.goal
      if (!goal) continue
      let tx, ty, stopAt
      if (goal.kind === 'move') {
        tx = goal.x
        ty = goal.y
        stopAt = 0
      } else {
        const p = this.players.get(goal.player)
        if (!p) { c.goal = null; continue }
        tx = p.x
        ty = p.y
        stopAt = goal.distance
      }
      const dist = Math.hypot(tx - c.x, ty - c.y)
      if (dist > 0.01) c.facing = Math.atan2(ty - c.y, tx - c.x)
      const stride = COMPANION_SPEED * dt
      if (dist - stopAt <= stride) {
        if (dist > stopAt) {
          const k = (dist - stopAt) / dist
          c.x += (tx - c.x) * k
          c.y += (ty - c.y) * k
        }
        if (goal.kind === 'move') {
          c.goal = null
          arrived.push({ sid: c.sid, actionId: goal.actionId })
        }
        continue
      }
      c.x += ((tx - c.x) / dist) * stride
      c.y += ((ty - c.y) / dist) * stride
    }
    return arrived
  }
}
