'use strict'
// The Minecraft bridge's state file (minecraft_plugin_bridge/src/state.js): what one new
// game event costs the bridge's event loop while the daemon is away and 100 / 1,000 /
// 10,000 events already wait for its ack, next to the baseline in the same run, the
// whole-file write the bridge did before (JSON of the whole state, writeFileSync of a
// temporary file, rename; kept below as it was).
//
//   node benchmarks/bench_minecraft_state.js [--events N] [--dir DIR]
//
// For each backlog: the mean and the worst per-event cost of N new events (each queued on
// a real AdapterLink, then saved as index.js saves it); for the journal also one new
// snapshot (compaction: temporary file, fsync, rename, fsync of the folder) at that size
// and the cost per event with those snapshots spread over the events that grow the journal
// to the point of one (COMPACT_FACTOR times the snapshot, at least COMPACT_FLOOR bytes).
// The files go to DIR (default: the system's temporary folder; say which disk in a report).
// Chat events of ~190 bytes, as in the bridge's README (10,000 of them are ~1.9 MB).
// The machines here are shared and noisy: read the ratios.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const root = path.join(__dirname, '..', 'minecraft_plugin_bridge', 'src')
const { AdapterLink } = require(path.join(root, 'link'))
const { StateFile, COMPACT_FACTOR, COMPACT_FLOOR } = require(path.join(root, 'state'))
const { createLogger } = require(path.join(root, 'log'))

const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : fallback
}
const EVENTS = Number(opt('--events', '200'))
const DIR = opt('--dir', os.tmpdir())
const SERVER = { serverId: 'mc-bench', url: 'ws://127.0.0.1:8765/ws' }
const COMPANIONS = [{ sid: 'sess_0123456789abcdef', persona: { id: 'persona_1', name: 'Helpful Guide' }, location: { x: 10, y: 64, z: -3 }, username: 'HelpfulGuide', account: null, wasLive: true }]

/** The old StateFile.save, as it was before the journal: the baseline. */
class WholeFile {
  constructor (file) {
    this.file = file
    this.last = null
  }

  save (state) {
    const text = JSON.stringify({ version: 1, ...state })
    if (text === this.last) return
    const tmp = `${this.file}.${process.pid}.tmp`
    fs.mkdirSync(path.dirname(this.file), { recursive: true })
    fs.writeFileSync(tmp, text, { mode: 0o600 })
    fs.chmodSync(tmp, 0o600)
    fs.renameSync(tmp, this.file)
    this.last = text
  }
}

let n = 0
function chat () {
  n += 1
  return {
    type: 'player_chat',
    player: { id: '069a79f4-44e9-4726-a5be-fca90e38aaf5', name: 'Notch' },
    message: `hello there, companion, where did you put the diamonds? (line ${n})`
  }
}

/** A link on link_1 with `backlog` events waiting: the daemon is away. */
function awayLink (backlog) {
  const link = new AdapterLink({ world: 'minecraft', serverId: SERVER.serverId, key: 'k', capabilities: [], encoding: 'json', maxUnacked: 10 * backlog + EVENTS + 10 })
  link.linkId = link.eventsLink = 'link_0123456789abcdef'
  link.resumeToken = 'rt_0123456789abcdef0123456789abcdef'
  link.inS = 42
  for (let i = 0; i < backlog; i++) link.event(chat(), COMPANIONS[0].sid, 0)
  return link
}

/** ms per event: queue one, save as index.js did (old) or does (new). */
function perEvent (link, save) {
  const times = []
  for (let i = 0; i < EVENTS; i++) {
    const t = performance.now()
    link.event(chat(), COMPANIONS[0].sid, 0)
    save()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return { mean: times.reduce((a, b) => a + b, 0) / times.length, max: times[times.length - 1] }
}

const f = (ms) => ms < 0.1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms.toFixed(1)

function main () {
  const dir = fs.mkdtempSync(path.join(DIR, 'ae-bench-state-'))
  const log = createLogger('silent')
  console.log(`per-event save cost, ${EVENTS} new events per backlog; files in ${dir}`)
  console.log('backlog | file MB | whole file (before): mean / max ms | journal (now): mean / max ms | snapshot ms | journal amortized ms | speed-up')
  try {
    for (const backlog of [100, 1000, 10000]) {
      const oldFile = path.join(dir, `old-${backlog}.json`)
      const old = new WholeFile(oldFile)
      let link = awayLink(backlog)
      // what index.js did: a copy of the whole link (snapshot()), then the whole file
      const saveOld = () => old.save({ ...SERVER, link: link.snapshot(), companions: COMPANIONS, running: [] })
      saveOld()
      const before = perEvent(link, saveOld)
      const mb = fs.statSync(oldFile).size / 1e6

      const newFile = path.join(dir, `new-${backlog}.json`)
      const state = new StateFile(newFile, log)
      link = awayLink(backlog)
      const saveNew = () => state.save({ ...SERVER, link: link.view(), companions: COMPANIONS, running: [] })
      saveNew() // the first save of a run: a snapshot
      const after = perEvent(link, saveNew)
      const bytesPerEvent = state.journalBytes / EVENTS // the lines one event added
      // one new snapshot at this size, as a compaction writes it
      const t = performance.now()
      state._snapshot({ ...SERVER, link: link.view(), companions: COMPANIONS, running: [] })
      const snapshot = performance.now() - t
      const eventsPerSnapshot = Math.max(COMPACT_FLOOR, COMPACT_FACTOR * state.snapshotBytes) / bytesPerEvent
      const amortized = after.mean + snapshot / eventsPerSnapshot
      state.close()
      console.log(`${String(backlog).padStart(7)} | ${mb.toFixed(2).padStart(7)} | ${f(before.mean).padStart(8)} / ${f(before.max).padStart(6)} | ${f(after.mean).padStart(8)} / ${f(after.max).padStart(6)} | ${f(snapshot).padStart(6)} | ${f(amortized).padStart(7)} | ${(before.mean / amortized).toFixed(0)}x`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main()
