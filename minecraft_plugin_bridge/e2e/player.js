'use strict'
// The human player of the end-to-end test: a Mineflayer bot driven over stdin/stdout,
// one JSON object per line.
//   in:  {"id": 1, "cmd": "chat", "message": "..."}      say something
//        {"id": 2, "cmd": "goto", "x": 0, "y": 5, "z": 9} walk there (pathfinder)
//        {"id": 3, "cmd": "where", "name": "Helpful_Guide"}  my position and that player's
//        {"id": 4, "cmd": "quit"}
//   out: {"event": "spawned", "position": {...}} once in the game
//        {"event": "chat", "username": "...", "message": "..."} for every chat line heard
//        {"event": "reply", "id": 1, "ok": true, ...} for each command
// Env: MC_PORT, MC_VERSION (default 1.21.1), PLAYER_NAME (default Steve).

const readline = require('node:readline')
const mineflayer = require('mineflayer')
const { pathfinder, Movements, goals } = require('mineflayer-pathfinder')

function out (record) {
  process.stdout.write(JSON.stringify(record) + '\n')
}

function pos (entity) {
  const p = entity.position
  return { x: Math.round(p.x * 100) / 100, y: Math.round(p.y * 100) / 100, z: Math.round(p.z * 100) / 100 }
}

const bot = mineflayer.createBot({
  host: '127.0.0.1',
  port: Number(process.env.MC_PORT),
  username: process.env.PLAYER_NAME || 'Steve',
  auth: 'offline',
  version: process.env.MC_VERSION || '1.21.1',
  hideErrors: true,
  logErrors: false
})
bot.loadPlugin(pathfinder)

bot.once('spawn', () => {
  const movements = new Movements(bot)
  movements.canDig = false
  movements.allow1by1towers = false
  bot.pathfinder.setMovements(movements)
  out({ event: 'spawned', position: pos(bot.entity) })
})
bot.on('chat', (username, message) => out({ event: 'chat', username, message }))
bot.on('kicked', (reason) => out({ event: 'kicked', reason: JSON.stringify(reason) }))
bot.on('end', (reason) => { out({ event: 'end', reason: String(reason) }); process.exit(0) })
bot.on('error', (err) => out({ event: 'error', error: err.message }))

async function handle (req) {
  switch (req.cmd) {
    case 'chat':
      bot.chat(req.message)
      return {}
    case 'goto':
      await bot.pathfinder.goto(new goals.GoalNear(req.x, req.y, req.z, req.range ?? 1))
      return { position: pos(bot.entity) }
    case 'where': {
      const other = req.name ? bot.players[req.name]?.entity : null
      const reply = { position: pos(bot.entity), seen: Boolean(other) }
      if (other) {
        reply.other = pos(other)
        reply.distance = Math.round(bot.entity.position.distanceTo(other.position) * 100) / 100
      }
      return reply
    }
    case 'quit':
      setTimeout(() => bot.quit(), 10)
      return {}
    default:
      throw new Error(`unknown command ${req.cmd}`)
  }
}

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let req
  try {
    req = JSON.parse(line)
  } catch {
    return out({ event: 'reply', ok: false, error: 'not json' })
  }
  handle(req).then(
    (reply) => out({ event: 'reply', id: req.id, ok: true, ...reply }),
    (err) => out({ event: 'reply', id: req.id, ok: false, error: String(err && err.message ? err.message : err) })
  )
})
process.stdin.on('end', () => bot.quit())
