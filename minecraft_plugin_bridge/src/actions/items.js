'use strict'
// equip and use_item: items from the companion's own inventory.

const { ActionError, badArguments } = require('./errors')

const HANDS = { hand: 'hand', 'off-hand': 'off-hand', offhand: 'off-hand', off_hand: 'off-hand' }
const HOLD_MS = 1700 // long enough to eat or drink
const TAP_MS = 100

function itemName (name) {
  if (typeof name !== 'string' || name.length === 0) throw badArguments('needs an item name')
  return name.toLowerCase().replace(/^minecraft:/, '')
}

function findItem (bot, name) {
  if (!bot.registry.itemsByName[name]) throw badArguments(`there is no item called ${name}`)
  const held = bot.inventory.items()
  return held.find((item) => item.name === name) ??
    (bot.inventory.slots[45]?.name === name ? bot.inventory.slots[45] : null)
}

async function equip (c, action) {
  const bot = c.bot
  const name = itemName(action.item)
  const hand = HANDS[action.hand ?? 'hand']
  if (!hand) throw badArguments("hand must be 'hand' or 'off-hand'")
  const item = findItem(bot, name)
  if (!item) throw new ActionError('not_in_inventory', `the companion has no ${name}`)
  await bot.equip(item, hand)
  return { item: name, hand }
}

async function useItem (c, action) {
  const bot = c.bot
  let name = null
  if (action.item !== undefined && action.item !== null) {
    name = itemName(action.item)
    if (bot.heldItem?.name !== name) {
      const item = findItem(bot, name)
      if (!item) throw new ActionError('not_in_inventory', `the companion has no ${name}`)
      await bot.equip(item, 'hand')
    }
  }
  const held = bot.heldItem
  if (!held) throw new ActionError('nothing_held', 'the companion holds nothing to use')
  const consumable = Boolean(bot.registry.foodsByName?.[held.name]) || held.name.endsWith('potion')
  bot.activateItem()
  await new Promise((resolve) => setTimeout(resolve, consumable ? HOLD_MS : TAP_MS))
  bot.deactivateItem()
  return { item: held.name }
}

module.exports = { handlers: { equip, use_item: useItem } }
