'use strict'
// Finding what an action points at: coordinates, players and entities.

const { Vec3 } = require('vec3')
const { badArguments } = require('./errors')

const LIMIT = 30_000_000 // the world border

function isCoord (v) {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= LIMIT
}

/** {x, y, z} from an action: flat (`{x, y, z}`, the SDK's shape) or `{target: {x, y, z}}`. */
function pointOf (action, { required = true } = {}) {
  const source = action.target !== null && typeof action.target === 'object' ? action.target : action
  const { x, y, z } = source
  if (isCoord(x) && isCoord(y) && isCoord(z)) return new Vec3(x, y, z)
  if (!required && x === undefined && y === undefined && z === undefined) return null
  throw badArguments('needs x, y and z: finite numbers')
}

/** A player's entity by name (case-insensitive) or UUID, when the bot can see it. */
function findPlayer (bot, ref) {
  if (typeof ref !== 'string' || ref.length === 0) return null
  const wanted = ref.toLowerCase()
  for (const player of Object.values(bot.players || {})) {
    if (player.username?.toLowerCase() === wanted || player.uuid?.toLowerCase() === wanted) {
      return player
    }
  }
  return null
}

/** An entity by numeric id, UUID or player name. */
function findEntity (bot, ref) {
  const text = String(ref ?? '')
  if (/^[0-9]+$/.test(text)) return bot.entities?.[Number(text)] ?? null
  const wanted = text.toLowerCase()
  for (const entity of Object.values(bot.entities || {})) {
    if (entity === bot.entity) continue
    if (entity.uuid?.toLowerCase() === wanted || entity.username?.toLowerCase() === wanted) return entity
  }
  return findPlayer(bot, text)?.entity ?? null
}

function round (v, digits = 2) {
  const f = 10 ** digits
  return Math.round(v * f) / f
}

function positionOf (entity) {
  const p = entity.position
  return { x: round(p.x), y: round(p.y), z: round(p.z) }
}

module.exports = { pointOf, findPlayer, findEntity, positionOf, round, isCoord }
