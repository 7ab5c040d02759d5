'use strict'
// The bridge: one link to the daemon (connection.js) and one bot per companion (bots.js).

const { EventEmitter } = require('node:events')
const { BridgeConnection } = require('./connection')
const { CompanionManager } = require('./bots')
const { CAPABILITIES } = require('./actions')
const { createLogger } = require('./log')
const { StateFile } = require('./state')
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
      maxUnacked: options.maxUnacked,
      adapter: { name: 'ae-minecraft-bridge', version },
      log: this.log
    })
    this.companions = new CompanionManager({
      sendEvent: (d, sid) => this.connection.sendEvent(d, sid),
      options,
      log: this.log,
      onChange: () => this.saveState(),
      ...(createBot ? { createBot } : {})
    })
    // the state file (state.js): a restarted bridge resumes its link and its companions
    this.state = options.stateFile ? new StateFile(options.stateFile, this.log) : null
    this.frozen = false // after stop() began: what is saved is what the next start takes up
    this.connection.on('state', () => this.saveState())
    this.connection.on('dispatch', (frame) => this.companions.handleDispatch(frame))
    this.connection.on('ready', ({ sessions }) => {
      this.companions.handleReady(sessions)
      this.emit('ready')
    })
    this.connection.on('resumed', () => this.emit('resumed'))
    this.connection.on('stopped', (info) => {
      this.frozen = true
      // a refused key or protocol: nothing to resume (after 4014 the newer bridge owns the link)
      if (info?.code === 4004 || info?.code === 4011) this.state?.remove()
      this.companions.shutdown('link stopped')
      this.emit('stopped', info)
    })
  }

  /**
   * Write what a restarted bridge needs (the link, companions, running actions). With no
   * link to resume and no events waiting (before the first ready, or after the daemon
   * refused the link, 4009, and before the next ready) the file holds `link: null`, so a
   * restart identifies at once rather than trying a resume that fails, but it still keeps
   * the companions and the running actions (answered `interrupted` after a restart).
   */
  saveState (companions) {
    if (!this.state || this.frozen) return
    const link = this.connection.link.view() // no copy of the backlog: see StateFile.save
    const snap = this.companions.snapshot()
    companions = companions ?? snap.companions
    if (link === null && companions.length === 0 && snap.running.length === 0) {
      this.state.remove() // nothing worth taking up (and no refused link to resume)
      return
    }
    this.state.save({ serverId: this.options.serverId, url: this.options.url, link, companions, running: snap.running })
  }

  /** Take up the state file of an earlier run (after a restart, kill -9 included). */
  _restore () {
    const saved = this.state?.load({ serverId: this.options.serverId, url: this.options.url })
    if (!saved) return
    // no link (it was refused): identify, but the companions and running actions still count
    if (saved.link !== null && !this.connection.link.restore(saved.link)) return
    const link = saved.link ?? {}
    this.log.info(link.linkId ? 'bridge.resuming' : link.eventsLink ? 'bridge.identifying_with_saved_events' : 'bridge.identifying', {
      link_id: link.linkId ?? null,
      events_link: link.eventsLink ?? null,
      unacked: (link.unacked || []).length,
      companions: (saved.companions || []).length,
      running: (saved.running || []).length,
      state_file: this.options.stateFile
    })
    this.companions.restore(saved)
  }

  /** Is the Minecraft server there? Logged once at start-up (companions keep trying anyway). */
  checkMinecraft () {
    const { mcHost: host, mcPort: port } = this.options
    let ping
    try {
      ping = require('minecraft-protocol').ping
    } catch (err) {
      return Promise.resolve(null)
    }
    return new Promise((resolve) => {
      ping({ host, port, closeTimeout: 5000, noPongTimeout: 5000 }, (err, res) => {
        if (err) {
          this.log.error('minecraft.unreachable', {
            server: `${host}:${port}`,
            error: err.message || String(err),
            hint: 'check --mc-host / --mc-port and that the server is up; companions keep trying to join'
          })
          return resolve(null)
        }
        this.log.info('minecraft.reachable', {
          server: `${host}:${port}`,
          version: res?.version?.name,
          players: res?.players ? `${res.players.online}/${res.players.max}` : undefined
        })
        resolve(res)
      })
    })
  }

  start () {
    this.log.info('bridge.starting', {
      version,
      url: this.options.url,
      server_id: this.options.serverId,
      minecraft: `${this.options.mcHost}:${this.options.mcPort}`,
      auth: this.options.auth,
      capabilities: CAPABILITIES.join(','),
      state_file: this.options.stateFile
    })
    this.checkMinecraft()
    this._restore()
    this.connection.start()
    return this
  }

  async stop (reason = 'bridge stopping') {
    // the companions leave (their running actions are answered), but the state file keeps
    // them: the next start brings them back and resumes the link
    const { companions } = this.companions.snapshot()
    this.companions.shutdown(reason)
    this.saveState(companions)
    this.frozen = true
    this.state?.close()
    await this.connection.stop()
  }
}

module.exports = { Bridge, WORLD, CAPABILITIES, version }
