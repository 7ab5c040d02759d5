'use strict'
// The events waiting for the daemon's ack are bounded (--max-unacked): refuse new events
// when full; never drop queued ones. And a link the daemon refused (4009) is not resumed
// by a restarted bridge, which still answers the actions it was running.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { AdapterLink, MAX_UNACKED } = require('../src/link')
const { BridgeConnection } = require('../src/connection')
const { Bridge } = require('../src/index')
const { parseConfig } = require('../src/cli')
const { createLogger } = require('../src/log')
const { StateFile } = require('../src/state')
const { encodeValue } = require('../src/codec')
const { fakeDaemon, sleep } = require('./fake-daemon')
const { fakeFactory } = require('./fake-bot')

const HELLO = { op: 'hello', d: { protocol: 1, heartbeat_interval: 1000 } }

function feed (link, frame, now = 0) {
  return link.receive(encodeValue(frame, 'json'), false, now)
}

/** A logger keeping its records (and writing nothing). */
function recorder () {
  const records = []
  const log = createLogger('debug', { write: (line) => records.push(JSON.parse(line)) })
  log.records = (event) => records.filter((r) => r.event === event)
  return log
}

async function until (check, what, ms = 5000) {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

function tmpFile () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-queue-'))
  return { dir, file: path.join(dir, 'ae-minecraft-bridge.state.json') }
}

test('a full queue refuses new events, once warned; none queued is dropped; room at half the bound', () => {
  const link = new AdapterLink({ world: 'minecraft', serverId: 'srv', key: 'k', capabilities: [], encoding: 'json', random: () => 0.5, maxUnacked: 4 })
  assert.equal(new AdapterLink({ world: 'minecraft', serverId: 'srv', key: 'k', capabilities: [] }).maxUnacked, MAX_UNACKED)
  link.connected(0)
  feed(link, HELLO)
  feed(link, { op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', sessions: [] } })
  assert.equal(link.closed(1006), 'resume') // the daemon is away
  const kinds = (effects) => effects.map((e) => e.type)
  for (const type of ['a', 'b', 'c', 'd']) assert.deepEqual(kinds(link.event({ type }, undefined, 1)), [])
  assert.deepEqual(link.event({ type: 'e' }, undefined, 1), [
    { type: 'refused', reason: 'queue_full' }, { type: 'queue_full', unacked: 4, limit: 4 }])
  assert.deepEqual(kinds(link.event({ type: 'f' }, undefined, 1)), ['refused']) // warned once
  assert.deepEqual(link.snapshot().unacked.map((f) => [f.s, f.d.type]), [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']])
  // back: all four resent; an ack frees room (new events accepted), no line until half
  link.connected(2)
  feed(link, HELLO, 2)
  const resent = feed(link, { op: 'resumed', d: { replayed: 0 } }, 2).filter((e) => e.type === 'send')
  assert.deepEqual(resent.map((e) => [e.frame.s, e.frame.d.type]), [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'd']])
  assert.deepEqual(feed(link, { op: 'ack', d: { s: 1 } }, 2), [{ type: 'acked', s: 1 }])
  assert.deepEqual(kinds(link.event({ type: 'g' }, undefined, 2)), ['send'])
  assert.deepEqual(kinds(link.event({ type: 'h' }, undefined, 2)), ['refused']) // the same outage
  assert.deepEqual(feed(link, { op: 'ack', d: { s: 3 } }, 2), [{ type: 'acked', s: 3 }, { type: 'queue_room', refused: 3 }])
  assert.deepEqual(link.unacked.map((f) => f.d.type), ['d', 'g'])
  assert.deepEqual(kinds(link.event({ type: 'i' }, undefined, 2)), ['send'])
  assert.deepEqual(kinds(link.event({ type: 'j' }, undefined, 2)), ['send'])
  assert.deepEqual(kinds(link.event({ type: 'k' }, undefined, 2)), ['refused', 'queue_full']) // a new outage
  // refused (4009): the new link numbers every waiting event again, beyond a lower bound
  link.maxUnacked = 2
  assert.equal(link.closed(4009), 'identify')
  link.connected(3)
  feed(link, HELLO, 3)
  const again = feed(link, { op: 'ready', d: { link_id: 'link_2', resume_token: 't2', sessions: [] } }, 3)
  assert.deepEqual(again.filter((e) => e.type === 'send').map((e) => [e.frame.s, e.frame.d.type]), [[1, 'd'], [2, 'g'], [3, 'i'], [4, 'j']])
  assert.deepEqual(kinds(link.event({ type: 'l' }, undefined, 3)), ['refused'])
})

test('the daemon away: the queue fills, new events are refused with one warning; back, every queued event arrives once', async () => {
  let daemon = await fakeDaemon()
  const { port } = daemon.wss.address()
  const log = recorder()
  const link = new BridgeConnection({ url: daemon.url, key: 'ae_wk_test', serverId: 'srv-1', capabilities: ['chat'], encoding: 'json', maxBackoff: 0.05, log, maxUnacked: 5 }).start()
  try {
    await daemon.next((f) => f.op === 'identify')
    daemon.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', heartbeat_interval: 200, sessions: [] } })
    await until(() => link.ready, 'ready')
    assert.equal(link.sendEvent({ type: 'player_chat', message: 'm1' }), true)
    assert.equal((await daemon.next((f) => f.op === 'event')).d.message, 'm1')
    daemon.send({ op: 'ack', d: { s: 1 } })
    await until(() => link.link.unacked.length === 0, 'm1 acknowledged')
    await daemon.close() // the daemon goes away: nothing listens on its port
    await until(() => !link.ready && link.attempt >= 2, 'reconnections failing')
    const answers = []
    for (let i = 2; i <= 9; i++) {
      answers.push(link.sendEvent({ type: 'player_chat', message: `m${i}` }))
      await sleep(20) // the bridge goes on meanwhile: reconnections keep failing
    }
    assert.deepEqual(answers, [true, true, true, true, true, false, false, false])
    assert.equal(log.records('link.queue_full').length, 1) // once, not per event
    assert.deepEqual(link.link.unacked.map((f) => f.d.message), ['m2', 'm3', 'm4', 'm5', 'm6'])
    daemon = await fakeDaemon(port) // back where it was
    const resume = await daemon.next((f) => f.op === 'resume', 5000)
    assert.deepEqual(resume.d, { link_id: 'link_1', resume_token: 'tok', last_s: 0 })
    daemon.send({ op: 'resumed', d: { replayed: 0 } })
    const got = []
    for (let i = 0; i < 5; i++) got.push(await daemon.next((f) => f.op === 'event'))
    assert.deepEqual(got.map((f) => [f.s, f.d.message]), [[2, 'm2'], [3, 'm3'], [4, 'm4'], [5, 'm5'], [6, 'm6']])
    daemon.send({ op: 'ack', d: { s: 6 } })
    await until(() => log.records('link.queue_room').length === 1, 'the room line')
    assert.equal(log.records('link.queue_room')[0].refused, 3)
    // the full queue is worth a warning; room again is good news (info, as the Python adapter)
    assert.deepEqual([log.records('link.queue_full')[0].level, log.records('link.queue_room')[0].level], ['warn', 'info'])
    assert.equal(link.sendEvent({ type: 'player_chat', message: 'm10' }), true)
    assert.deepEqual(await daemon.next((f) => f.op === 'event'), { op: 'event', d: { type: 'player_chat', message: 'm10' }, s: 7 })
    await sleep(100) // nothing else comes: each event once
    assert.deepEqual(daemon.frames.filter(([, f]) => f.op === 'event'), [])
    assert.equal(log.records('link.queue_full').length, 1)
  } finally {
    await link.stop()
    await daemon.close()
  }
})

test('AdapterLink refuses a maxUnacked that is no bound (NaN, Infinity) or no room (below 1), naming the option', () => {
  const options = { world: 'minecraft', serverId: 'srv', key: 'k', capabilities: [] }
  for (const bad of [NaN, Infinity, -Infinity, 0, -3, 2.5, '7', null, 2 ** 53]) {
    assert.throws(() => new AdapterLink({ ...options, maxUnacked: bad }),
      { name: 'RangeError', message: /^AdapterLink maxUnacked must be a whole number, at least 1 \(got / }, String(bad))
  }
  assert.equal(new AdapterLink({ ...options, maxUnacked: undefined }).maxUnacked, MAX_UNACKED)
  assert.equal(new AdapterLink({ ...options, maxUnacked: 1 }).maxUnacked, 1)
  // the Bridge hands its maxUnacked over: a bad one fails at construction, not as no bound
  assert.throws(() => new BridgeConnection({ url: 'ws://127.0.0.1:1/ws', ...options, maxUnacked: NaN }), /maxUnacked/)
})

test('--max-unacked / AE_MAX_UNACKED: 10000 by default, a whole number of at least 1', () => {
  assert.equal(parseConfig([], { AE_WORLD_KEY: 'k' }).maxUnacked, 10000)
  assert.equal(parseConfig([], { AE_WORLD_KEY: 'k', AE_MAX_UNACKED: '250' }).maxUnacked, 250)
  assert.equal(parseConfig(['--max-unacked', '7'], { AE_WORLD_KEY: 'k', AE_MAX_UNACKED: '250' }).maxUnacked, 7)
  for (const bad of ['0', '-1', '2.5', 'many']) {
    assert.throws(() => parseConfig([`--max-unacked=${bad}`], { AE_WORLD_KEY: 'k' }), /--max-unacked must be a whole number/)
  }
})

function bridgeOptions (daemon, file, over = {}) {
  return {
    url: daemon.url, key: 'ae_wk_test', serverId: 'mc-1', encoding: 'json', stateFile: file,
    mcHost: '127.0.0.1', mcPort: 9, maxBackoff: 0.05, joinTimeout: 5, moveTimeout: 30, ...over
  }
}

test('a state file holding more events than the bound is taken up whole; new events wait until it drains', async () => {
  const { dir, file } = tmpFile()
  const daemon = await fakeDaemon()
  const unacked = []
  for (let s = 1; s <= 8; s++) unacked.push({ s, d: { type: 'player_chat', message: `old${s}` } })
  fs.writeFileSync(file, JSON.stringify({
    version: 1, serverId: 'mc-1', url: daemon.url, companions: [], running: [],
    link: { linkId: 'link_1', resumeToken: 'tok', eventsLink: 'link_1', inS: 0, outS: 8, unacked }
  }))
  const log = recorder()
  const bridge = new Bridge(bridgeOptions(daemon, file, { maxUnacked: 3 }), { createBot: fakeFactory({}).create, log }).start()
  try {
    assert.equal(bridge.connection.sendEvent({ type: 'player_chat', message: 'new1' }), false)
    assert.equal(log.records('link.queue_full').length, 1)
    assert.deepEqual(new StateFile(file, createLogger('silent')).load({ serverId: 'mc-1', url: daemon.url }).link.unacked.map((f) => f.d.message),
      unacked.map((f) => f.d.message)) // never dropped, on disk either
    await daemon.next((f) => f.op === 'resume')
    daemon.send({ op: 'resumed', d: { replayed: 0 } })
    const got = []
    for (let i = 0; i < 8; i++) got.push(await daemon.next((f) => f.op === 'event'))
    assert.deepEqual(got.map((f) => [f.s, f.d.message]), unacked.map((f) => [f.s, f.d.message]))
    daemon.send({ op: 'ack', d: { s: 8 } })
    await until(() => log.records('link.queue_room').length === 1, 'the room line')
    assert.equal(log.records('link.queue_room')[0].refused, 1)
    assert.equal(bridge.connection.sendEvent({ type: 'player_chat', message: 'new2' }), true)
    assert.deepEqual((await daemon.next((f) => f.op === 'event')).d.message, 'new2')
  } finally {
    await bridge.stop()
    await daemon.close()
    fs.rmSync(dir, { recursive: true })
  }
})

test('a refused link (4009) is not resumed after a restart; the running actions are still answered interrupted', async () => {
  const { dir, file } = tmpFile()
  let daemon = await fakeDaemon()
  const persona = { id: 'p1', name: 'Helpful Guide' }
  const first = new Bridge(bridgeOptions(daemon, file), { createBot: fakeFactory({ walk: false }).create, log: createLogger('silent') })
  const bots = []
  first.companions.createBot = (o) => { const b = fakeFactory({ walk: false }).create(o); bots.push(b); return b }
  first.start()
  try {
    await daemon.next((f) => f.op === 'identify')
    daemon.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', sessions: [{ sid: 's1', persona, location: { x: 1, y: 2, z: 3 } }] } })
    await until(() => bots.length === 1, 'the companion joining')
    bots[0].spawnNow()
    const spawned = await daemon.next((f) => f.op === 'event' && f.d.type === 'spawned')
    daemon.send({ op: 'dispatch', s: 1, sid: 's1', d: { type: 'action', sid: 's1', action: { id: 'm1', type: 'move_to', x: 50, y: 5, z: 50 } } })
    await until(() => first.companions.running.has('m1'), 'the move running')
    assert.equal(spawned.sid, 's1')
    // the daemon takes every event so far (spawned, health ...): none waits
    daemon.send({ op: 'ack', d: { s: first.connection.link.outS } })
    await until(() => first.connection.link.unacked.length === 0, 'the events acknowledged')
    daemon.conns[0].ws.close(4009, 'unknown link') // the daemon forgot the link
    await until(() => first.connection.link.linkId === null, 'the link refused')
    const saved = new StateFile(file, createLogger('silent')).load({ serverId: 'mc-1', url: daemon.url })
    assert.equal(saved.link, null) // nothing to resume
    assert.deepEqual(saved.running, [{ id: 'm1', sid: 's1' }])
    assert.deepEqual(saved.companions.map((c) => c.sid), ['s1'])
    // the process dies (kill -9) before the next ready: nothing more is written
    first.frozen = true
    await first.connection.stop()
    const { port } = daemon.wss.address()
    await daemon.close()
    daemon = await fakeDaemon(port) // the same daemon, restarted too
    const second = new Bridge(bridgeOptions(daemon, file), { createBot: fakeFactory({}).create, log: createLogger('silent') }).start()
    try {
      const hello = await daemon.next((f) => f.op === 'identify' || f.op === 'resume')
      assert.equal(hello.op, 'identify') // not a resume the daemon would refuse
      assert.equal(hello.d.previous_link, undefined)
      daemon.send({ op: 'ready', d: { link_id: 'link_2', resume_token: 'tok2', sessions: [{ sid: 's1', persona, location: { x: 1, y: 2, z: 3 } }] } })
      const interrupted = await daemon.next((f) => f.op === 'event' && f.d.type === 'action_failed')
      assert.deepEqual([interrupted.d.action_id, interrupted.d.reason, interrupted.sid], ['m1', 'interrupted', 's1'])
      await sleep(100)
      assert.equal(daemon.frames.filter(([, f]) => f.d?.action_id === 'm1').length, 0) // once
      assert.equal(daemon.conns.length, 1)
    } finally {
      await second.stop()
    }
  } finally {
    first.companions.shutdown()
    await daemon.close()
    fs.rmSync(dir, { recursive: true })
  }
})
