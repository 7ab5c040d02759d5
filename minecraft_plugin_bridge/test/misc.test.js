'use strict'
// Codecs, usernames, the command line.

const test = require('node:test')
const assert = require('node:assert/strict')
const { encodeFrame, encodeValue, decodeFrame, DecodeError, CLOSE, retryAfterClose, depthOf } = require('../src/codec')
const { minecraftName, isValidUsername } = require('../src/names')
const { parseConfig, usage } = require('../src/cli')
const { chatLines } = require('../src/actions/chat')
const { gestureOf } = require('../src/actions/emote')
const { StateFile } = require('../src/state')
const { AdapterLink } = require('../src/link')
const { createLogger } = require('../src/log')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

test('frames round-trip in both encodings, with their value types', () => {
  const frame = { op: 'event', d: { type: 'health', health: 87.5, food: 20, big: 2 ** 40, tags: ['ünï', '日本'], alive: true, none: null, empty: {}, list: [] }, s: 3, sid: 'sess_1' }
  const json = encodeFrame(frame, 'json')
  assert.equal(typeof json, 'string')
  assert.deepEqual(decodeFrame(json, false, 'json'), frame)
  const packed = encodeFrame(frame, 'msgpack')
  assert.ok(Buffer.isBuffer(packed))
  assert.deepEqual(decodeFrame(packed, true, 'msgpack'), frame)
  // integers stay integers, 87.5 a float64, strings are str (never bin)
  assert.ok(packed.includes(Buffer.from([0xcb])))
  assert.ok(!packed.includes(Buffer.from([0xc4])))
  // absent fields stay absent
  assert.deepEqual(JSON.parse(encodeFrame({ op: 'ack', d: { s: 1 } }, 'json')), { op: 'ack', d: { s: 1 } })
})

test('decode errors: not an object, no op, bad envelope, too large, too deep', () => {
  const bad = ['[]', '3', '"x"', '{"d":{}}', '{"op":1}', '{"op":"x","d":[]}', '{"op":"x","s":0}',
    '{"op":"x","s":1.5}', '{"op":"x","sid":""}', 'not json']
  for (const text of bad) assert.throws(() => decodeFrame(text, false, 'json'), DecodeError, text)
  const big = JSON.stringify({ op: 'x', d: { pad: 'x'.repeat(70000) } })
  assert.throws(() => decodeFrame(big, false, 'json', 65536), (e) => e.code === CLOSE.FRAME_TOO_LARGE)
  const deep = '{"op":"x","d":' + '{"n":'.repeat(40) + '{}' + '}'.repeat(40) + '}'
  assert.throws(() => decodeFrame(deep, false, 'json'), /nested/)
  assert.equal(depthOf({ a: { b: [] } }), 3)
  assert.throws(() => decodeFrame(encodeValue([1], 'msgpack'), true, 'msgpack'), /object/)
  assert.throws(() => decodeFrame(Buffer.from([0xc1]), true, 'msgpack'), /msgpack/)
})

test('close codes', () => {
  assert.equal(retryAfterClose(4004), 'stop')
  assert.equal(retryAfterClose(4013), 'resume')
  assert.equal(retryAfterClose(4003), 'identify')
  assert.equal(retryAfterClose(4007), 'identify') // ack or resume beyond what was sent
  assert.equal(retryAfterClose(4014), 'stop') // a newer link of this server replaced this one
})

test('usernames: 3-16 letters, digits and underscores, unique', () => {
  const cases = {
    'Helpful Guide': 'Helpful_Guide',
    'Zoë the Brave!': 'Zoe_the_Brave',
    Al: 'Al_AE',
    '': 'Companion',
    '日本': 'Companion',
    'A very long persona name indeed': 'A_very_long_pers',
    '__x__': 'x_AE'
  }
  for (const [name, want] of Object.entries(cases)) {
    assert.equal(minecraftName(name), want, name)
    assert.ok(isValidUsername(want), want)
  }
  const taken = new Set(['helpful_guide', 'helpful_guide2'])
  assert.equal(minecraftName('Helpful Guide', { taken: (n) => taken.has(n) }), 'Helpful_Guide3')
  assert.equal(minecraftName('A very long persona name indeed', { taken: (n) => n === 'a_very_long_pers' }), 'A_very_long_per2')
  assert.equal(minecraftName('Guide', { prefix: 'AI_' }), 'AI_Guide')
})

test('chat lines and gestures', () => {
  assert.deepEqual(chatLines('/give @p diamond'), ['give @p diamond'])
  assert.throws(() => chatLines(''), /nothing printable/)
  assert.equal(gestureOf('Wave'), 'wave')
  assert.equal(gestureOf('hop'), 'jump')
  assert.throws(() => gestureOf('moonwalk'), /known: /)
})

test('the command line: flags over environment over defaults', () => {
  const env = { AE_WORLD_KEY: 'ae_wk_env', MC_PORT: '25570', AE_SERVER_ID: 'from-env', AE_MC_ALLOW_DIG: 'yes' }
  const c = parseConfig(['--server-id', 'from-flag', '--mc-version', '1.21.1', '--auth', 'offline'], env)
  assert.equal(c.key, 'ae_wk_env')
  assert.equal(c.serverId, 'from-flag')
  assert.equal(c.mcPort, 25570)
  assert.equal(c.mcVersion, '1.21.1')
  assert.equal(c.allowDig, true)
  assert.equal(c.encoding, 'msgpack')
  assert.equal(c.url, 'ws://127.0.0.1:3002/ws')
  assert.equal(parseConfig([], { AE_WORLD_KEY: 'k' }).mcVersion, false)
  assert.throws(() => parseConfig([], {}), /world key is needed/)
  assert.throws(() => parseConfig(['--auth', 'mojang'], env), /offline or microsoft/)
  assert.throws(() => parseConfig(['--auth', 'microsoft'], env), /--accounts/)
  assert.throws(() => parseConfig(['--mc-port', '99999'], env), /port/)
  assert.throws(() => parseConfig(['--url', 'ws://x/ws?key=abc'], env), /never put keys/)
  assert.throws(() => parseConfig(['--bogus'], env), /bogus/)
  assert.deepEqual(parseConfig(['--auth', 'microsoft', '--accounts', 'a@x, b@y'], env).accounts, ['a@x', 'b@y'])
  assert.match(usage(), /AE_WORLD_KEY/)
})

test('the state file after a refused resume (4009): the unacknowledged events survive a restart', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-state-'))
  const file = path.join(dir, 'ae-minecraft-bridge.state.json')
  const hello = JSON.stringify({ op: 'hello', d: { heartbeat_interval: 1000 } })
  const link = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'], encoding: 'json' })
  link.receive(hello, false, 0)
  link.receive(JSON.stringify({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', sessions: [] } }), false, 0)
  for (const type of ['a', 'b', 'c']) link.event({ type }, undefined, 0)
  assert.equal(link.closed(4009), 'identify')
  const snapshot = link.snapshot()
  assert.ok(snapshot !== null && !('linkId' in snapshot) && snapshot.eventsLink === 'link_1')
  new StateFile(file, createLogger('silent')).save({ serverId: 'mc-1', url: 'ws://x/ws', link: snapshot, companions: [], running: [] })
  // the restarted bridge: identifies (there is no link to resume) naming the events' link
  const loaded = new StateFile(file, createLogger('silent')).load({ serverId: 'mc-1', url: 'ws://x/ws' })
  const again = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'], encoding: 'json' })
  assert.ok(again.restore(loaded.link))
  const [identify] = again.receive(hello, false, 1)
  assert.equal(identify.frame.op, 'identify')
  assert.equal(identify.frame.d.previous_link, 'link_1')
  const ready = { link_id: 'link_2', resume_token: 't2', sessions: [], previous: { link_id: 'link_1', in_s: 1 } }
  const resent = again.receive(JSON.stringify({ op: 'ready', d: ready }), false, 1)
    .filter((e) => e.type === 'send' && e.frame.op === 'event')
  assert.deepEqual(resent.map((e) => [e.frame.s, e.frame.d.type]), [[1, 'b'], [2, 'c']])
  fs.rmSync(dir, { recursive: true })
})

test('the state file: mode 0600, for its own server id and daemon only; a link resumes from it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-state-'))
  const file = path.join(dir, 'ae-minecraft-bridge.state.json')
  const state = new StateFile(file, createLogger('silent'))
  const link = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'] })
  assert.equal(link.snapshot(), null) // nothing to resume before the first ready
  link.linkId = 'link_1'
  link.resumeToken = 'tok'
  link.inS = 7
  link.event({ type: 'player_join', player: { id: 'u', name: 'Alex' } }, undefined, 0)
  state.save({ serverId: 'mc-1', url: 'ws://x/ws', link: link.snapshot(), companions: [], running: [] })
  assert.equal(fs.statSync(file).mode & 0o777, 0o600)
  assert.ok(!fs.readFileSync(file, 'utf8').includes('secret')) // never the world key
  assert.equal(new StateFile(file, createLogger('silent')).load({ serverId: 'mc-2', url: 'ws://x/ws' }), null)
  const loaded = new StateFile(file, createLogger('silent')).load({ serverId: 'mc-1', url: 'ws://x/ws' })
  // several daemon nodes share the link: it is kept while one of its addresses is listed
  assert.ok(new StateFile(file, createLogger('silent')).load({ serverId: 'mc-1', url: 'ws://y/ws,ws://x/ws' }))
  assert.equal(new StateFile(file, createLogger('silent')).load({ serverId: 'mc-1', url: 'ws://y/ws' }), null)
  const again = new AdapterLink({ world: 'minecraft', serverId: 'mc-1', key: 'secret', capabilities: ['chat'], encoding: 'json' })
  assert.ok(again.restore(loaded.link))
  const [resume] = again.receive(JSON.stringify({ op: 'hello', d: { heartbeat_interval: 1000 } }), false, 0)
  assert.deepEqual(resume.frame, { op: 'resume', d: { link_id: 'link_1', resume_token: 'tok', last_s: 7 } })
  assert.deepEqual(again.unacked.map((f) => [f.s, f.d.type]), [[1, 'player_join']])
  state.remove()
  assert.ok(!fs.existsSync(file))
  fs.rmSync(dir, { recursive: true })
})
