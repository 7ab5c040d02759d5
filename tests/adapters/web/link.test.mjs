// The web world's link state machine (play_static/link.js) with plain calls: no
// sockets, no timers. The same cases as the Minecraft bridge's link tests, on JSON.

import test from 'node:test'
import assert from 'node:assert/strict'
import { AdapterLink, ACK_EVERY, EVENT_BURST, MAX_UNACKED_EVENTS, eventProblem } from '../../../bridge/encounters_bridge/play_static/link.js'
import { decodeFrame, encodeFrame, MAX_FRAME_BYTES, MAX_SEQUENCE } from '../../../bridge/encounters_bridge/play_static/codec.js'

const HELLO = { op: 'hello', d: { protocol: 1, heartbeat_interval: 1000, max_frame_bytes: 65536 } }

function makeLink (over = {}) {
  return new AdapterLink({ serverId: 'srv', key: 'ae_pt_token', capabilities: ['chat'], random: () => 0.5, ...over })
}

/** Feed a frame (as the daemon would send it) into the link. */
function feed (link, frame, now = 0) {
  return link.receive(JSON.stringify(frame), now)
}

function sent (effects) {
  return effects.filter((e) => e.type === 'send').map((e) => e.frame)
}

function ready (link, now = 0, sessions = []) {
  link.connected(now)
  feed(link, HELLO, now)
  return feed(link, { op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', heartbeat_interval: 1000, sessions } }, now)
}

test('hello is answered with identify: world, server id, key, adapter, capabilities', () => {
  const link = makeLink()
  link.connected(0)
  const [frame] = sent(feed(link, HELLO))
  assert.equal(frame.op, 'identify')
  assert.deepEqual(frame.d, {
    protocol: 1, world: 'web', server_id: 'srv', key: 'ae_pt_token',
    adapter: { name: 'ae-web-world', version: '0.1.0' }, capabilities: ['chat']
  })
})

test('ready hands over the live sessions', () => {
  const link = makeLink()
  const effects = ready(link, 0, [{ sid: 's1', persona: { name: 'Ada' }, location: { x: 1, y: 2, z: 3 } }])
  const r = effects.find((e) => e.type === 'ready')
  assert.equal(r.linkId, 'link_1')
  assert.equal(r.sessions[0].sid, 's1')
  assert.ok(link.ready)
})

test('the first heartbeat is jittered within one interval, then one per interval', () => {
  for (const r of [0, 0.25, 0.99]) {
    const link = makeLink({ random: () => r })
    ready(link, 100)
    assert.equal(link.nextHeartbeat, 100 + r * 1)
    const early = link.tick(100 + r * 1 - 0.001)
    assert.equal(sent(early).filter((f) => f.op === 'heartbeat').length, 0)
    const beat = sent(link.tick(100 + r * 1))
    assert.deepEqual(beat, [{ op: 'heartbeat', d: { ack: 0 } }])
    assert.equal(sent(link.tick(100 + r + 0.5)).length, 0)
    assert.equal(sent(link.tick(100 + r + 1)).length, 1)
  }
})

test('dispatches are handed over once, in order; acks go per burst or at the next tick', () => {
  const link = makeLink()
  ready(link)
  const out = []
  for (let s = 1; s <= ACK_EVERY + 3; s++) {
    out.push(...feed(link, { op: 'dispatch', d: { type: 'action', n: s }, s, sid: 'x' }))
  }
  const dispatched = out.filter((e) => e.type === 'dispatch').map((e) => e.frame.s)
  assert.deepEqual(dispatched, Array.from({ length: ACK_EVERY + 3 }, (_, i) => i + 1))
  assert.deepEqual(sent(out), [{ op: 'ack', d: { s: ACK_EVERY } }]) // one ack for the burst
  // the rest within the next tick (the I/O layer ticks every 50 ms)
  assert.deepEqual(sent(link.tick(0.01)), [{ op: 'ack', d: { s: ACK_EVERY + 3 } }])
  assert.deepEqual(sent(link.tick(0.02)), [])
})

test('a replayed dispatch is acknowledged again and not run twice', () => {
  const link = makeLink()
  ready(link)
  feed(link, { op: 'dispatch', d: { type: 'spawn' }, s: 1, sid: 'a' })
  feed(link, { op: 'dispatch', d: { type: 'action' }, s: 2, sid: 'a' })
  link.tick(0.01)
  const again = feed(link, { op: 'dispatch', d: { type: 'spawn' }, s: 1, sid: 'a' })
  assert.deepEqual(again, [{ type: 'send', frame: { op: 'ack', d: { s: 2 } } }])
})

test('events are numbered 1, 2, 3 and kept until acknowledged (cumulative acks)', () => {
  const link = makeLink()
  ready(link)
  const frames = [1, 2, 3].flatMap((n) => sent(link.event({ type: 'player_chat', n }, n === 2 ? 'sid-2' : undefined, 0)))
  assert.deepEqual(frames.map((f) => [f.op, f.s, f.sid]), [['event', 1, undefined], ['event', 2, 'sid-2'], ['event', 3, undefined]])
  assert.deepEqual(feed(link, { op: 'ack', d: { s: 2 } }), [{ type: 'acked', s: 2 }])
  assert.deepEqual(link.unacked.map((f) => f.s), [3])
  feed(link, { op: 'heartbeat_ack', d: { ack: 3 } })
  assert.deepEqual(link.unacked, [])
})

test('events made while the link is down go out after resume, with their original s', () => {
  const link = makeLink()
  ready(link)
  sent(link.event({ type: 'a' }, 's1', 0))
  feed(link, { op: 'dispatch', d: { type: 'spawn' }, s: 1, sid: 's1' })
  assert.equal(link.closed(1006), 'resume')
  assert.deepEqual(sent(link.event({ type: 'b' }, 's1', 1)), []) // not connected: kept
  link.connected(2)
  const [resume] = sent(feed(link, HELLO, 2))
  assert.deepEqual(resume, { op: 'resume', d: { link_id: 'link_1', resume_token: 'tok', last_s: 1 } })
  const effects = feed(link, { op: 'resumed', d: { replayed: 0 } }, 2)
  assert.deepEqual(sent(effects).map((f) => [f.s, f.d.type]), [[1, 'a'], [2, 'b']])
  assert.ok(effects.some((e) => e.type === 'resumed'))
})

test('a new identity (identify after 4009) numbers pending events again from 1', () => {
  const link = makeLink()
  ready(link)
  link.event({ type: 'a' }, undefined, 0)
  link.event({ type: 'b' }, undefined, 0)
  feed(link, { op: 'ack', d: { s: 1 } })
  assert.equal(link.closed(4009), 'identify')
  link.connected(1)
  assert.equal(sent(feed(link, HELLO, 1))[0].op, 'identify')
  const effects = feed(link, { op: 'ready', d: { link_id: 'link_2', resume_token: 't2', sessions: [] } }, 1)
  assert.deepEqual(sent(effects).map((f) => [f.s, f.d.type]), [[1, 'b']])
  assert.equal(link.inS, 0)
})

test('identifying again, events the daemon stored under the previous link are dropped', () => {
  const cases = [
    [{ link_id: 'link_1', in_s: 2 }, [[1, 'c']]], // a and b stored: their acks were lost
    [{ link_id: 'link_0', in_s: 2 }, [[1, 'a'], [2, 'b'], [3, 'c']]], // another link
    [undefined, [[1, 'a'], [2, 'b'], [3, 'c']]] // an older daemon: every one again
  ]
  for (const [previous, resent] of cases) {
    const link = makeLink()
    ready(link)
    for (const type of ['a', 'b', 'c']) link.event({ type }, undefined, 0)
    assert.equal(link.closed(4009), 'identify')
    link.connected(1)
    const [identify] = sent(feed(link, HELLO, 1))
    assert.equal(identify.d.previous_link, 'link_1')
    const d = { link_id: 'link_2', resume_token: 't2', sessions: [], ...(previous ? { previous } : {}) }
    const effects = feed(link, { op: 'ready', d }, 1)
    assert.deepEqual(sent(effects).map((f) => [f.s, f.d.type]), resent)
    assert.equal(link.eventsLink, 'link_2')
  }
})

test('close codes: stop, identify or resume', () => {
  const cases = { 1000: 'stop', 4004: 'stop', 4011: 'stop', 4003: 'identify', 4009: 'identify' }
  for (const code of [1001, 1006, 4000, 4002, 4005, 4008, 4012, 4013, 4999]) cases[code] = 'resume'
  for (const [code, want] of Object.entries(cases)) {
    const link = makeLink()
    ready(link)
    assert.equal(link.closed(Number(code)), want, `close ${code}`)
    assert.equal(link.stopped, want === 'stop')
    assert.equal(link.linkId === null, want === 'identify', `close ${code}`)
  }
})

test('backoff: 1, 2, 4 ... 60 s, each times a factor in [0.5, 1]', () => {
  const low = makeLink({ random: () => 0 })
  const high = makeLink({ random: () => 0.999999 })
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 20].map((a) => low.backoff(a)), [0.5, 1, 2, 4, 8, 16, 30, 30, 30])
  assert.deepEqual([0, 1, 5, 6, 9].map((a) => Math.round(high.backoff(a))), [1, 2, 32, 60, 60])
})

test('after rate_limited the unacknowledged events are resent in order after 1 s, nothing new meanwhile', () => {
  const link = makeLink()
  ready(link)
  for (let i = 1; i <= 5; i++) link.event({ type: 'e', i }, undefined, 0)
  feed(link, { op: 'ack', d: { s: 2 } }, 0.1)
  feed(link, { op: 'error', d: { code: 'rate_limited', message: 'slow down' } }, 0.1)
  assert.deepEqual(sent(link.event({ type: 'e', i: 6 }, undefined, 0.2)), []) // waits for the resend
  assert.deepEqual(sent(link.tick(0.5)).filter((f) => f.op === 'event'), [])
  const resent = sent(link.tick(1.1)).filter((f) => f.op === 'event')
  assert.deepEqual(resent.map((f) => f.s), [3, 4, 5, 6])
})

test('events go out at most at the daemon\'s rate; the rest follow on later ticks', () => {
  const link = makeLink()
  ready(link, 0)
  const first = []
  for (let i = 0; i < EVENT_BURST + 20; i++) first.push(...sent(link.event({ type: 'e', i }, undefined, 0)))
  assert.equal(first.length, EVENT_BURST)
  const later = sent(link.tick(1)).filter((f) => f.op === 'event')
  assert.ok(later.length > 10 && later.length <= 20, later.length)
  assert.equal(later[0].s, EVENT_BURST + 1)
})

test('a silent daemon is noticed: 2 intervals + 5 s without a frame', () => {
  const link = makeLink()
  ready(link, 0)
  assert.ok(!link.tick(6.9).some((e) => e.type === 'dead'))
  assert.ok(link.tick(7.1).some((e) => e.type === 'dead'))
})

test('the web link takes JSON text frames only; envelopes are checked', () => {
  const link = makeLink()
  link.connected(0)
  assert.throws(() => link.receive(new TextEncoder().encode(JSON.stringify(HELLO)).buffer, 0), /text frames/)
  assert.throws(() => decodeFrame('[1]'), /must be an object/)
  assert.throws(() => decodeFrame('{"d":{}}'), /string 'op'/)
  assert.throws(() => decodeFrame('{"op":"x","s":0}'), /whole number/)
  assert.throws(() => decodeFrame('{"op":"x","pad":"' + 'x'.repeat(70000) + '"}'), (err) => err.code === 4012)
  assert.equal(sent(link.receive(JSON.stringify(HELLO), 0))[0].op, 'identify')
})

test('unknown ops from the daemon are ignored', () => {
  const link = makeLink()
  ready(link)
  assert.deepEqual(feed(link, { op: 'something_new', d: { x: 1 } }), [])
})

// -- the bound on events waiting for the daemon's ack: refuse new events when full; never
// drop queued ones

const refusals = (effects) => effects.filter((e) => e.type === 'refused')
const logs = (effects) => effects.filter((e) => e.type === 'log')

test('a full queue refuses new events, warns once, and the daemon back gets every queued one once', () => {
  const link = makeLink({ maxUnackedEvents: 5 })
  ready(link)
  link.event({ type: 'e', i: 0 }, undefined, 0)
  feed(link, { op: 'ack', d: { s: 1 } })
  assert.equal(link.closed(1006), 'resume') // the daemon is down: events wait
  for (let i = 1; i <= 5; i++) assert.deepEqual(link.event({ type: 'e', i }, undefined, 1), [])
  const effects = []
  for (let i = 6; i <= 9; i++) effects.push(...link.event({ type: 'e', i }, undefined, 1))
  assert.deepEqual(refusals(effects), Array(4).fill({ type: 'refused', waiting: 5, limit: 5 }))
  const [warning, ...more] = logs(effects)
  assert.deepEqual(more, []) // once per outage, not once per event
  assert.equal(warning.level, 'warn')
  assert.match(warning.message, /5 events already wait for the daemon, which has not acknowledged them/)
  assert.match(warning.message, /maxUnackedEvents \(now 5\)/)
  assert.deepEqual(link.unacked.map((f) => [f.s, f.d.i]), [[2, 1], [3, 2], [4, 3], [5, 4], [6, 5]])
  assert.equal(link.outS, 6) // a refused event takes no number

  link.connected(2)
  feed(link, HELLO, 2)
  const resent = sent(feed(link, { op: 'resumed', d: { replayed: 0 } }, 2))
  assert.deepEqual(resent.map((f) => [f.s, f.d.i]), [[2, 1], [3, 2], [4, 3], [5, 4], [6, 5]])
  const acked = feed(link, { op: 'ack', d: { s: 6 } }, 2)
  assert.deepEqual(logs(acked).map((e) => [e.level, e.message]), [
    ['info', 'the daemon acknowledged the waiting events: 4 new event(s) were refused while the queue was full']
  ])
  assert.deepEqual(sent(link.event({ type: 'e', i: 10 }, undefined, 3)).map((f) => [f.s, f.d.i]), [[7, 10]])
})

test('acks make room at once; the outage ends (one info line) at half the bound', () => {
  const link = makeLink({ maxUnackedEvents: 4 })
  ready(link)
  for (let i = 1; i <= 4; i++) link.event({ type: 'e', i }, undefined, 0) // sent, not acknowledged
  assert.equal(logs(link.event({ type: 'e' }, undefined, 0)).length, 1)
  assert.deepEqual(feed(link, { op: 'ack', d: { s: 1 } }), [{ type: 'acked', s: 1 }])
  assert.deepEqual(sent(link.event({ type: 'e', i: 5 }, undefined, 0)).map((f) => f.s), [5]) // room for one
  const again = link.event({ type: 'e' }, undefined, 0) // full again: the same outage
  assert.equal(refusals(again).length, 1)
  assert.deepEqual(logs(again), [])
  const drained = feed(link, { op: 'heartbeat_ack', d: { ack: 3 } }) // 2 of 4 wait
  assert.deepEqual(logs(drained).map((e) => e.level), ['info'])
  assert.match(logs(drained)[0].message, /2 new event\(s\) were refused/)
  assert.deepEqual(logs(feed(link, { op: 'ack', d: { s: 5 } })), [])
})

test('identifying again, the bound counts only the events the daemon did not store', () => {
  for (const [previous, waiting] of [[{ link_id: 'link_1', in_s: 3 }, 1], [undefined, 4]]) {
    const link = makeLink({ maxUnackedEvents: 4 })
    ready(link)
    for (let i = 1; i <= 4; i++) link.event({ type: 'e', i }, undefined, 0)
    assert.equal(refusals(link.event({ type: 'e' }, undefined, 0)).length, 1)
    assert.equal(link.closed(4009), 'identify')
    link.connected(1)
    feed(link, HELLO, 1)
    const d = { link_id: 'link_2', resume_token: 't2', sessions: [], ...(previous ? { previous } : {}) }
    const effects = feed(link, { op: 'ready', d }, 1)
    assert.equal(link.unacked.length, waiting)
    assert.equal(logs(effects).length, waiting <= 2 ? 1 : 0)
    const next = link.event({ type: 'e', i: 5 }, undefined, 1)
    assert.equal(refusals(next).length, waiting < 4 ? 0 : 1, `after ${JSON.stringify(previous)}`)
  }
})

test('the bound: 1,000 events by default, a whole number of at least 1 when given', () => {
  assert.equal(MAX_UNACKED_EVENTS, 1000)
  assert.equal(makeLink().maxUnackedEvents, 1000)
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => makeLink({ maxUnackedEvents: bad }), RangeError)
})

// -- an event the daemon could not read is refused at the call, never queued (queued, it
// was resent after every reconnection and closed the link again: 4002, 4012)

const invalids = (effects) => effects.filter((e) => e.type === 'invalid')

function chain (depth) {
  let value = {}
  for (let i = 1; i < depth; i++) value = { n: value }
  return value
}

const looped = {}
looped.self = looped

const BAD_EVENTS = [
  ['a numeric sid', { type: 'custom' }, 5, 'sid'],
  ['an empty sid', { type: 'custom' }, '', 'sid'],
  ['a 65-character sid', { type: 'custom' }, 's'.repeat(65), 'sid'],
  ['d an array', [{ type: 'custom' }], undefined, 'd'],
  ['d a string', 'player_join', undefined, 'd'],
  ['d null', null, undefined, 'd'],
  ['a 100 KiB payload', { type: 'custom', blob: 'x'.repeat(100 * 1024) }, undefined, 'd'],
  ['nesting 40 deep', { type: 'custom', tree: chain(40) }, undefined, 'd'],
  ['an object holding itself', { type: 'custom', looped }, undefined, 'd'],
  ['a BigInt', { type: 'custom', n: 10n }, undefined, 'd'],
  ['d whose toJSON is no object', { type: 'custom', toJSON: () => 'text' }, undefined, 'd']
]

for (const [name, d, sid, where] of BAD_EVENTS) {
  test(`${name}: refused at the call, nothing queued, the events around it go out in order`, () => {
    const link = makeLink()
    ready(link)
    assert.deepEqual(sent(link.event({ type: 'e', i: 0 }, undefined, 0)).map((f) => f.s), [1])
    const effects = link.event(d, sid, 0)
    const [invalid, ...more] = invalids(effects)
    assert.deepEqual(more, [])
    assert.equal(invalid.where, where)
    assert.match(invalid.message, /^event refused, not queued: /)
    assert.deepEqual(logs(effects).map((e) => [e.level, e.message]), [['warn', invalid.message]])
    assert.deepEqual(sent(effects), [])
    assert.deepEqual([link.outS, link.unacked.length], [1, 1]) // no number, not queued
    const after = sent(link.event({ type: 'e', i: 1 }, undefined, 0))
    assert.deepEqual(after.map((f) => [f.s, f.d.i]), [[2, 1]])
    assert.deepEqual(link.unacked.map((f) => f.d.i), [0, 1])
  })
}

test('a refused bad event is not resent after a reconnection (the link does not loop)', () => {
  const link = makeLink()
  ready(link)
  link.event({ type: 'custom' }, 5, 0)
  link.event({ type: 'e', i: 0 }, undefined, 0)
  assert.equal(link.closed(1006), 'resume')
  link.connected(1)
  feed(link, HELLO, 1)
  const resent = sent(feed(link, { op: 'resumed', d: { replayed: 0 } }, 1))
  assert.deepEqual(resent.map((f) => [f.s, f.sid, f.d.i]), [[1, undefined, 0]])
})

test('the size checked is the encoded frame with the largest s: the largest event taken is one the daemon reads', () => {
  const base = encodeFrame({ op: 'event', d: { type: 'custom', blob: '' }, s: MAX_SEQUENCE }).length
  const room = MAX_FRAME_BYTES - base
  assert.equal(eventProblem({ type: 'custom', blob: 'x'.repeat(room) }, undefined), null)
  const link = makeLink()
  ready(link)
  const [frame] = sent(link.event({ type: 'custom', blob: 'x'.repeat(room) }, undefined, 0))
  assert.equal(decodeFrame(encodeFrame(frame)).d.blob.length, room) // within the daemon's limit
  const over = invalids(link.event({ type: 'custom', blob: 'x'.repeat(room + 1) }, undefined, 0))
  assert.match(over[0].problem, new RegExp(`${MAX_FRAME_BYTES + 1} bytes, over the daemon's limit of ${MAX_FRAME_BYTES}`))
  // the daemon counts bytes of UTF-8, and a sid's characters by code point
  assert.equal(eventProblem({ type: 'custom', blob: 'é'.repeat(room / 2 + 1) }, undefined).where, 'd')
  assert.equal(eventProblem({ type: 'custom' }, '😀'.repeat(64)), null)
})

test("the daemon's hello sets the limit: a smaller max_frame_bytes is held to", () => {
  const link = makeLink()
  link.connected(0)
  feed(link, { op: 'hello', d: { protocol: 1, heartbeat_interval: 1000, max_frame_bytes: 4096 } })
  assert.equal(link.maxFrameBytes, 4096)
  const [invalid] = invalids(link.event({ type: 'custom', blob: 'x'.repeat(10000) }, undefined, 0))
  assert.match(invalid.problem, /over the daemon's limit of 4096/)
  assert.equal(link.unacked.length, 0)
})
