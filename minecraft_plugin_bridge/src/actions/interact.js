'use strict'
// interact (a block or an entity) and use_entity: a right click, as a player would.

const { Vec3 } = require('vec3')
const { ActionError, badArguments } = require('./errors')
const { pointOf, findEntity, round } = require('./targets')

const BLOCK_REACH = 5 // blocks, from the eyes (a survival player reaches 4.5)
const ENTITY_REACH = 6

async function interactBlock (c, action) {
  const bot = c.bot
  const point = pointOf(action)
  const at = new Vec3(Math.floor(point.x), Math.floor(point.y), Math.floor(point.z))
  const block = bot.blockAt(at)
  if (!block) throw new ActionError('not_loaded', `the block at ${at} is not loaded`)
  if (block.name === 'air' || block.name === 'cave_air' || block.name === 'void_air') {
    throw new ActionError('no_block', `there is no block at ${at}`)
  }
  const eyes = bot.entity.position.offset(0, bot.entity.height ?? 1.62, 0)
  const distance = eyes.distanceTo(at.offset(0.5, 0.5, 0.5))
  if (distance > BLOCK_REACH) {
    throw new ActionError('too_far', `the block is ${round(distance, 1)} blocks away; move_to it first`)
  }
  await bot.activateBlock(block)
  return { block: block.name, distance: round(distance) }
}

async function interactEntity (c, ref) {
  const bot = c.bot
  if (ref === undefined || ref === null || ref === '') throw badArguments('needs an entity')
  const entity = findEntity(bot, ref)
  if (!entity) throw new ActionError('target_not_found', `cannot see an entity ${ref}`)
  const distance = bot.entity.position.distanceTo(entity.position)
  if (distance > ENTITY_REACH) {
    throw new ActionError('too_far', `the entity is ${round(distance, 1)} blocks away; move_to it first`)
  }
  await bot.activateEntity(entity)
  return { entity: String(entity.id), name: entity.username || entity.name, distance: round(distance) }
}

async function interact (c, action) {
  if (action.target_type === 'block') return interactBlock(c, action)
  if (action.target_type === 'entity') return interactEntity(c, action.entity)
  throw badArguments("target_type must be 'block' or 'entity'")
}

async function useEntity (c, action) {
  return interactEntity(c, action.entity)
}

module.exports = { handlers: { interact, use_entity: useEntity } }
