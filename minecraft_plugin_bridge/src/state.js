'use strict'
// The bridge's state file: what a restarted bridge (an upgrade, a crash, kill -9) needs to
// go on where it stopped. It holds the link (id, resume token, the last dispatch
// processed, events not yet acknowledged), the companions in the game and the actions
// still running. It is written whenever that changes (atomically: a temporary file, then
// a rename) with mode 0600: the resume token lets whoever holds it take over the link.
// The world key is never in it.

const fs = require('node:fs')
const path = require('node:path')
const { parseUrls } = require('./urls')

const VERSION = 1
const REMOVED = Symbol('removed') // `last` once the file is deleted

class StateFile {
  /**
   * @param {string} file  where (cli.js puts it next to the key file, or in the working folder)
   * @param {object} log
   */
  constructor (file, log) {
    this.file = file
    this.log = log
    this.last = null
  }

  /**
   * The saved state when it belongs to this server id and daemon (one of the addresses
   * it was saved with is still configured: the nodes of a cluster share the link); null
   * otherwise.
   */
  load ({ serverId, url }) {
    let text
    try {
      text = fs.readFileSync(this.file, 'utf8')
    } catch (err) {
      if (err.code !== 'ENOENT') this.log.warn('state.unreadable', { file: this.file, error: err.message })
      return null
    }
    let state
    try {
      state = JSON.parse(text)
    } catch (err) {
      this.log.warn('state.unreadable', { file: this.file, error: err.message })
      return null
    }
    const urls = parseUrls(url)
    const shared = parseUrls(state?.url).some((u) => urls.includes(u))
    if (!state || state.version !== VERSION || state.serverId !== serverId || !shared) {
      this.log.info('state.ignored', { file: this.file, why: 'saved for another server id or daemon' })
      return null
    }
    this.last = text
    return state
  }

  /** Write the state (skipped when nothing changed). Never throws. */
  save (state) {
    const text = JSON.stringify({ version: VERSION, ...state })
    if (text === this.last) return
    const tmp = `${this.file}.${process.pid}.tmp`
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true })
      fs.writeFileSync(tmp, text, { mode: 0o600 })
      fs.chmodSync(tmp, 0o600)
      fs.renameSync(tmp, this.file)
      this.last = text
    } catch (err) {
      this.log.error('state.write_failed', { file: this.file, error: err.message })
    }
  }

  /**
   * Nothing to take up (a refused key: the link is gone for good; or no link, companion
   * nor running action): a restart must not try to resume what was saved. Never throws.
   */
  remove () {
    if (this.last === REMOVED) return // already gone: no unlink on every change
    try {
      fs.unlinkSync(this.file)
    } catch {}
    this.last = REMOVED
  }
}

module.exports = { StateFile, VERSION }
