'use strict'
// The state file (src/state.js): a snapshot and a journal of changes. A change costs a
// line whatever the backlog; what save() took survives a crash (kill -9 of a real bridge
// process included); a line cut short is ignored, nothing before it lost; a new snapshot
// keeps everything; a version-1 file (the whole state as one document) still loads.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { StateFile } = require('../src/state')
const { AdapterLink } = require('../src/link')
const { Bridge } = require('../src/index')
const { createLogger } = require('../src/log')
const { encodeValue } = require('../src/codec')
const { fakeDaemon } = require('./fake-daemon')
const { fakeFactory } = require('./fake-bot')

const SERVER = { serverId: 'mc-1', url: 'ws://x/ws' }

function tmpFile () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-statefile-'))
  return { dir, file: path.join(dir, 'ae-minecraft-bridge.state.json') }
}

/** A logger keeping its records (and writing nothing). */
function recorder () {
  const records = []
  const log = createLogger('debug', { write: (line) => records.push(JSON.parse(line)) })
  log.records = (event) => records.filter((r) => r.event === event)
  return log
}

/** A link that is ready on link_1, its daemon away (nothing is acknowledged). */
function readyLink (linkId = 'link_1') {
  const link = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'], encoding: 'json', random: () => 0.5 })
  link.connected(0)
  link.receive(encodeValue({ op: 'hello', d: { heartbeat_interval: 1000 } }, 'json'), false, 0)
  link.receive(encodeValue({ op: 'ready', d: { link_id: linkId, resume_token: 'tok', sessions: [] } }, 'json'), false, 0)
  return link
}

const chat = (i) => ({ type: 'player_chat', player: { id: 'u1', name: 'Alex' }, message: `chat number ${i} from the game` })

/** What the bridge saves (index.js saveState). */
function stateOf (link, companions = [], running = []) {
  return { ...SERVER, link: link.view(), companions, running }
}

/** What a restarted bridge would take up, from a fresh StateFile (no clean close before). */
function reload (file, log = createLogger('silent'), server = SERVER) {
  const loaded = new StateFile(file, log).load(server)
  assert.ok(loaded, 'the state file loads')
  return loaded
}

test('a change appends to the file whatever the backlog; a fresh StateFile takes up every change without a clean close', () => {
  const { dir, file } = tmpFile()
  const state = new StateFile(file, createLogger('silent'))
  const link = readyLink()
  for (let i = 1; i <= 2000; i++) link.event(chat(i), i % 2 ? 's1' : undefined, 0)
  state.save(stateOf(link))
  const { ino } = fs.statSync(file)
  let size = fs.statSync(file).size
  // one more event on a backlog of 2,000: a line at the end, the file is not written again
  link.event(chat(2001), 's1', 0)
  state.save(stateOf(link))
  assert.equal(fs.statSync(file).ino, ino)
  const grew = fs.statSync(file).size - size
  assert.ok(grew > 0 && grew < 200, `one line appended, not the whole file (${grew} bytes)`)
  size = fs.statSync(file).size
  state.save(stateOf(link)) // nothing changed: nothing written
  assert.equal(fs.statSync(file).size, size)
  // acks, dispatches processed, companions and running actions: lines too
  link._acked(700)
  link.inS = 5
  const companions = [{ sid: 's1', persona: { id: 'p1', name: 'Guide' }, location: { x: 1, y: 2, z: 3 }, username: 'Guide', wasLive: true }]
  state.save(stateOf(link, companions, [{ id: 'm1', sid: 's1' }]))
  link.event(chat(2002), undefined, 0)
  state.save(stateOf(link, companions, []))
  assert.equal(fs.statSync(file).ino, ino)
  assert.equal(fs.statSync(file).mode & 0o777, 0o600)
  assert.ok(!fs.readFileSync(file, 'utf8').includes('secret')) // never the world key

  const loaded = reload(file) // `state` was never closed: a crash
  assert.deepEqual(loaded.link, link.snapshot())
  assert.equal(loaded.link.unacked.length, 2002 - 700)
  assert.deepEqual(loaded.link.unacked[0], { s: 701, d: chat(701), sid: 's1' })
  assert.deepEqual(loaded.companions, companions)
  assert.deepEqual(loaded.running, [])
  // the restarted link resumes where it stopped, every event still to send
  const again = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'], encoding: 'json' })
  assert.ok(again.restore(loaded.link))
  const [resume] = again.receive(encodeValue({ op: 'hello', d: { heartbeat_interval: 1000 } }, 'json'), false, 0)
  assert.deepEqual(resume.frame, { op: 'resume', d: { link_id: 'link_1', resume_token: 'tok', last_s: 5 } })
  assert.equal(again.outS, 2002)
  fs.rmSync(dir, { recursive: true })
})

test('a line cut short by a crash is ignored with a warning; nothing before it is lost', () => {
  const { dir, file } = tmpFile()
  const state = new StateFile(file, createLogger('silent'))
  const link = readyLink()
  for (let i = 1; i <= 10; i++) {
    link.event(chat(i), undefined, 0)
    state.save(stateOf(link))
  }
  // the process died in the middle of the next append
  fs.appendFileSync(file, JSON.stringify({ t: 'e', s: 11, d: chat(11) }).slice(0, 25))
  const log = recorder()
  const loaded = reload(file, log)
  assert.deepEqual(loaded.link.unacked.map((f) => f.s), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  assert.equal(loaded.link.outS, 10)
  assert.equal(log.records('state.torn_tail').length, 1)
  assert.equal(log.records('state.unreadable').length, 0)
  // the restarted bridge writes on: a clean file again, the cut line gone
  const again = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'], encoding: 'json' })
  assert.ok(again.restore(loaded.link))
  const next = new StateFile(file, createLogger('silent'))
  next.save(stateOf(again))
  again.event(chat(11), undefined, 0)
  next.save(stateOf(again))
  const quiet = recorder()
  assert.deepEqual(reload(file, quiet).link.unacked.map((f) => f.d.message), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => chat(i).message))
  assert.equal(quiet.records('state.torn_tail').length, 0)
  // a line spoiled in the middle (a disk fault): what comes before it is taken up, with a warning
  again.event(chat(12), undefined, 0)
  next.save(stateOf(again))
  const lines = fs.readFileSync(file, 'utf8').split('\n') // the snapshot, events 11 and 12
  assert.equal(lines.length, 4)
  lines[1] = '{"t":"e","s":garbage'
  fs.writeFileSync(file, lines.join('\n'))
  const spoiled = recorder()
  assert.equal(reload(file, spoiled).link.unacked.length, 10)
  assert.equal(spoiled.records('state.journal_corrupt').length, 1)
  // a file that is not ours at all: ignored with a warning, as before
  fs.writeFileSync(file, 'not json\n{"t":"e"}\n')
  const foreign = recorder()
  assert.equal(new StateFile(file, foreign).load(SERVER), null)
  assert.equal(foreign.records('state.unreadable').length, 1)
  fs.rmSync(dir, { recursive: true })
})

test('new snapshots (compaction) keep everything: events, acks, a new link, companions, running actions', () => {
  const { dir, file } = tmpFile()
  // a snapshot once the journal passes twice the snapshot's size (and 2 KB): many of them
  const state = new StateFile(file, createLogger('silent'), { compactFactor: 2, compactFloor: 2048 })
  const link = readyLink()
  let companions = []
  let running = []
  let ino = null
  let snapshots = 0 // a new snapshot is a new file (renamed over the old one)
  let n = 0
  for (let step = 1; step <= 1500; step++) {
    if (step % 7 === 0 && link.unacked.length > 0) link._acked(link.unacked[Math.floor(link.unacked.length / 2)].s)
    else link.event(chat(++n), step % 3 ? `s${step % 4}` : undefined, 0)
    if (step % 50 === 0) companions = [...companions, { sid: `s${step}`, persona: { id: 'p', name: 'P' }, location: null, username: `P${step}`, wasLive: false }]
    if (step % 40 === 0) running = step % 80 === 0 ? [] : [{ id: `m${step}`, sid: 's1' }]
    if (step === 900) {
      // the link refused, then a new one: the events are numbered again
      link.closed(4009)
      link.connected(1)
      link.receive(encodeValue({ op: 'hello', d: { heartbeat_interval: 1000 } }, 'json'), false, 1)
      link.receive(encodeValue({ op: 'ready', d: { link_id: 'link_2', resume_token: 'tok2', sessions: [], previous: { link_id: 'link_1', in_s: link.unacked[3].s } } }, 'json'), false, 1)
      link.closed(1006) // away again
    }
    state.save(stateOf(link, companions, running))
    const st = fs.statSync(file)
    if (st.ino !== ino) snapshots += 1
    ino = st.ino
    // the journal stays within twice the snapshot (and 2 KB), plus the lines of one change
    const snapshotSize = fs.readFileSync(file, 'utf8').indexOf('\n') + 1
    assert.ok(st.size <= 2048 + 3 * snapshotSize + 1024, `step ${step}: ${st.size} bytes, snapshot ${snapshotSize}`)
    if (step % 100 === 0 || step === 901) {
      const loaded = reload(file)
      assert.deepEqual(loaded.link, link.snapshot(), `step ${step}`)
      assert.deepEqual(loaded.companions, companions)
      assert.deepEqual(loaded.running, running)
    }
  }
  assert.ok(snapshots > 5, `new snapshots were written (${snapshots})`)
  fs.rmSync(dir, { recursive: true })
})

test('a version-1 state file (one JSON document) loads, its backlog kept, and is written anew', () => {
  const { dir, file } = tmpFile()
  const unacked = []
  for (let s = 1; s <= 300; s++) unacked.push({ s, d: chat(s), ...(s % 2 ? { sid: 's1' } : {}) })
  const v1 = {
    version: 1, serverId: 'mc-1', url: 'ws://x/ws',
    link: { linkId: 'link_1', resumeToken: 'tok', eventsLink: 'link_1', inS: 4, outS: 300, unacked },
    companions: [{ sid: 's1', persona: { id: 'p1', name: 'Guide' }, location: null, username: 'Guide', wasLive: true }],
    running: [{ id: 'm1', sid: 's1' }]
  }
  fs.writeFileSync(file, JSON.stringify(v1), { mode: 0o600 }) // what the older bridge wrote
  const loaded = reload(file)
  assert.deepEqual(loaded.link, v1.link)
  assert.deepEqual(loaded.companions, v1.companions)
  assert.deepEqual(loaded.running, v1.running)
  // the upgraded bridge takes it up and writes on in the new form: nothing lost
  const link = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'], encoding: 'json' })
  assert.ok(link.restore(loaded.link))
  const state = new StateFile(file, createLogger('silent'))
  state.save(stateOf(link, v1.companions, []))
  link.event(chat(301), undefined, 0)
  state.save(stateOf(link, v1.companions, []))
  const after = reload(file)
  assert.equal(after.version, 2)
  assert.deepEqual(after.link.unacked.map((f) => f.s), Array.from({ length: 301 }, (_, i) => i + 1))
  assert.deepEqual(after.running, [])
  // remove(): gone, and not unlinked again on every change; a later save writes it anew
  state.remove()
  assert.ok(!fs.existsSync(file))
  state.save(stateOf(link, [], []))
  assert.equal(reload(file).link.unacked.length, 301)
  fs.rmSync(dir, { recursive: true })
})

test('kill -9 of a bridge process right after sendEvent() accepted an event: a restart has every event', async () => {
  const { dir, file } = tmpFile()
  let daemon = await fakeDaemon()
  const count = 400
  const child = spawn(process.execPath, [path.join(__dirname, 'state-child.js'), daemon.url, file, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (b) => { out += b })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  try {
    await daemon.next((f) => f.op === 'identify')
    daemon.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', sessions: [] } })
    const { signal } = await exited
    assert.equal(signal, 'SIGKILL')
    assert.equal(out, `accepted ${count}\n`)
    // the daemon had none of them acknowledged: all wait in the file, the last one too
    const loaded = reload(file, createLogger('silent'), { serverId: 'mc-1', url: daemon.url })
    assert.deepEqual(loaded.link.unacked.map((f) => f.d.message), Array.from({ length: count }, (_, i) => `chat ${i + 1}`))
    // the restarted bridge resumes the link and sends them again, from the first
    const { port } = daemon.wss.address()
    await daemon.close()
    daemon = await fakeDaemon(port)
    const bridge = new Bridge({
      url: daemon.url, key: 'ae_wk_child', serverId: 'mc-1', encoding: 'json', stateFile: file, mcHost: '127.0.0.1', mcPort: 9, maxBackoff: 0.05
    }, { createBot: fakeFactory({}).create, log: createLogger('silent') })
    bridge.checkMinecraft = () => Promise.resolve(null)
    bridge.start()
    try {
      const resume = await daemon.next((f) => f.op === 'resume')
      assert.equal(resume.d.link_id, 'link_1')
      daemon.send({ op: 'resumed', d: { replayed: 0 } })
      const first = await daemon.next((f) => f.op === 'event')
      assert.deepEqual([first.s, first.d.message], [1, 'chat 1'])
      assert.equal(bridge.connection.link.unacked.length, count)
    } finally {
      await bridge.stop()
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await daemon.close()
    fs.rmSync(dir, { recursive: true })
  }
})
