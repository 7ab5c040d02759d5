'use strict'
// emote: gestures a Minecraft player can make. Persona emote names map onto them:
// swing (wave, punch, ...), sneak (crouch, sit, bow, nod, ...), jump (hop, celebrate, ...),
// and a few sequences.

const { ActionError, badArguments } = require('./errors')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function swing (bot, times = 1) {
  for (let i = 0; i < times; i++) {
    bot.swingArm('right')
    if (i + 1 < times) await sleep(250)
  }
}

async function hold (bot, control, ms) {
  bot.setControlState(control, true)
  await sleep(ms)
  bot.setControlState(control, false)
}

const GESTURES = {
  swing: (bot) => swing(bot, 1),
  wave: (bot) => swing(bot, 3),
  sneak: (bot) => hold(bot, 'sneak', 1000),
  sit: (bot) => hold(bot, 'sneak', 2000),
  nod: async (bot) => { for (let i = 0; i < 2; i++) { await hold(bot, 'sneak', 250); await sleep(200) } },
  jump: (bot) => hold(bot, 'jump', 300),
  celebrate: async (bot) => { for (let i = 0; i < 3; i++) { await hold(bot, 'jump', 300); await sleep(300) } },
  dance: async (bot) => {
    for (let i = 0; i < 4; i++) { await hold(bot, 'sneak', 200); bot.swingArm(i % 2 ? 'left' : 'right'); await sleep(150) }
  }
}

const ALIASES = {
  punch: 'swing',
  hit: 'swing',
  point: 'swing',
  greet: 'wave',
  hello: 'wave',
  bye: 'wave',
  crouch: 'sneak',
  bow: 'sneak',
  kneel: 'sit',
  yes: 'nod',
  agree: 'nod',
  hop: 'jump',
  cheer: 'celebrate',
  party: 'dance'
}

function gestureOf (name) {
  if (typeof name !== 'string' || name.length === 0) throw badArguments('emote needs a name')
  const key = name.toLowerCase()
  const gesture = GESTURES[key] ? key : ALIASES[key]
  if (!gesture) {
    throw new ActionError('unknown_emote',
      `no Minecraft gesture for ${name}; known: ${[...Object.keys(GESTURES), ...Object.keys(ALIASES)].sort().join(', ')}`)
  }
  return gesture
}

async function emote (c, action) {
  const gesture = gestureOf(action.name ?? action.emote)
  await GESTURES[gesture](c.bot)
  return { gesture }
}

module.exports = { handlers: { emote }, gestureOf, GESTURES, ALIASES }
