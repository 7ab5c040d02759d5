'use strict'
// The bridge's state file: what a restarted bridge (an upgrade, a crash, kill -9) needs to
// go on where it stopped. It holds the link (id, resume token, the last dispatch
// processed, events not yet acknowledged), the companions in the game and the actions
// still running. Mode 0600: the resume token lets whoever holds it take over the link.
// The world key is never in it.
//
// The file is a snapshot line followed by a journal, one JSON line per change:
//
//   {"version":2,"serverId":..,"url":..,"link":{..,"unacked":[{s,d,sid}]},"companions":[..],"running":[..]}
//   {"t":"e","s":12,"d":{..},"sid":".."}   an event queued (it also sets the link's outS)
//   {"t":"a","s":9}                        the daemon acknowledged our events up to s
//   {"t":"l","link":{linkId,resumeToken,eventsLink,inS,outS}|null}   the link's header
//   {"t":"c","companions":[..]}  {"t":"r","running":[..]}            their new lists
//
// Why: with the daemon away, up to --max-unacked (10,000) events wait in the file, and
// rewriting all of it (about 2 MB) on every change cost 10-55 ms of the bot's event loop per
// game event. A change now appends a line or two with one synchronous write to an open
// descriptor, whatever the backlog: once save() returns, the change is in the kernel and
// survives kill -9 of the bridge. When the journal grows past COMPACT_FACTOR times the
// snapshot (and COMPACT_FLOOR bytes), the whole state is written again as a new snapshot
// (a temporary file, fsync, rename, fsync of the folder), so that cost is spread over the
// changes that grew the journal. A new snapshot is also written on the first save of a
// run and when the events were numbered again (a new link): their lines no longer apply.
//
// Limits: journal lines are not fsynced one by one (an fsync per game event would cost
// more than the rewrite did on a slow disk): a power loss may lose the last changes the
// kernel had not written yet, never the snapshot before them, and a line cut short is
// ignored on load with a warning (state.torn_tail), nothing before it lost. One bridge
// process per state file (as before): two would interleave their lines.

const fs = require('node:fs')
const path = require('node:path')
const { parseUrls } = require('./urls')
const { savedEvent } = require('./link')

const VERSION = 2
/** Older versions load too: version 1 was the whole state as one JSON document. */
const READABLE = new Set([1, 2])
const REMOVED = Symbol('removed') // `fd` once the file is deleted
/** A new snapshot once the journal is this many times the snapshot's size ... */
const COMPACT_FACTOR = 2
/** ... and at least this many bytes (a small state is not rewritten every few changes). */
const COMPACT_FLOOR = 256 * 1024

/** The link's header: everything but its events (never the world key: the link has none to give). */
function linkHeader (link) {
  if (link === null || link === undefined) return null
  const header = {}
  if (link.linkId !== undefined) header.linkId = link.linkId
  if (link.resumeToken !== undefined) header.resumeToken = link.resumeToken
  header.eventsLink = link.eventsLink ?? null
  header.inS = link.inS
  header.outS = link.outS
  return header
}

/** The header less outS, which each event line sets: an event needs no header line too. */
function headerKey (header) {
  return header === null ? 'null' : JSON.stringify({ ...header, outS: undefined })
}


class StateFile {
  /**
   * @param {string} file  where (cli.js puts it next to the key file, or in the working folder)
   * @param {object} log
   * @param {{compactFactor?: number, compactFloor?: number}} [o]  when to write a new snapshot
   */
  constructor (file, log, { compactFactor = COMPACT_FACTOR, compactFloor = COMPACT_FLOOR } = {}) {
    this.file = file
    this.log = log
    this.compactFactor = compactFactor
    this.compactFloor = compactFloor
    this.fd = null // open on the file while its journal is ours to append to (REMOVED once deleted)
    this.j = null // what the file holds, as far as save() needs to know (see _track)
    this.journalBytes = 0
    this.snapshotBytes = 0
  }

  /**
   * The saved state when it belongs to this server id and daemon (one of the addresses
   * it was saved with is still configured: the nodes of a cluster share the link); null
   * otherwise. The snapshot with its journal replayed; a version-1 file (one JSON
   * document) loads as it is. A file that cannot be read is ignored with a warning.
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
      state = this._replay(text)
    } catch (err) {
      this.log.warn('state.unreadable', { file: this.file, error: err.message })
      return null
    }
    const urls = parseUrls(url)
    const shared = parseUrls(state?.url).some((u) => urls.includes(u))
    if (!state || !READABLE.has(state.version) || state.serverId !== serverId || !shared) {
      this.log.info('state.ignored', { file: this.file, why: 'saved for another server id or daemon' })
      return null
    }
    return state
  }

  /** The snapshot (the first line) and the journal lines after it, applied in order. */
  _replay (text) {
    const end = text.indexOf('\n')
    let state
    try {
      state = JSON.parse(end < 0 ? text : text.slice(0, end))
    } catch (err) {
      state = JSON.parse(text) // a version-1 file written by hand over several lines; else unreadable
      return state
    }
    if (end < 0 || !state || typeof state !== 'object' || !READABLE.has(state.version)) return state
    let link = state.link && typeof state.link === 'object' ? state.link : null
    const events = link && Array.isArray(link.unacked) ? link.unacked : []
    let head = 0 // events before it were acknowledged
    let from = end + 1
    let line = 0
    while (from < text.length) {
      let to = text.indexOf('\n', from)
      const torn = to < 0 // a line is complete once its newline is written
      if (torn) to = text.length
      const raw = text.slice(from, to)
      from = to + 1
      line += 1
      if (raw.trim() === '') continue
      let r
      try {
        if (torn) throw new Error('no end of line')
        r = JSON.parse(raw)
      } catch (err) {
        const rest = text.slice(from).split('\n').filter((l) => l.trim() !== '').length
        this.log.warn(rest === 0 ? 'state.torn_tail' : 'state.journal_corrupt', {
          file: this.file, line, error: err.message, dropped_lines: rest + 1
        })
        break
      }
      switch (r?.t) {
        case 'e':
          if (link === null) link = { eventsLink: null, inS: 0, outS: 0 }
          events.push(r.sid !== undefined ? { s: r.s, d: r.d, sid: r.sid } : { s: r.s, d: r.d })
          link.outS = r.s
          break
        case 'a':
          while (head < events.length && events[head].s <= r.s) head++
          break
        case 'l':
          if (r.link === null) {
            link = null
            head = events.length // no link: no events either
          } else {
            link = { ...r.link }
          }
          break
        case 'c':
          state.companions = r.companions
          break
        case 'r':
          state.running = r.running
          break
        default:
          break // a line of a later version: skipped
      }
    }
    if (link !== null) link.unacked = events.slice(head)
    state.link = link
    return state
  }

  /**
   * Record the state; never throws. `state.link` is the link's header and its `unacked`
   * events (AdapterLink.view(): the link's own array, not a copy). The events the file
   * already holds are told apart by identity: the link only appends new frames and drops
   * acknowledged ones from the front, so a change costs the lines for what changed, not
   * the backlog. Anything else (new frames, numbered again) writes a new snapshot.
   */
  save (state) {
    try {
      if (this.fd === null || this.fd === REMOVED || this.j === null) return this._snapshot(state)
      const lines = this._diff(state)
      if (lines === null) return this._snapshot(state)
      if (lines.length === 0) return
      const text = lines.join('\n') + '\n'
      this._append(text)
      if (this.journalBytes > Math.max(this.compactFloor, this.compactFactor * this.snapshotBytes)) {
        this._snapshot(state)
      }
    } catch (err) {
      this.log.error('state.write_failed', { file: this.file, error: err.message })
      this._close() // the next save writes a whole snapshot again
    }
  }

  /** The journal lines from what the file holds to `state`; null when a snapshot is due. */
  _diff (state) {
    const j = this.j
    if (state.serverId !== j.serverId || state.url !== j.url) return null
    const lines = []
    const link = state.link ?? null
    const u = link === null ? [] : (link.unacked || [])
    if (link !== null && j.count > 0 && ((link.eventsLink ?? null) !== j.eventsLink || link.outS < j.outS)) {
      return null // numbered again on a new link: the lines for the old numbers no longer apply
    }
    // the new events: at the end, numbered after the last one written
    let i = u.length - 1
    if (j.count > 0) {
      while (i >= 0 && u[i].s > j.lastS) i--
      if (i >= 0 && u[i] !== j.lastFrame) return null // not the frames written: start again
    } else {
      i = -1
    }
    const first = i >= 0 ? u[0].s : null
    if (j.count > 0 && (i < 0 || first > j.firstS)) {
      lines.push(JSON.stringify({ t: 'a', s: i >= 0 ? first - 1 : j.lastS }))
    }
    let outS = j.outS
    for (let k = i + 1; k < u.length; k++) {
      lines.push(JSON.stringify({ t: 'e', ...savedEvent(u[k]) }))
      outS = u[k].s
    }
    const header = linkHeader(link)
    const headerText = headerKey(header)
    if (headerText !== j.header || (header !== null && header.outS !== outS)) {
      lines.push(JSON.stringify({ t: 'l', link: header }))
    }
    const companions = JSON.stringify(state.companions ?? [])
    if (companions !== j.companions) lines.push(`{"t":"c","companions":${companions}}`)
    const running = JSON.stringify(state.running ?? [])
    if (running !== j.running) lines.push(`{"t":"r","running":${running}}`)
    this._track(state, headerText, companions, running)
    return lines
  }

  /** Remember what the file holds now (the frames by identity: see save()). */
  _track (state, headerText, companions, running) {
    const link = state.link ?? null
    const u = link === null ? [] : (link.unacked || [])
    const last = u.length > 0 ? u[u.length - 1] : null
    this.j = {
      serverId: state.serverId,
      url: state.url,
      header: headerText,
      companions,
      running,
      eventsLink: link === null ? null : (link.eventsLink ?? null),
      outS: link === null ? 0 : link.outS,
      count: u.length,
      firstS: u.length > 0 ? u[0].s : null,
      lastS: last === null ? null : last.s,
      lastFrame: last
    }
  }

  _append (text) {
    this.journalBytes += writeAll(this.fd, text)
  }

  /** The whole state as a new file: a temporary one, fsync, rename, fsync of the folder. */
  _snapshot (state) {
    this._close()
    const link = state.link ?? null
    const header = linkHeader(link)
    const snapshot = {
      version: VERSION,
      ...state,
      link: header === null ? null : { ...header, unacked: (link.unacked || []).map(savedEvent) }
    }
    const text = JSON.stringify(snapshot) + '\n'
    const tmp = `${this.file}.${process.pid}.tmp`
    const dir = path.dirname(this.file)
    let fd = null
    try {
      fs.mkdirSync(dir, { recursive: true })
      fd = fs.openSync(tmp, 'w', 0o600)
      fs.fchmodSync(fd, 0o600)
      writeAll(fd, text)
      fs.fsyncSync(fd)
      fs.renameSync(tmp, this.file)
    } catch (err) {
      if (fd !== null) fs.closeSync(fd)
      try { fs.unlinkSync(tmp) } catch {}
      this.log.error('state.write_failed', { file: this.file, error: err.message })
      return
    }
    fsyncDir(dir)
    this.fd = fd // the journal goes on after the snapshot, in the same file
    this.snapshotBytes = Buffer.byteLength(text)
    this.journalBytes = 0
    this._track(state, headerKey(header), JSON.stringify(state.companions ?? []), JSON.stringify(state.running ?? []))
  }

  _close () {
    if (this.fd !== null && this.fd !== REMOVED) {
      try { fs.closeSync(this.fd) } catch {}
    }
    if (this.fd !== REMOVED) this.fd = null
    this.j = null
  }

  /** A clean stop: what was appended goes to the disk, and the file is let go. Never throws. */
  close () {
    if (this.fd !== null && this.fd !== REMOVED) {
      try { fs.fsyncSync(this.fd) } catch {}
    }
    this._close()
  }

  /**
   * Nothing to take up (a refused key: the link is gone for good; or no link, companion
   * nor running action): a restart must not try to resume what was saved. Never throws.
   */
  remove () {
    if (this.fd === REMOVED) return // already gone: no unlink on every change
    this._close()
    try {
      fs.unlinkSync(this.file)
    } catch {}
    this.fd = REMOVED
  }
}

/** Write all of `text` at the descriptor's position (a write may take part of it); its byte length. */
function writeAll (fd, text) {
  const buf = Buffer.from(text, 'utf8')
  let off = 0
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off)
  return buf.length
}

/** After a rename: the new name itself on the disk. Some systems refuse it; never throws. */
function fsyncDir (dir) {
  let fd = null
  try {
    fd = fs.openSync(dir, 'r')
    fs.fsyncSync(fd)
  } catch {}
  if (fd !== null) {
    try { fs.closeSync(fd) } catch {}
  }
}

module.exports = { StateFile, VERSION, COMPACT_FACTOR, COMPACT_FLOOR }
