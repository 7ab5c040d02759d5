'use strict'
// An event the daemon would close the link over (bridge/spec/README.md E2, E3, V1) is
// refused at the call: queued, it would be resent after every reconnection and close the
// link each time, holding back every event behind it.

const test = require('node:test')
const assert = require('node:assert/strict')
const { AdapterLink, BAD_EVENT } = require('../src/link')
const { BridgeConnection } = require('../src/connection')
const { createLogger } = require('../src/log')
const { encodeValue, eventProblem, MAX_FRAME_BYTES } = require('../src/codec')
const { fakeDaemon, sleep } = require('./fake-daemon')

const HELLO = { op: 'hello', d: { protocol: 1, heartbeat_interval: 1000 } }

function nested (levels) {
  const d = { type: 'custom' }
  let inner = d
  for (let i = 0; i < levels; i++) {
    inner.n = {}
    inner = inner.n
  }
  return d
}

function readyLink (encoding) {
  const link = new AdapterLink({ world: 'minecraft', serverId: 'srv', key: 'k', capabilities: [], encoding, random: () => 0.5 })
  link.connected(0)
  const feed = (frame) => link.receive(encodeValue(frame, encoding), encoding === 'msgpack', 0)
  feed(HELLO)
  feed({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', sessions: [] } })
  return link
}

for (const encoding of ['json', 'msgpack']) {
  test(`${encoding}: a bad event is refused with why, once reported per reason, and takes no number`, () => {
    const link = readyLink(encoding)
    const self = { type: 'custom' }
    self.me = self
    const bad = [
      [{ type: 'custom' }, 5, 'bad_sid'],
      [{ type: 'custom' }, '', 'bad_sid'],
      [{ type: 'custom' }, 'x'.repeat(65), 'bad_sid'],
      [['player_chat'], undefined, 'bad_data'],
      ['player_chat', undefined, 'bad_data'],
      [{ type: 'custom', n: 10n }, undefined, 'bad_data'],
      [{ type: 'custom', log: 'x'.repeat(70000) }, undefined, 'too_big'],
      [nested(40), undefined, 'too_deep'],
      [self, undefined, 'too_deep']
    ]
    const seen = new Set()
    for (const [d, sid, why] of bad) {
      const effects = link.event(d, sid, 1)
      const expected = [{ type: 'refused', reason: why }]
      if (!seen.has(why)) expected.push({ type: 'bad_event', reason: why, hint: BAD_EVENT[why], eventType: typeof d?.type === 'string' ? d.type : undefined })
      seen.add(why)
      assert.deepEqual(effects, expected, `${why}: ${String(sid)}`)
    }
    assert.equal(link.badEvents, bad.length)
    assert.deepEqual(link.snapshot().unacked, [])
    const sent = link.event({ type: 'player_chat', message: 'after' }, 'sess_1', 1)
    assert.deepEqual(sent.map((e) => [e.type, e.frame.s, e.frame.sid]), [['send', 1, 'sess_1']])
  })

  test(`${encoding}: the limits are the daemon's: 64 characters of sid, 32 levels, 64 KiB`, () => {
    assert.equal(eventProblem({ type: 'x' }, '👋'.repeat(64), encoding), null) // characters, not UTF-16 units
    assert.equal(eventProblem({ type: 'x' }, '👋'.repeat(65), encoding), 'bad_sid')
    assert.equal(eventProblem({ type: 'x' }, null, encoding), null)
    // d is level 1: 30 more levels of objects hold a scalar at level 32; one more is too deep
    assert.equal(eventProblem(nested(30), undefined, encoding), null)
    assert.equal(eventProblem(nested(31), undefined, encoding), null) // its innermost is empty
    assert.equal(eventProblem(nested(32), undefined, encoding), 'too_deep')
    const frameOf = (n) => encodeValue({ op: 'event', d: { type: 'x', log: 'x'.repeat(n) }, s: Number.MAX_SAFE_INTEGER }, encoding).length
    let fits = MAX_FRAME_BYTES - frameOf(0) // the longest log that fits (msgpack's length header grows)
    while (frameOf(fits) > MAX_FRAME_BYTES) fits -= 1
    assert.ok(frameOf(fits + 1) > MAX_FRAME_BYTES)
    assert.equal(eventProblem({ type: 'x', log: 'x'.repeat(fits) }, undefined, encoding), null)
    assert.equal(eventProblem({ type: 'x', log: 'x'.repeat(fits + 1) }, undefined, encoding), 'too_big')
  })
}

test('sendEvent refuses a bad event (false, one warning per reason) and the link stays up', async () => {
  const daemon = await fakeDaemon()
  const records = []
  const log = createLogger('debug', { write: (line) => records.push(JSON.parse(line)) })
  const link = new BridgeConnection({ url: daemon.url, key: 'ae_wk_test', serverId: 'srv-1', capabilities: ['chat'], encoding: 'json', maxBackoff: 0.05, log }).start()
  let saves = 0
  link.on('state', () => { saves += 1 })
  try {
    await daemon.next((f) => f.op === 'identify')
    daemon.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', heartbeat_interval: 200, sessions: [] } })
    while (!link.ready) await sleep(5)
    const before = saves
    assert.equal(link.sendEvent({ type: 'custom' }, 5), false)
    assert.equal(link.sendEvent({ type: 'custom' }, 7), false)
    assert.equal(saves, before) // nothing changed: no state file write
    assert.equal(link.sendEvent({ type: 'player_chat', message: 'after' }), true)
    const event = await daemon.next((f) => f.op === 'event')
    assert.deepEqual([event.s, event.d.message], [1, 'after'])
    const warnings = records.filter((r) => r.event === 'link.bad_event')
    assert.deepEqual(warnings.map((r) => [r.reason, r.event_type]), [['bad_sid', 'custom']])
    assert.match(warnings[0].hint, /1 to 64 characters/)
  } finally {
    await link.stop()
    await daemon.close()
  }
})
