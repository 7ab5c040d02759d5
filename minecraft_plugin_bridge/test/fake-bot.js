'use strict'
// A stand-in for a Mineflayer bot: the parts of its API the bridge uses, recording what
// the bridge asks of it. Tests drive it (spawn, chat from players, kicks).

const { EventEmitter } = require('node:events')
const { Vec3 } = require('vec3')

let nextId = 100

class FakeBot extends EventEmitter {
  constructor (options, { opLevel = 0, walk = true } = {}) {
    super()
    this.options = options
    this.username = options.username
    this.opLevelOnSpawn = opLevel
    this.walk = walk // goto reaches the goal (else it never finishes)
    this.entity = { id: nextId++, position: new Vec3(0, 5, 0), height: 1.62, yaw: 0, pitch: 0, username: options.username }
    this.players = {}
    this.entities = { [this.entity.id]: this.entity }
    this.health = undefined
    this.food = undefined
    this.chats = []
    this.controls = []
    this.swings = 0
    this.quitWith = null
    this.items = []
    this.heldItem = null
    this.activated = []
    this._client = new EventEmitter()
    this.registry = { itemsByName: { stick: { id: 1 }, bread: { id: 2 }, diamond_sword: { id: 3 } }, foodsByName: { bread: {} } }
    this.inventory = { items: () => this.items, slots: [] }
    const bot = this
    this.goals = []
    this.pathfinder = {
      thinkTimeout: 0,
      setMovements () {},
      setGoal (goal) {
        bot.goals.push(goal)
        bot.emit('goal_updated', goal)
      },
      goto (goal) {
        bot.goals.push(goal)
        return new Promise((resolve, reject) => {
          const changed = (g) => { if (g !== goal) { bot.removeListener('goal_updated', changed); const e = new Error('changed'); e.name = 'GoalChanged'; reject(e) } }
          bot.on('goal_updated', changed)
          if (bot.walk) {
            setTimeout(() => {
              bot.removeListener('goal_updated', changed)
              bot.entity.position = new Vec3(goal.x, goal.y, goal.z)
              resolve()
            }, 20)
          }
        })
      }
    }
  }

  /** The server lets the bot in: op level, spawn, then the first health update. */
  spawnNow () {
    this._client.emit('entity_status', { entityId: this.entity.id, entityStatus: 24 + this.opLevelOnSpawn })
    this.emit('spawn')
    this.health = 20
    this.food = 20
    this.emit('health')
  }

  addPlayer (name, position = new Vec3(3, 5, 0)) {
    const entity = { id: nextId++, position, height: 1.62, username: name, type: 'player' }
    this.entities[entity.id] = entity
    this.players[name] = { username: name, uuid: `uuid-${name}`, entity }
    return this.players[name]
  }

  chat (message) { this.chats.push(message) }
  quit (reason) { this.quitWith = reason; setImmediate(() => this.emit('end', reason)) }
  swingArm () { this.swings += 1 }
  setControlState (control, state) { this.controls.push([control, state]) }
  clearControlStates () { this.controls.push(['all', false]) }
  async lookAt (point) { this.lookedAt = point }
  blockAt (pos) { return pos.y < 5 ? { name: 'grass_block', position: pos } : { name: 'air', position: pos } }
  async activateBlock (block) { this.activated.push(block.name) }
  async activateEntity (entity) { this.activated.push(entity.username || entity.id) }
  async equip (item, hand) { this.heldItem = item; this.equipped = [item.name, hand] }
  activateItem () { this.activated.push('item') }
  deactivateItem () {}
}

/** A bot factory for CompanionManager that keeps every bot it made. */
function fakeFactory (opts = {}) {
  const bots = []
  const create = (options) => {
    const bot = new FakeBot(options, opts)
    bots.push(bot)
    return bot
  }
  return { create, bots }
}

module.exports = { FakeBot, fakeFactory }
