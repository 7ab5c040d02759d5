'use strict'
// A small Minecraft 1.21.1 server for the end-to-end test (tests/adapters/test_minecraft_bridge.py):
// flying-squid, offline mode, superflat, on 127.0.0.1. Prints one JSON line
// {"event": "listening", "port": N} when it accepts players. Env: MC_PORT (0 = any free
// port), MC_VERSION (default 1.21.1). SIGTERM stops it as /stop does: players are kicked
// with "Server closed".
//
// Three fixes make flying-squid 1.12 behave like a vanilla server for players that join
// one after the other (otherwise bots cannot see each other, and follow / look_at need the
// other player's entity) and leave:
//   - a joining player is sent the player list too (flying-squid sends it to the others
//     only), before the players' entities are spawned for it;
//   - players get their entity type (flying-squid spawns them with none);
//   - a player who leaves is removed from the others' player list (player_remove: since
//     1.19.3 that is its own packet, which flying-squid does not send).
// Players spawn at fixed points, 2 blocks apart along x, so the test knows where they are.

const mcServer = require('flying-squid')
const { Vec3 } = require('vec3')

const port = Number(process.env.MC_PORT || 0)
const version = process.env.MC_VERSION || '1.21.1'
// MC_ONLINE_MODE=1: online-mode=true. The session server is never reached from a test:
// its calls go to a loopback port where nothing listens (MC_SESSION_PORT), so the server
// refuses every player as Mojang refuses a client that never signed in.
const onlineMode = process.env.MC_ONLINE_MODE === '1'
let agent
if (onlineMode) {
  agent = new (require('node:https').Agent)()
  agent.createConnection = () => require('node:net').connect(Number(process.env.MC_SESSION_PORT), '127.0.0.1')
}

function out (record) {
  process.stdout.write(JSON.stringify(record) + '\n')
}

const serv = mcServer.createMCServer({
  port,
  host: '127.0.0.1',
  'online-mode': onlineMode,
  agent,
  version,
  generation: { name: 'superflat', options: { worldHeight: 80 } },
  'everybody-op': true,
  logging: false,
  'max-players': 10,
  'view-distance': 2,
  kickTimeout: 10000,
  plugins: {},
  modpe: false,
  'player-list-text': { header: '', footer: '' },
  'max-entities': 100,
  gameMode: 1,
  difficulty: 0,
  motd: 'ae-minecraft-bridge e2e'
})

function playerInfo (players) {
  if (serv.supportFeature('playerInfoActionIsBitfield')) {
    return {
      action: { add_player: true },
      data: players.map((p) => ({
        uuid: p.uuid,
        player: { name: p.username, properties: p.profileProperties },
        gamemode: p.gameMode,
        latency: p._client.latency
      }))
    }
  }
  return {
    action: 'add_player',
    data: players.map((p) => ({
      uuid: p.uuid, name: p.username, properties: p.profileProperties, gamemode: p.gameMode, ping: p._client.latency
    }))
  }
}

let joined = 0

serv.on('newPlayer', (player) => {
  player.entityType = serv.registry.entitiesByName.player.id
  // a fixed spawn point per player, 2 blocks apart (flying-squid picks one at random)
  const n = joined++
  player.findSpawnPoint = async () => {
    const p = await serv.getSpawnPoint(player.world)
    player.spawnPoint = new Vec3(2 * n, p.y, 0)
  }
  // serv._sendPlayerList is set again for every player that joins: wrap this one
  const toOthers = serv._sendPlayerList
  serv._sendPlayerList = (toPlayer) => {
    toOthers(toPlayer)
    toPlayer._client.write('player_info', playerInfo(serv.players))
  }
  if (serv.supportFeature('playerInfoActionIsBitfield')) { // 1.19.3+: removal is its own packet
    serv._sendPlayerEventLeave = (leaving) => leaving._writeOthers('player_remove', { players: [leaving.uuid] })
  }
  player.on('spawned', () => out({ event: 'player_spawned', name: player.username }))
  player._client.on('end', () => out({ event: 'player_left', name: player.username }))
})

serv.on('listening', () => {
  const address = serv._server.socketServer.address()
  out({ event: 'listening', port: address.port })
})
serv.on('error', (err) => out({ event: 'error', error: String(err && err.stack ? err.stack : err) }))
process.on('uncaughtException', (err) => out({ event: 'error', error: String(err && err.stack ? err.stack : err) }))
// a graceful stop, as a vanilla server's /stop: every player is kicked with "Server closed"
function stop () {
  for (const player of [...serv.players]) {
    try {
      player.kick('Server closed')
    } catch {}
  }
  out({ event: 'stopping', players: serv.players.length })
  setTimeout(() => process.exit(0), 300)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
