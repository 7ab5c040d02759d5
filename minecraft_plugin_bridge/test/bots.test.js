'use strict'
// Companions (src/bots.js, src/actions/*, src/events.js) against fake Mineflayer bots.

const test = require('node:test')
const assert = require('node:assert/strict')
const { CompanionManager } = require('../src/bots')
const { CAPABILITIES } = require('../src/actions')
const { createLogger } = require('../src/log')
const { fakeFactory } = require('./fake-bot')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const PERSONA = { id: 'p1', name: 'Helpful Guide', avatar: 'x', emotes: ['wave'], traits: {} }

function setup (opts = {}, options = {}) {
  const events = []
  const factory = fakeFactory(opts)
  const manager = new CompanionManager({
    sendEvent: (d, sid) => events.push(sid === undefined ? { d } : { d, sid }),
    options: { mcHost: '127.0.0.1', mcPort: 25565, joinTimeout: 0.3, moveTimeout: 1, followTimeout: 1, ...options },
    log: createLogger('silent'),
    createBot: factory.create
  })
  return { manager, events, bots: factory.bots }
}

function dispatch (manager, sid, action) {
  manager.handleDispatch({ op: 'dispatch', s: 1, sid, d: { type: 'action', sid, action } })
}

function spawn (manager, sid, persona = PERSONA) {
  manager.handleDispatch({ op: 'dispatch', s: 1, sid, d: { type: 'spawn', sid, persona, location: { x: 1, y: 2, z: 3 } } })
}

async function answer (events, id, ms = 2000) {
  const deadline = Date.now() + ms
  for (;;) {
    const found = events.filter((e) => ['action_done', 'action_failed'].includes(e.d.type) && e.d.action_id === id)
    if (found.length > 0) {
      await sleep(30)
      const again = events.filter((e) => ['action_done', 'action_failed'].includes(e.d.type) && e.d.action_id === id)
      assert.equal(again.length, 1, `exactly one answer to ${id}`)
      return again[0]
    }
    if (Date.now() > deadline) throw new Error(`no answer to ${id}: ${JSON.stringify(events)}`)
    await sleep(5)
  }
}

test('capabilities are the action types of PROTOCOL.md', () => {
  assert.deepEqual([...CAPABILITIES].sort(), ['chat', 'emote', 'equip', 'follow', 'interact', 'look_at',
    'move_to', 'stop', 'title', 'use_entity', 'use_item'])
})

test('spawn: one bot per session, named from the persona, reported as spawned', () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  spawn(manager, 's2')
  assert.deepEqual(bots.map((b) => b.username), ['Helpful_Guide', 'Helpful_Guide2'])
  assert.equal(bots[0].options.auth, 'offline')
  bots[0].spawnNow()
  const spawned = events.find((e) => e.d.type === 'spawned')
  assert.equal(spawned.sid, 's1')
  assert.equal(spawned.d.entity, 'Helpful_Guide')
  assert.equal(spawned.d.entity_id, String(bots[0].entity.id))
  spawn(manager, 's1') // a replayed spawn: no second bot
  assert.equal(bots.length, 2)
})

test('every action is answered: unknown types, broken actions, unknown sessions', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  bots[0].spawnNow()
  dispatch(manager, 's1', { id: 'a1', type: 'teleport_to_mars' })
  dispatch(manager, 's1', { id: 'a2' })
  dispatch(manager, 's1', 'not an object')
  dispatch(manager, 'nobody', { id: 'a3', type: 'chat', message: 'hi' })
  dispatch(manager, 's1', { id: 'a4', type: 'chat' })
  dispatch(manager, 's1', { id: 'a5', type: 'toString' }) // not an own handler
  const a1 = await answer(events, 'a1')
  assert.deepEqual([a1.d.type, a1.d.reason, a1.sid], ['action_failed', 'unknown_action', 's1'])
  assert.match(a1.d.message, /teleport_to_mars/)
  assert.equal((await answer(events, 'a2')).d.reason, 'bad_arguments')
  assert.equal((await answer(events, 'a3')).d.reason, 'no_companion')
  assert.equal((await answer(events, 'a4')).d.reason, 'bad_arguments')
  assert.equal((await answer(events, 'a5')).d.reason, 'unknown_action')
  assert.ok(events.some((e) => e.d.type === 'action_failed' && e.d.action_id === undefined && e.d.reason === 'bad_arguments'))
  manager.handleDispatch({ op: 'dispatch', s: 9, sid: 's1', d: { type: 'weird_dispatch' } }) // logged, ignored
})

test('an action sent before the companion is in the game waits for it', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: 'first!' })
  await sleep(20)
  assert.equal(events.filter((e) => e.d.type === 'action_done').length, 0)
  bots[0].spawnNow()
  assert.equal((await answer(events, 'c1')).d.type, 'action_done')
  assert.deepEqual(bots[0].chats, ['first!'])
})

test('...and fails if it never comes', async () => {
  const { manager, events } = setup()
  spawn(manager, 's1')
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: 'hello?' })
  assert.equal((await answer(events, 'c1')).d.reason, 'not_spawned')
})

test('chat never runs a command and drops characters Minecraft refuses', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  bots[0].spawnNow()
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: '  //op me §c now\u0007' })
  dispatch(manager, 's1', { id: 'c2', type: 'chat', message: ('word '.repeat(120)).trim() })
  dispatch(manager, 's1', { id: 'c3', type: 'chat', message: '/ / /' })
  await answer(events, 'c1')
  assert.equal((await answer(events, 'c2')).d.detail.lines, 3)
  assert.equal((await answer(events, 'c3')).d.reason, 'bad_arguments')
  assert.equal(bots[0].chats[0], 'op me c now')
  assert.ok(bots[0].chats.slice(1).every((line) => line.length <= 256 && !line.startsWith('/')))
})

test('title: /title when the companion is an operator, not_op (saying why) when it is not', async () => {
  const op = setup({ opLevel: 4 })
  spawn(op.manager, 's1')
  op.bots[0].spawnNow()
  dispatch(op.manager, 's1', { id: 't1', type: 'title', text: 'Welcome "home"', subtitle: 'friend', seconds: 2 })
  assert.equal((await answer(op.events, 't1')).d.type, 'action_done')
  assert.deepEqual(op.bots[0].chats, [
    '/title @a[distance=..32] times 10 40 20',
    '/title @a[distance=..32] subtitle {"text":"friend"}',
    '/title @a[distance=..32] title {"text":"Welcome \\"home\\""}'
  ])
  dispatch(op.manager, 's1', { id: 't2', type: 'title', text: 'x'.repeat(240) })
  assert.equal((await answer(op.events, 't2')).d.reason, 'too_long')

  const plain = setup({ opLevel: 0 })
  spawn(plain.manager, 's1')
  plain.bots[0].spawnNow()
  dispatch(plain.manager, 's1', { id: 't3', type: 'title', text: 'Welcome' })
  const failed = await answer(plain.events, 't3')
  assert.equal(failed.d.reason, 'not_op')
  assert.match(failed.d.message, /\/op Helpful_Guide/)
  assert.deepEqual(plain.bots[0].chats, [])
})

test('move_to ends near the point; a newer movement or a stop interrupts the running one', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  bots[0].spawnNow()
  dispatch(manager, 's1', { id: 'm1', type: 'move_to', x: 4, y: 5, z: 4 })
  const done = await answer(events, 'm1')
  assert.equal(done.d.type, 'action_done')
  assert.equal(done.d.detail.distance, 0)
  dispatch(manager, 's1', { id: 'v1', type: 'move_to', target: { x: 1, y: 5, z: 1 } }) // the vectors' shape
  assert.equal((await answer(events, 'v1')).d.type, 'action_done')

  bots[0].walk = false
  dispatch(manager, 's1', { id: 'm2', type: 'move_to', x: 9, y: 5, z: 9 })
  await sleep(10)
  dispatch(manager, 's1', { id: 'm3', type: 'move_to', x: 8, y: 5, z: 8 })
  assert.equal((await answer(events, 'm2')).d.reason, 'interrupted')
  dispatch(manager, 's1', { id: 'st', type: 'stop' })
  assert.equal((await answer(events, 'm3')).d.reason, 'stopped')
  assert.deepEqual((await answer(events, 'st')).d.detail, { stopped: 'm3' })
  dispatch(manager, 's1', { id: 'm4', type: 'move_to', x: 'a', y: 5, z: 9 })
  assert.equal((await answer(events, 'm4')).d.reason, 'bad_arguments')
  dispatch(manager, 's1', { id: 'm5', type: 'move_to', x: 3, y: 5, z: 3 })
  assert.equal((await answer(events, 'm5')).d.reason, 'timeout') // moveTimeout: 1 s here
})

test('follow is done once close to the player; an unseen player fails', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  bots[0].spawnNow()
  bots[0].addPlayer('Steve')
  dispatch(manager, 's1', { id: 'f1', type: 'follow', target: 'steve', distance: 2 })
  const done = await answer(events, 'f1')
  assert.equal(done.d.detail.following, 'steve')
  assert.equal(bots[0].goals.at(-1).constructor.name, 'GoalFollow')
  dispatch(manager, 's1', { id: 'f2', type: 'follow', target: 'Nobody' })
  assert.equal((await answer(events, 'f2')).d.reason, 'target_not_found')
  dispatch(manager, 's1', { id: 'st', type: 'stop' })
  assert.deepEqual((await answer(events, 'st')).d.detail, { stopped: 'f1' })
})

test('look_at, interact, use_entity, equip, use_item, emote', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  const bot = bots[0]
  bot.spawnNow()
  const steve = bot.addPlayer('Steve')
  const cases = [
    [{ type: 'look_at', target: 'Steve' }, 'action_done'],
    [{ type: 'look_at', x: 1, y: 2, z: 3 }, 'action_done'],
    [{ type: 'look_at', target: 'Ghost' }, 'target_not_found'],
    [{ type: 'interact', target_type: 'block', x: 1, y: 4, z: 0 }, 'action_done'],
    [{ type: 'interact', target_type: 'block', x: 1, y: 6, z: 0 }, 'no_block'],
    [{ type: 'interact', target_type: 'block', x: 40, y: 4, z: 0 }, 'too_far'],
    [{ type: 'interact', target_type: 'entity', entity: 'Steve' }, 'action_done'],
    [{ type: 'interact', target_type: 'entity', entity: String(steve.entity.id) }, 'action_done'],
    [{ type: 'interact', target_type: 'sky' }, 'bad_arguments'],
    [{ type: 'use_entity', entity: 'uuid-nobody' }, 'target_not_found'],
    [{ type: 'equip', item: 'stick' }, 'not_in_inventory'],
    [{ type: 'equip', item: 'unobtainium' }, 'bad_arguments'],
    [{ type: 'use_item' }, 'nothing_held'],
    [{ type: 'emote', name: 'wave' }, 'action_done'],
    [{ type: 'emote', emote: 'crouch' }, 'action_done'],
    [{ type: 'emote', name: 'moonwalk' }, 'unknown_emote']
  ]
  for (const [i, [action, want]] of cases.entries()) {
    dispatch(manager, 's1', { id: `x${i}`, ...action })
    const got = await answer(events, `x${i}`)
    assert.equal(got.d.type === 'action_done' ? 'action_done' : got.d.reason, want, JSON.stringify(action))
  }
  assert.equal(bot.swings, 3)
  bot.items.push({ name: 'stick' })
  dispatch(manager, 's1', { id: 'e1', type: 'equip', item: 'minecraft:stick', hand: 'off-hand' })
  assert.deepEqual((await answer(events, 'e1')).d.detail, { item: 'stick', hand: 'off-hand' })
  dispatch(manager, 's1', { id: 'u1', type: 'use_item', item: 'stick' })
  assert.deepEqual((await answer(events, 'u1')).d.detail, { item: 'stick' })
})

test('despawn: the bot leaves; its actions are answered', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: 'waiting' })
  manager.handleDispatch({ op: 'dispatch', s: 3, sid: 's1', d: { type: 'despawn', sid: 's1', reason: 'ended' } })
  assert.equal((await answer(events, 'c1')).d.reason, 'despawned')
  assert.match(bots[0].quitWith, /despawned/)
  dispatch(manager, 's1', { id: 'c2', type: 'chat', message: 'gone?' })
  assert.equal((await answer(events, 'c2')).d.reason, 'no_companion')
})

test('kicked for good (banned): reported as final with its reason; the companion does not come back', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  bots[0].spawnNow()
  bots[0].emit('kicked', '{"text":"You are ","extra":[{"text":"banned"}]}', true)
  const kicked = events.find((e) => e.d.type === 'kicked')
  assert.deepEqual(kicked, { d: { type: 'kicked', reason: 'You are banned', final: true }, sid: 's1' })
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: 'hello' })
  assert.equal((await answer(events, 'c1')).d.reason, 'not_connected')
  await sleep(50)
  assert.equal(bots.length, 1)
})

test('kicked by a server stop ("Server closed"): the companion joins again and goes on', async () => {
  const { manager, events, bots } = setup({}, { joinTimeout: 3, rejoinMaxBackoff: 0.05 })
  spawn(manager, 's1')
  bots[0].spawnNow()
  bots[0].emit('kicked', '{"translate":"multiplayer.disconnect.server_shutdown","text":"Server closed"}', true)
  bots[0].emit('end', 'socketClosed')
  const kicked = events.find((e) => e.d.type === 'kicked')
  assert.deepEqual(kicked.d, { type: 'kicked', reason: 'Server closed', rejoining: true })
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: 'back again' })
  const deadline = Date.now() + 2000
  while (bots.length < 2 && Date.now() < deadline) await sleep(10)
  assert.equal(bots.length, 2)
  assert.equal(bots[1].username, 'Helpful_Guide')
  bots[1].spawnNow()
  assert.equal((await answer(events, 'c1')).d.type, 'action_done')
  assert.deepEqual(bots[1].chats, ['back again'])
})

test('a companion that cannot get in (wrong address) gives up after --join-timeout, saying why', async () => {
  const { manager, events, bots } = setup({}, { joinTimeout: 0.3, rejoinMaxBackoff: 0.02 })
  spawn(manager, 's1')
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: 'anyone?' })
  const refuse = async () => {
    for (let i = 0; i < 100 && !events.some((e) => e.d.type === 'kicked'); i++) {
      const bot = bots[bots.length - 1]
      if (!bot.refused) {
        bot.refused = true
        bot.emit('error', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))
        bot.emit('end', 'socketClosed')
      }
      await sleep(10)
    }
  }
  await refuse()
  const kicked = events.filter((e) => e.d.type === 'kicked')
  assert.equal(kicked.length, 1)
  assert.equal(kicked[0].sid, 's1')
  assert.equal(kicked[0].d.final, true)
  assert.equal(kicked[0].d.reason, 'could not join the Minecraft server at 127.0.0.1:25565: connect ECONNREFUSED 127.0.0.1:1')
  assert.ok(bots.length >= 2, 'it tried again before giving up')
  // the action waited as long as the join did (either answer says it never got in)
  assert.ok(['not_spawned', 'not_connected'].includes((await answer(events, 'c1')).d.reason))
  dispatch(manager, 's1', { id: 'c2', type: 'chat', message: 'still there?' })
  assert.equal((await answer(events, 'c2')).d.reason, 'not_connected')
  const tries = bots.length
  await sleep(100)
  assert.equal(bots.length, tries)
})

test('an online-mode server: the failed join says so, with the hint', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  bots[0]._client.emit('encryption_begin', { serverId: '', publicKey: Buffer.alloc(0), verifyToken: Buffer.alloc(4) })
  bots[0].emit('kicked', 'Failed to verify username!', false)
  const kicked = events.find((e) => e.d.type === 'kicked')
  assert.equal(kicked.d.final, true)
  assert.equal(kicked.d.reason, 'Failed to verify username!')
  assert.match(kicked.d.hint, /online-mode=true.*--auth microsoft/)
})

test('an action that never finishes is answered action_failed timeout, once', async () => {
  const { manager, events, bots } = setup({}, { actionTimeout: 0.2 })
  spawn(manager, 's1')
  bots[0].spawnNow()
  bots[0].lookAt = () => new Promise(() => {}) // the server never lets it finish
  dispatch(manager, 's1', { id: 'l1', type: 'look_at', x: 1, y: 2, z: 3 })
  const failed = await answer(events, 'l1')
  assert.equal(failed.d.type, 'action_failed')
  assert.equal(failed.d.reason, 'timeout')
  assert.match(failed.d.message, /look_at did not finish within 0.2 s/)
  await sleep(300)
  assert.equal(events.filter((e) => e.d.action_id === 'l1').length, 1)
  assert.equal(manager.snapshot().running.length, 0)
  assert.equal(manager.limitOf('move_to'), 1 + 10) // movement: its own limit, then 10 s more
})

test('a restarted bridge: companions join again under their names; running actions are answered interrupted', async () => {
  const first = setup({ walk: false })
  spawn(first.manager, 's1')
  first.bots[0].spawnNow()
  dispatch(first.manager, 's1', { id: 'm1', type: 'move_to', x: 50, y: 5, z: 50 })
  await sleep(20)
  const saved = first.manager.snapshot()
  assert.deepEqual(saved.running, [{ id: 'm1', sid: 's1' }])
  assert.deepEqual(saved.companions.map((c) => [c.sid, c.username, c.wasLive]), [['s1', 'Helpful_Guide', true]])
  const second = setup()
  second.manager.restore(JSON.parse(JSON.stringify(saved)))
  assert.deepEqual(second.bots.map((b) => b.username), ['Helpful_Guide'])
  const interrupted = await answer(second.events, 'm1')
  assert.deepEqual([interrupted.d.type, interrupted.d.reason, interrupted.sid], ['action_failed', 'interrupted', 's1'])
  dispatch(second.manager, 's1', { id: 'c1', type: 'chat', message: 'I am back' })
  second.bots[0].spawnNow()
  assert.equal((await answer(second.events, 'c1')).d.type, 'action_done')
  first.manager.shutdown()
})

test('a lost connection: the companion joins again and is spawned again', async () => {
  const { manager, events, bots } = setup({}, { joinTimeout: 3 })
  spawn(manager, 's1')
  bots[0].spawnNow()
  const realRandom = Math.random
  Math.random = () => 0 // the shortest backoff: 0.5 s
  try {
    bots[0].emit('end', 'socketClosed')
  } finally {
    Math.random = realRandom
  }
  dispatch(manager, 's1', { id: 'c1', type: 'chat', message: 'back?' })
  const deadline = Date.now() + 3000
  while (bots.length < 2 && Date.now() < deadline) await sleep(20)
  assert.equal(bots.length, 2)
  bots[1].spawnNow()
  assert.equal((await answer(events, 'c1')).d.type, 'action_done')
  assert.equal(events.filter((e) => e.d.type === 'spawned').length, 2)
  assert.deepEqual(bots[1].chats, ['back?'])
})

test('health: reported when it changes, at most once a second; damage and death', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  const bot = bots[0]
  bot.spawnNow()
  await sleep(10)
  assert.deepEqual(events.filter((e) => e.d.type === 'health').map((e) => e.d), [{ type: 'health', health: 20, food: 20 }])
  for (const h of [18, 15, 15, 12]) { bot.health = h; bot.emit('health') }
  await sleep(50)
  assert.equal(events.filter((e) => e.d.type === 'health').length, 1) // throttled
  assert.deepEqual(events.filter((e) => e.d.type === 'companion_damaged').map((e) => e.d.amount), [2, 3, 3])
  await sleep(1100)
  assert.deepEqual(events.filter((e) => e.d.type === 'health').at(-1).d, { type: 'health', health: 12, food: 20 })
  bot.emit('death')
  assert.deepEqual(events.at(-1), { d: { type: 'death' }, sid: 's1' })
})

test('player chat, join and leave: reported once however many companions see them', async () => {
  const { manager, events, bots } = setup()
  spawn(manager, 's1')
  spawn(manager, 's2', { ...PERSONA, name: 'Zoë' })
  const [a, b] = bots
  a.addPlayer('Steve')
  b.addPlayer('Steve')
  a.spawnNow()
  b.spawnNow()
  assert.equal(b.username, 'Zoe')
  for (const bot of bots) {
    bot.emit('chat', 'Steve', 'hello everyone')
    bot.emit('chat', 'Steve', 'zoë, come here') // names the persona
    bot.emit('chat', 'Steve', 'hey @Helpful_Guide and Zoe')
    bot.emit('chat', 'Helpful_Guide', 'I am a companion') // our own: not reported
  }
  b.emit('whisper', 'Steve', 'psst')
  const chats = events.filter((e) => e.d.type === 'player_chat')
  assert.deepEqual(chats.map((e) => [e.d.message, e.sid]), [
    ['hello everyone', undefined], ['zoë, come here', 's2'], ['hey @Helpful_Guide and Zoe', 's1'], ['psst', 's2']
  ])
  assert.deepEqual(chats[0].d.player, { id: 'uuid-Steve', name: 'Steve' })
  assert.equal(chats[3].d.whisper, true)

  // Steve was there before: no join; Alex joins later, then leaves
  await sleep(2100) // past the first list's grace
  for (const bot of bots) bot.emit('playerJoined', { username: 'Alex', uuid: 'uuid-Alex' })
  for (const bot of bots) bot.emit('playerJoined', { username: 'Zoe', uuid: 'uuid-z' }) // ours
  for (const bot of bots) bot.emit('playerLeft', { username: 'Alex', uuid: 'uuid-Alex' })
  const world = events.filter((e) => ['player_join', 'player_leave'].includes(e.d.type))
  assert.deepEqual(world, [
    { d: { type: 'player_join', player: { id: 'uuid-Alex', name: 'Alex' } } },
    { d: { type: 'player_leave', player: { id: 'uuid-Alex', name: 'Alex' } } }
  ])

  // the observer leaves: the other companion takes over, still once
  manager.despawn('s1', 'ended')
  b.emit('chat', 'Steve', 'still here')
  assert.equal(events.filter((e) => e.d.type === 'player_chat' && e.d.message === 'still here').length, 1)
})

test('ready: live sessions come back, companions the daemon no longer lists leave', () => {
  const { manager, bots } = setup()
  spawn(manager, 'old')
  manager.handleReady([{ sid: 's1', persona: PERSONA, location: { x: 0, y: 0, z: 0 } }, { nope: 1 }])
  assert.deepEqual([...manager.companions.keys()], ['s1'])
  assert.ok(bots[0].quitWith)
  assert.equal(bots[1].username, 'Helpful_Guide')
  manager.handleReady([{ sid: 's1', persona: PERSONA }])
  assert.equal(bots.length, 2)
})

test('microsoft auth: one account per companion, given back on despawn', async () => {
  const { manager, events, bots } = setup({}, { auth: 'microsoft', accounts: ['a@example.com'] })
  spawn(manager, 's1')
  spawn(manager, 's2')
  assert.equal(bots.length, 1)
  assert.equal(bots[0].options.username, 'a@example.com')
  assert.equal(bots[0].options.auth, 'microsoft')
  assert.match(events.find((e) => e.sid === 's2').d.reason, /no free Microsoft account/)
  manager.despawn('s1')
  spawn(manager, 's3')
  assert.equal(bots[1].options.username, 'a@example.com')
})

test('a voiced line shows as a subtitle: the action bar for an operator, marked chat otherwise', async () => {
  const audio = { url: 'http://127.0.0.1:3001/audio/ab.wav?exp=1&sig=x', duration: 1.5, content_type: 'audio/wav' }
  const op = setup({ opLevel: 2 })
  spawn(op.manager, 's1')
  op.bots[0].spawnNow()
  dispatch(op.manager, 's1', { id: 'v1', type: 'chat', message: 'Over "here"!', audio })
  const done = await answer(op.events, 'v1')
  assert.deepEqual(done.d.detail, { lines: 1, subtitle: 'actionbar' })
  assert.deepEqual(op.bots[0].chats, [
    'Over "here"!',
    '/title @a[distance=..32] actionbar {"text":"\u266a Over \\"here\\"!"}'
  ])
  dispatch(op.manager, 's1', { id: 'v2', type: 'chat', message: 'y'.repeat(400), audio })
  await answer(op.events, 'v2')
  const bar = op.bots[0].chats.at(-1)
  assert.ok(bar.startsWith('/title @a[distance=..32] actionbar ') && bar.length <= 256)
  assert.ok(bar.includes('\u2026'))

  const plain = setup({ opLevel: 0 })
  spawn(plain.manager, 's1')
  plain.bots[0].spawnNow()
  dispatch(plain.manager, 's1', { id: 'v3', type: 'chat', message: '/op me, friend', audio })
  assert.deepEqual((await answer(plain.events, 'v3')).d.detail, { lines: 1, subtitle: 'chat' })
  dispatch(plain.manager, 's1', { id: 'v4', type: 'chat', message: 'no voice here' })
  await answer(plain.events, 'v4')
  assert.deepEqual(plain.bots[0].chats, ['\u266a op me, friend', 'no voice here'])
})
