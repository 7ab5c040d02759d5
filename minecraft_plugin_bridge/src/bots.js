'use strict'
// One Mineflayer bot per companion session: `spawn` makes it join the server, `action`
// dispatches drive it, `despawn` makes it leave. Every action is answered with exactly one
// action_done or action_failed event (with the action id), whatever happens: each action
// type has a time limit (ACTION_LIMITS), after which it fails with `timeout`.
//
// Companions survive what heals by itself: a lost connection or a kick (the "Server
// closed" of every graceful server stop included) makes the companion join again with
// backoff. Only what cannot heal ends it, reported with a final `kicked` event: a ban, a
// whitelist, an online-mode server refusing an offline companion, or a companion that
// never got in (a wrong address) within --join-timeout.

const { HANDLERS, CAPABILITIES, ActionError } = require('./actions')
const { setupMovement } = require('./actions/movement')
const { positionOf } = require('./actions/targets')
const { minecraftName } = require('./names')
const { watchCompanion, World, textOf } = require('./events')

const REJOIN_MAX_S = 30

/** Kicks that do not heal by joining again: the companion gives up (final `kicked`). */
const FINAL_KICKS = [/\bbanned\b/i, /white-?list/i, /failed to verify username/i, /invalid session/i,
  /outdated (client|server)/i, /not authenticated/i]
const ONLINE_MODE_HINT = 'the Minecraft server runs online-mode=true: companions need Microsoft ' +
  'accounts (--auth microsoft --accounts ...), or set online-mode=false on the server'

/** Seconds an action may run once its companion is in the game (movement: its own limit + 10). */
const ACTION_LIMITS = { chat: 15, look_at: 10, emote: 15, interact: 15, use_entity: 15, equip: 15, use_item: 15, title: 10, stop: 10 }

function isFinalKick (text) {
  return FINAL_KICKS.some((re) => re.test(text))
}

/** The real bot factory: mineflayer with the pathfinder plugin. */
function createMineflayerBot (options) {
  const mineflayer = require('mineflayer')
  const { pathfinder } = require('mineflayer-pathfinder')
  const bot = mineflayer.createBot(options)
  bot.loadPlugin(pathfinder)
  return bot
}

class Companion {
  constructor (manager, { sid, persona, location, username, account, wasLive = false }) {
    this.manager = manager
    this.options = manager.options
    this.log = manager.log
    this.sid = sid
    this.persona = persona && typeof persona === 'object' ? persona : {}
    this.location = location && typeof location === 'object' ? location : null
    this.username = username
    this.account = account // microsoft auth: the account this companion plays as
    this.bot = null
    this.state = 'joining' // joining -> live -> (offline -> joining ...) | kicked (final) | gone
    this.wasLive = wasLive // it has been in the game (in this bridge process or an earlier one)
    this.firstTry = null // when this process first tried to join (a companion that never gets in gives up)
    this.lastError = null
    this.onlineMode = false // the server asked an offline companion for encryption
    this.opLevel = null // the server's permission level for this bot, once it says
    this.movement = null // the running move_to / follow, see actions/movement.js
    this.waiters = new Set()
    this.rejoinAttempt = 0
    this.rejoinTimer = null
    this.watch = null
    this.liveSince = null
  }

  join () {
    if (this.state === 'gone' || this.state === 'kicked') return
    this.state = 'joining'
    this.opLevel = null
    this.rejoinTimer = null
    if (this.firstTry === null) this.firstTry = Date.now()
    const o = this.options
    let bot
    try {
      bot = this.manager.createBot({
        host: o.mcHost,
        port: o.mcPort,
        version: o.mcVersion || false,
        auth: o.auth,
        username: o.auth === 'microsoft' ? this.account : this.username,
        profilesFolder: o.profilesFolder,
        onMsaCode: (data) => this.log.warn('minecraft.sign_in_needed', {
          account: this.account, url: data.verification_uri, code: data.user_code
        }),
        hideErrors: true,
        logErrors: false,
        checkTimeoutInterval: 30000,
        respawn: true
      })
    } catch (err) {
      this.log.error('companion.create_failed', { sid: this.sid, error: err.message })
      return this._lost(err.message)
    }
    this.bot = bot
    bot._client?.on?.('entity_status', (packet) => {
      // levels 0-4 arrive as statuses 24-28 for the player's own entity
      if (packet.entityStatus >= 24 && packet.entityStatus <= 28 &&
          (!bot.entity || packet.entityId === bot.entity.id)) {
        this.opLevel = packet.entityStatus - 24
      }
    })
    bot._client?.on?.('encryption_begin', () => {
      if (o.auth !== 'microsoft') this.onlineMode = true // offline servers never ask for it
    })
    bot.once('spawn', () => this._live(bot))
    bot.on('kicked', (reason) => this._kicked(bot, reason))
    bot.on('end', (reason) => { if (this.bot === bot) this._lost(textOf(reason) || 'connection ended') })
    bot.on('error', (err) => {
      if (this.bot === bot) this.lastError = err?.message || String(err)
      this.log.warn('companion.bot_error', { sid: this.sid, error: err?.message })
    })
    this.watch = watchCompanion(this)
  }

  _live (bot) {
    if (this.bot !== bot || this.state === 'gone') return
    if (bot.username && bot.username !== this.username) this.username = bot.username
    this.state = 'live'
    this.wasLive = true
    this.liveSince = Date.now()
    this.rejoinAttempt = 0
    this.lastError = null
    this.manager.changed()
    try {
      setupMovement(this)
    } catch (err) {
      this.log.warn('companion.no_pathfinder', { sid: this.sid, error: err.message })
    }
    this.log.info('companion.spawned', { sid: this.sid, username: this.username })
    this.manager.emitEvent({
      type: 'spawned',
      entity: this.username,
      entity_id: String(bot.entity?.id ?? ''),
      uuid: bot.player?.uuid,
      position: bot.entity ? positionOf(bot.entity) : undefined
    }, this.sid)
    const loc = this.location
    if (this.options.spawnTeleport && loc && [loc.x, loc.y, loc.z].every(Number.isFinite)) {
      if ((this.opLevel ?? 0) >= 2) bot.chat(`/tp ${this.username} ${loc.x} ${loc.y} ${loc.z}`)
      else this.log.warn('companion.no_teleport', { sid: this.sid, why: 'not an operator' })
    }
    for (const w of [...this.waiters]) w.resolve()
    this.manager.world.update()
  }

  /** A kick: final when it cannot heal (ban, whitelist, online mode), else join again. */
  _kicked (bot, reason) {
    if (this.bot !== bot || this.state === 'gone') return
    const text = textOf(reason) || 'kicked'
    if (isFinalKick(text) || (this.onlineMode && !this.wasLive)) return this._giveUp(text)
    this.log.warn('companion.kicked', { sid: this.sid, reason: text, rejoining: true })
    this.manager.emitEvent({ type: 'kicked', reason: text, rejoining: true }, this.sid)
    this._rejoin(`kicked: ${text}`, 'kicked')
  }

  /** The connection ended without a kick: join again with backoff (or give up, below). */
  _lost (why) {
    if (this.state === 'gone' || this.state === 'kicked') return
    this._rejoin(this.lastError || why, 'disconnected')
  }

  _rejoin (why, reason) {
    const waited = Date.now() - (this.firstTry ?? Date.now())
    if (!this.wasLive && waited >= this.options.joinTimeout * 1000) {
      const where = `${this.options.mcHost}:${this.options.mcPort}`
      return this._giveUp(`could not join the Minecraft server at ${where}: ${why}`)
    }
    this.log.warn('companion.disconnected', { sid: this.sid, reason: why, attempt: this.rejoinAttempt })
    this.state = 'offline'
    this._leaveGame(why, reason)
    const maxS = this.options.rejoinMaxBackoff ?? REJOIN_MAX_S
    const delay = Math.min(maxS, 2 ** Math.min(this.rejoinAttempt, 5)) * (0.5 + 0.5 * Math.random())
    this.rejoinAttempt += 1
    this.rejoinTimer = setTimeout(() => this.join(), delay * 1000)
  }

  /** What cannot heal: leave for good and tell the daemon why (a final `kicked`). */
  _giveUp (text) {
    const hint = this.onlineMode || /verify username/i.test(text) ? ONLINE_MODE_HINT : undefined
    this.log.error('companion.gave_up', { sid: this.sid, reason: text, hint })
    this.state = 'kicked'
    this._leaveGame(`kicked: ${text}`, 'kicked')
    this.manager.emitEvent({ type: 'kicked', reason: text, final: true, ...(hint ? { hint } : {}) }, this.sid)
    this.manager.changed()
  }

  /** Forget the bot (it quit, was kicked or lost); a running movement fails with `reason`. */
  _leaveGame (why, reason = 'despawned') {
    if (this.movement) this.movement.cancel(reason)
    this.watch?.stop()
    const bot = this.bot
    this.bot = null
    if (bot) {
      bot.removeAllListeners('spawn')
      try { bot.quit(why) } catch {}
    }
    if (this.state !== 'offline') {
      for (const w of [...this.waiters]) w.reject(this._absent())
    }
    this.manager.world.update()
  }

  _absent () {
    if (this.state === 'kicked') return new ActionError('not_connected', 'the companion was kicked from the server, or could not join it')
    if (this.state === 'gone') return new ActionError('despawned', 'the companion has left')
    return new ActionError('not_spawned', 'the companion has not joined the game yet')
  }

  /** Resolves when the companion is in the game; rejects when it will not be (soon). */
  whenLive (timeoutMs) {
    if (this.state === 'live') return Promise.resolve()
    if (this.state === 'gone' || this.state === 'kicked') return Promise.reject(this._absent())
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => { clearTimeout(waiter.timer); this.waiters.delete(waiter); resolve() },
        reject: (err) => { clearTimeout(waiter.timer); this.waiters.delete(waiter); reject(err) }
      }
      waiter.timer = setTimeout(() => waiter.reject(this._absent()), timeoutMs)
      this.waiters.add(waiter)
    })
  }

  despawn (reason) {
    if (this.rejoinTimer !== null) clearTimeout(this.rejoinTimer)
    this.rejoinTimer = null
    this.state = 'gone'
    this.log.info('companion.despawned', { sid: this.sid, reason })
    this._leaveGame(`despawned: ${reason}`)
  }
}

class CompanionManager {
  /**
   * @param {object} o
   * @param {(d: object, sid?: string) => boolean|void} o.sendEvent  queue an event on the link
   *   (false: refused, the daemon has not acknowledged --max-unacked events; logged there)
   * @param {object} o.options   see cli.js (mcHost, mcPort, mcVersion, auth, ...)
   * @param {object} o.log
   * @param {Function} [o.createBot]  a mineflayer-like bot factory (tests pass a fake)
   */
  constructor ({ sendEvent, options = {}, log, createBot = createMineflayerBot, onChange }) {
    this.sendEvent = sendEvent
    this.onChange = onChange || (() => {})
    this.running = new Map() // action id -> sid: actions carried out, not answered yet
    this.options = { joinTimeout: 30, moveTimeout: 60, followTimeout: 60, auth: 'offline', ...options }
    this.log = log || require('./log').createLogger('warn')
    this.createBot = createBot
    this.companions = new Map() // sid -> Companion, in spawn order
    this.world = new World(this)
    this.accounts = [...(this.options.accounts || [])]
  }

  get capabilities () {
    return [...CAPABILITIES]
  }

  /** Something a restarted bridge needs changed (companions, running actions). */
  changed () {
    try {
      this.onChange()
    } catch (err) {
      this.log.error('state.save_failed', { error: err.message })
    }
  }

  /** The companions and running actions, for the state file. */
  snapshot () {
    const companions = []
    for (const c of this.companions.values()) {
      if (c.state === 'gone' || c.state === 'kicked') continue
      companions.push({ sid: c.sid, persona: c.persona, location: c.location, username: c.username, account: c.account, wasLive: c.wasLive })
    }
    return { companions, running: [...this.running].map(([id, sid]) => ({ id, sid })) }
  }

  /**
   * A restarted bridge takes up the state file: its companions join again (under the same
   * names), and the actions that were running when it stopped are answered, once, with
   * action_failed `interrupted` (they did not finish, and will not be sent again).
   */
  restore ({ companions = [], running = [] } = {}) {
    for (const s of companions) {
      if (!s || typeof s.sid !== 'string' || this.companions.has(s.sid)) continue
      if (s.account && this.options.auth === 'microsoft') {
        const i = this.accounts.indexOf(s.account)
        if (i < 0) continue
        this.accounts.splice(i, 1)
      }
      const c = new Companion(this, { ...s, wasLive: Boolean(s.wasLive) })
      this.companions.set(s.sid, c)
      this.log.info('companion.joining', { sid: s.sid, username: c.username, restored: true })
      c.join()
    }
    for (const r of running) {
      if (!r || r.id === undefined || r.id === null) continue
      this.emitEvent({ type: 'action_failed', action_id: r.id, reason: 'interrupted', message: 'the bridge restarted while it ran' }, r.sid)
    }
    this.changed()
  }

  /** Queue an event; false when the link refused it (its queue is full) or it failed. */
  emitEvent (d, sid) {
    try {
      return this.sendEvent(d, sid) !== false
    } catch (err) {
      this.log.error('events.send_failed', { type: d.type, error: err.message })
      return false
    }
  }

  /** One dispatch from the daemon (spawn, despawn, action). Never throws. */
  handleDispatch (frame) {
    const d = frame.d || {}
    const sid = frame.sid ?? d.sid
    try {
      switch (d.type) {
        case 'spawn': return this.spawn(sid, d.persona, d.location)
        case 'despawn': return this.despawn(sid, d.reason)
        case 'action': return this.act(sid, d.action)
        default:
          this.log.warn('dispatch.unknown_type', { type: d.type, sid })
      }
    } catch (err) {
      this.log.error('dispatch.failed', { type: d.type, sid, error: err.stack || String(err) })
    }
  }

  /** `ready`: the daemon's live sessions on this server (after a restart they come back). */
  handleReady (sessions) {
    const live = (sessions || []).filter((s) => s && typeof s.sid === 'string')
    const listed = new Set(live.map((s) => s.sid))
    for (const sid of [...this.companions.keys()]) { // first, so their names are free again
      if (!listed.has(sid)) this.despawn(sid, 'not_live')
    }
    for (const s of live) {
      if (!this.companions.has(s.sid)) this.spawn(s.sid, s.persona, s.location)
    }
  }

  _taken (lower) {
    for (const c of this.companions.values()) {
      if (c.username && c.username.toLowerCase() === lower) return true
    }
    return this.world.known.has(lower)
  }

  spawn (sid, persona, location) {
    if (typeof sid !== 'string' || sid.length === 0) {
      this.log.warn('spawn.without_sid', {})
      return
    }
    const existing = this.companions.get(sid)
    if (existing) { // a spawn we already carried out (a replay): say so again
      if (existing.state === 'live') {
        this.emitEvent({ type: 'spawned', entity: existing.username }, sid)
      }
      return
    }
    let account
    if (this.options.auth === 'microsoft') {
      account = this.accounts.shift()
      if (!account) {
        this.log.error('spawn.no_account', { sid })
        this.emitEvent({ type: 'kicked', reason: 'no free Microsoft account for another companion (--accounts)' }, sid)
        return
      }
    }
    const username = minecraftName(persona?.name, {
      taken: (lower) => this._taken(lower),
      prefix: this.options.namePrefix || ''
    })
    const c = new Companion(this, { sid, persona, location, username, account })
    this.companions.set(sid, c)
    this.log.info('companion.joining', { sid, username })
    c.join()
    this.changed()
  }

  despawn (sid, reason = 'ended') {
    const c = this.companions.get(sid)
    if (!c) return
    this.companions.delete(sid)
    c.despawn(reason)
    if (c.account) this.accounts.push(c.account)
    this.world.update()
    this.changed()
  }

  /** Seconds `type` may run once its companion is in the game. */
  limitOf (type) {
    const o = this.options
    if (type === 'move_to') return o.moveTimeout + 10
    if (type === 'follow') return o.followTimeout + 10
    return o.actionTimeout ?? ACTION_LIMITS[type] ?? 15
  }

  /** Carry out one action; answer with exactly one action_done or action_failed. */
  act (sid, action) {
    const id = action && typeof action === 'object' ? action.id : undefined
    const tracked = id !== undefined && id !== null && !this.running.has(id)
    let answered = false
    const answer = (type, extra) => {
      if (answered) return
      answered = true
      const d = { type, ...extra }
      if (id !== undefined && id !== null) d.action_id = id
      if (tracked) this.running.delete(id)
      this.emitEvent(d, sid)
      if (tracked) this.changed()
    }
    const fail = (err) => {
      const reason = err instanceof ActionError ? err.reason : 'failed'
      const message = err instanceof ActionError ? err.message : String(err?.message ?? err)
      if (!(err instanceof ActionError)) {
        this.log.error('action.crashed', { sid, action_id: id, error: err?.stack || String(err) })
      }
      const extra = { reason, message }
      if (err?.detail !== undefined) extra.detail = err.detail
      answer('action_failed', extra)
    }
    if (!action || typeof action !== 'object' || Array.isArray(action) || typeof action.type !== 'string') {
      return fail(new ActionError('bad_arguments', 'an action needs a type'))
    }
    if (!Object.prototype.hasOwnProperty.call(HANDLERS, action.type)) {
      return fail(new ActionError('unknown_action',
        `this bridge does not carry out ${JSON.stringify(action.type).slice(0, 80)}; it does: ${CAPABILITIES.join(', ')}`))
    }
    const c = this.companions.get(sid)
    if (!c) return fail(new ActionError('no_companion', `no companion ${sid} on this server`))
    if (tracked) this.running.set(id, sid)
    const limit = this.limitOf(action.type)
    let timer
    c.whenLive(this.options.joinTimeout * 1000)
      .then(() => new Promise((resolve, reject) => {
        timer = setTimeout(() => {
          if (c.movement && c.movement.actionId === id) c.movement.cancel('timeout')
          reject(new ActionError('timeout', `${action.type} did not finish within ${limit} s`))
        }, limit * 1000)
        Promise.resolve().then(() => HANDLERS[action.type](c, action)).then(resolve, reject)
      }))
      .then((detail) => answer('action_done', detail === undefined ? {} : { detail }))
      .catch(fail)
      .finally(() => clearTimeout(timer))
  }

  /** Every companion leaves the game. */
  shutdown (reason = 'bridge stopping') {
    for (const sid of [...this.companions.keys()]) this.despawn(sid, reason)
  }
}

module.exports = { CompanionManager, Companion, createMineflayerBot, ACTION_LIMITS, FINAL_KICKS, ONLINE_MODE_HINT }
