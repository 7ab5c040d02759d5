// The web world's game state (play_static/world.js) with plain calls.

import test from 'node:test'
import assert from 'node:assert/strict'
import { World, COMPANION_SPEED } from '../../../bridge/encounters_bridge/play_static/world.js'

function world () {
  const w = new World({ width: 800, height: 600 })
  w.setPlayer({ id: 'p1', name: 'Ava', x: 400, y: 300 })
  w.spawn('s1', { name: 'Pip' }, { x: 100, y: 64, z: 200 })
  return w
}

test('a spawn puts the companion at the location\'s x and z', () => {
  const c = world().companions.get('s1')
  assert.equal(c.name, 'Pip')
  assert.deepEqual([c.x, c.y], [100, 200])
})

test('move_to walks there at the companion\'s speed and reports the arrival once', () => {
  const w = world()
  assert.deepEqual(w.apply('s1', { type: 'move_to', id: 'a1', x: 100 + COMPANION_SPEED * 2, y: 64, z: 200 }, 0), { ok: true, done: false })
  assert.deepEqual(w.step(1, 1), [])
  assert.equal(Math.round(w.companions.get('s1').x), 100 + COMPANION_SPEED)
  assert.deepEqual(w.step(1.5, 2.5), [{ sid: 's1', actionId: 'a1' }])
  assert.deepEqual(w.step(1, 3.5), [])
  assert.equal(w.companions.get('s1').x, 100 + COMPANION_SPEED * 2)
})

test('move_to off the map fails with no_path; unknown actions with unknown_action', () => {
  const w = world()
  assert.deepEqual(w.apply('s1', { type: 'move_to', x: 5000, y: 0, z: 10 }, 0), { ok: false, reason: 'no_path' })
  assert.deepEqual(w.apply('s1', { type: 'equip', item: 'sword' }, 0), { ok: false, reason: 'unknown_action' })
  assert.deepEqual(w.apply('nobody', { type: 'chat', message: 'hi' }, 0), { ok: false, reason: 'unknown_session' })
})

test('follow keeps up with a walking player and stops at its distance; stop ends it', () => {
  const w = world()
  assert.equal(w.apply('s1', { type: 'follow', target: 'p1', distance: 3 }, 0).ok, true)
  for (let t = 0; t < 10; t += 0.1) w.step(0.1, t)
  const c = w.companions.get('s1')
  assert.ok(Math.abs(Math.hypot(c.x - 400, c.y - 300) - 30) < 1)
  w.walk('p1', 1, 0, 1)
  for (let t = 10; t < 15; t += 0.1) w.step(0.1, t)
  assert.ok(Math.abs(Math.hypot(c.x - w.players.get('p1').x, c.y - 300) - 30) < 1)
  w.apply('s1', { type: 'stop' }, 15)
  const before = [c.x, c.y]
  w.walk('p1', 0, 1, 1)
  w.step(1, 16)
  assert.deepEqual([c.x, c.y], before)
  assert.deepEqual(w.apply('s1', { type: 'follow', target: 'ghost' }, 0), { ok: false, reason: 'no_target' })
})

test('look_at turns towards a player or a point; chat and emote show for a while', () => {
  const w = world()
  w.apply('s1', { type: 'look_at', target: 'p1' }, 0)
  assert.ok(Math.abs(w.companions.get('s1').facing - Math.atan2(100, 300)) < 1e-9)
  w.apply('s1', { type: 'look_at', x: 100, z: 0 }, 0)
  assert.ok(Math.abs(w.companions.get('s1').facing + Math.PI / 2) < 1e-9)
  w.apply('s1', { type: 'chat', message: 'hello' }, 0)
  w.apply('s1', { type: 'emote', name: 'wave' }, 0)
  assert.equal(w.companions.get('s1').bubble.text, 'hello')
  w.step(0.1, 4)
  assert.equal(w.companions.get('s1').emote, null)
  assert.equal(w.companions.get('s1').bubble.text, 'hello')
  w.step(0.1, 7)
  assert.equal(w.companions.get('s1').bubble, null)
})

test('players stay on the map', () => {
  const w = world()
  w.walk('p1', -1, -1, 100)
  assert.deepEqual([w.players.get('p1').x, w.players.get('p1').y], [0, 0])
})
