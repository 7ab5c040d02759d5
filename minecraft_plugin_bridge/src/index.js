'use strict'
// The bridge: one link to the daemon (connection.js) and one bot per companion (bots.js).

const { EventEmitter } = require('node:events')
const { BridgeConnection } = require('./connection')
const { CompanionManager } = require('./bots')
const { CAPABILITIES } = require('./actions')
const { createLogger } = require('./log')
const { version } = require('../package.json')

const WORLD = 'minecraft'

class Bridge extends EventEmitter {
  /**
   * @param {object} options  what cli.js reads from flags and the environment
   * @param {object} [deps]   {createBot, log}: tests pass a fake bot factory
   */
  constructor (options, { createBot, log } = {}) {
    super()
    this.options = options
    this.log = log || createLogger(options.logLevel || 'info')
    this.connection = new BridgeConnection({
      url: options.url,
      key: options.key,
      serverId: options.serverId,
      capabilities: [...CAPABILITIES],
      encoding: options.encoding || 'msgpack',
      world: WORLD,
      maxBackoff: options.maxBackoff ?? 60,
      adapter: { name: 'ae-minecraft-bridge', version },
      log: this.log
    })
    this.companions = new CompanionManager({
      sendEvent: (d, sid) => this.connection.sendEvent(d, sid),
      options,
      log: this.log,
      ...(createBot ? { createBot } : {})
    })
    this.connection.on('dispatch', (frame) => this.companions.handleDispatch(frame))
    this.connection.on('ready', ({ sessions }) => {
      this.companions.handleReady(sessions)
      this.emit('ready')
    })
    this.connection.on('resumed', () => this.emit('resumed'))
    this.connection.on('stopped', (info) => {
      this.companions.shutdown('link stopped')
      this.emit('stopped', info)
    })
  }

  start () {
    this.log.info('bridge.starting', {
      version,
      url: this.options.url,
      server_id: this.options.serverId,
      minecraft: `${this.options.mcHost}:${this.options.mcPort}`,
      auth: this.options.auth,
      capabilities: CAPABILITIES.join(',')
    })
    this.connection.start()
    return this
  }

  async stop (reason = 'bridge stopping') {
    this.companions.shutdown(reason)
    await this.connection.stop()
  }
}

module.exports = { Bridge, WORLD, CAPABILITIES, version }
