'use strict'
// move_to, follow and stop: walking with mineflayer-pathfinder.
//
// One movement at a time per companion: a new move_to or follow (or a stop) ends the
// running one, which then fails with `interrupted`. move_to is done when the companion
// stands within `range` (1 by default) of the point; follow is done once it first comes
// within `distance` of the player, and goes on following until the next movement or stop.
// The pathfinder never digs unless the bridge runs with --allow-dig, and never builds.

const { goals, Movements } = require('mineflayer-pathfinder')
const { ActionError, badArguments } = require('./errors')
const { pointOf, findPlayer, positionOf, round } = require('./targets')

const CHECK_MS = 200

/** Configure the pathfinder for a freshly spawned companion. */
function setupMovement (c) {
  const movements = new Movements(c.bot)
  movements.canDig = Boolean(c.options.allowDig)
  movements.allow1by1towers = false // no pillars: the bridge never places blocks
  movements.scafoldingBlocks = []
  movements.allowParkour = true
  movements.allowSprinting = true
  c.bot.pathfinder.setMovements(movements)
  c.bot.pathfinder.thinkTimeout = 5000
}

/**
 * Take the companion's legs for a new movement: the running one (if any) is cancelled
 * with `reason`. Returns a token whose `cancelled` is set when it is cancelled in turn.
 */
function claim (c, actionId, reason = 'interrupted') {
  if (c.movement) c.movement.cancel(reason)
  const token = {
    actionId,
    cancelled: null,
    listeners: [],
    cancel (why) {
      if (this.cancelled !== null) return
      this.cancelled = why
      if (c.movement === this) {
        c.movement = null
        try {
          c.bot.pathfinder.setGoal(null)
        } catch {}
      }
      for (const fn of this.listeners.splice(0)) fn(why)
    },
    onCancel (fn) {
      if (this.cancelled !== null) fn(this.cancelled)
      else this.listeners.push(fn)
    },
    release () {
      if (c.movement === this) c.movement = null
    }
  }
  c.movement = token
  return token
}

function interruptedError (why) {
  const messages = {
    interrupted: 'another movement replaced it',
    stopped: 'a stop action ended it',
    despawned: 'the companion left the game',
    disconnected: 'the companion lost its connection to the server',
    kicked: 'the companion was kicked from the server',
    timeout: 'it took too long'
  }
  return new ActionError(why, messages[why] || why)
}

function numberIn (value, fallback, lo, hi, name) {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi) {
    throw badArguments(`${name} must be a number from ${lo} to ${hi}`)
  }
  return value
}

async function moveTo (c, action) {
  const point = pointOf(action)
  const range = numberIn(action.range, 1, 0, 16, 'range')
  const token = claim(c, action.id)
  const bot = c.bot
  const limitMs = (c.options.moveTimeout ?? 60) * 1000
  let timer
  const cancelled = new Promise((resolve, reject) => {
    timer = setTimeout(() => token.cancel('timeout'), limitMs)
    token.onCancel((why) => reject(interruptedError(why)))
  })
  cancelled.catch(() => {})
  try {
    const walk = bot.pathfinder.goto(new goals.GoalNear(point.x, point.y, point.z, range))
    await Promise.race([walk.catch((err) => { throw pathError(err, token) }), cancelled])
  } finally {
    clearTimeout(timer)
    token.release()
  }
  // the pathfinder reports success when it finds no path at all: check where we are
  const distance = bot.entity.position.distanceTo(point)
  if (distance > range + 2) {
    throw new ActionError('no_path', `stopped ${round(distance, 1)} blocks from the point`,
      { position: positionOf(bot.entity), distance: round(distance) })
  }
  return { position: positionOf(bot.entity), distance: round(distance) }
}

function pathError (err, token) {
  if (token.cancelled !== null) return interruptedError(token.cancelled)
  switch (err && err.name) {
    case 'NoPath': return new ActionError('no_path', 'no path to the point')
    case 'Timeout': return new ActionError('no_path', 'the path search took too long')
    case 'GoalChanged':
    case 'PathStopped': return interruptedError('interrupted')
    default: return new ActionError('failed', String(err && err.message ? err.message : err))
  }
}

async function follow (c, action) {
  if (typeof action.target !== 'string') throw badArguments('follow needs a target (player name)')
  const distance = numberIn(action.distance, 3, 1, 32, 'distance')
  const bot = c.bot
  const player = findPlayer(bot, action.target)
  if (!player || !player.entity) {
    throw new ActionError('target_not_found', `cannot see a player ${action.target}`)
  }
  const token = claim(c, action.id)
  let entity = player.entity
  const limitMs = (c.options.followTimeout ?? 60) * 1000
  const started = Date.now()
  bot.pathfinder.setGoal(new goals.GoalFollow(entity, distance), true)
  let settle
  const reached = new Promise((resolve, reject) => { settle = { resolve, reject } })
  let done = false
  const check = setInterval(() => {
    if (token.cancelled !== null || !bot.entity) return
    if (bot.entities[entity.id] !== entity) { // out of sight: find it again
      const again = findPlayer(bot, action.target)?.entity
      if (!again) {
        if (!done) settle.reject(new ActionError('target_lost', `lost sight of ${action.target}`))
        token.cancel('target_lost')
        return
      }
      entity = again
      bot.pathfinder.setGoal(new goals.GoalFollow(entity, distance), true)
    }
    const d = bot.entity.position.distanceTo(entity.position)
    if (!done && d <= distance + 1) {
      done = true
      settle.resolve({ following: action.target, distance: round(d), position: positionOf(bot.entity) })
    } else if (!done && Date.now() - started > limitMs) {
      settle.reject(new ActionError('timeout', `did not reach ${action.target} in time`))
      token.cancel('timeout')
    }
  }, CHECK_MS)
  token.onCancel((why) => {
    clearInterval(check)
    if (!done) settle.reject(interruptedError(why))
  })
  return reached // done once close; following goes on until the next movement or stop
}

async function stop (c) {
  const running = c.movement
  if (running) running.cancel('stopped')
  try {
    c.bot.pathfinder.setGoal(null)
  } catch {}
  c.bot.clearControlStates()
  try {
    c.bot.deactivateItem()
  } catch {}
  return { stopped: running ? running.actionId ?? true : null }
}

module.exports = { handlers: { move_to: moveTo, follow, stop }, setupMovement, claim }
