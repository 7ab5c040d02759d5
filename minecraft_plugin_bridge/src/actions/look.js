'use strict'
// look_at: turn the companion's head towards a point or a player.

const { ActionError } = require('./errors')
const { pointOf, findPlayer, round } = require('./targets')

async function lookAt (c, action) {
  const bot = c.bot
  let point
  if (typeof action.target === 'string') {
    const player = findPlayer(bot, action.target)
    if (!player || !player.entity) {
      throw new ActionError('target_not_found', `cannot see a player ${action.target}`)
    }
    point = player.entity.position.offset(0, player.entity.height ?? 1.62, 0)
  } else {
    point = pointOf(action)
  }
  await bot.lookAt(point, true)
  return { yaw: round(bot.entity.yaw, 3), pitch: round(bot.entity.pitch, 3) }
}

module.exports = { handlers: { look_at: lookAt } }
