#!/usr/bin/env node
'use strict'
// ae-minecraft-bridge: flags override the environment, which overrides the defaults.

const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { parseUrls } = require('./urls')

const OPTIONS = [
  // [flag, env, default, help, type]
  ['url', 'AE_BRIDGE_URL', 'ws://127.0.0.1:3002/ws', "the daemon's WebSocket URL; several daemon nodes separated by commas (a reconnection tries the next)", 'string'],
  ['key', 'AE_WORLD_KEY', '', 'the world key (`ae worlds add NAME --world minecraft`); prefer the environment or --key-file', 'string'],
  ['key-file', 'AE_WORLD_KEY_FILE', '', 'read the world key from this file', 'string'],
  ['server-id', 'AE_SERVER_ID', 'minecraft-1', 'this server\'s id at the daemon (spawn with --server / serverId)', 'string'],
  ['encoding', 'AE_ENCODING', 'msgpack', 'link encoding: msgpack or json', 'string'],
  ['mc-host', 'MC_HOST', '127.0.0.1', 'the Minecraft server', 'string'],
  ['mc-port', 'MC_PORT', '25565', 'the Minecraft server port', 'string'],
  ['mc-version', 'MC_VERSION', '', 'the Minecraft version, e.g. 1.21.1 (empty: ask the server)', 'string'],
  ['auth', 'MC_AUTH', 'offline', 'offline (the server runs online-mode=false) or microsoft', 'string'],
  ['accounts', 'MC_ACCOUNTS', '', 'microsoft auth: comma-separated accounts, one per companion', 'string'],
  ['profiles-folder', 'MC_PROFILES_FOLDER', '', 'microsoft auth: where sign-in tokens are cached', 'string'],
  ['name-prefix', 'AE_MC_NAME_PREFIX', '', 'put this in front of every companion username (e.g. AI_)', 'string'],
  ['title-target', 'AE_MC_TITLE_TARGET', '@a[distance=..32]', 'who sees a title action', 'string'],
  ['allow-dig', 'AE_MC_ALLOW_DIG', 'false', 'let the pathfinder dig through blocks', 'boolean'],
  ['spawn-teleport', 'AE_MC_SPAWN_TELEPORT', 'false', 'teleport a new companion to its spawn location (needs op)', 'boolean'],
  ['state-file', 'AE_STATE_FILE', '', 'where the link and companions are kept across restarts (default: ae-minecraft-bridge.state.json next to --key-file, else in the working folder)', 'string'],
  ['max-backoff', 'AE_MAX_BACKOFF', '60', 'longest wait between reconnections, seconds', 'string'],
  ['max-unacked', 'AE_MAX_UNACKED', '10000', 'most events kept for the daemon while it has not acknowledged them (it is away); then new events are refused, none waiting is dropped', 'string'],
  ['rejoin-max-backoff', 'AE_MC_REJOIN_MAX_BACKOFF', '30', 'longest wait before a companion joins the Minecraft server again, seconds', 'string'],
  ['join-timeout', 'AE_MC_JOIN_TIMEOUT', '30', 'seconds an action waits for its companion to join', 'string'],
  ['move-timeout', 'AE_MC_MOVE_TIMEOUT', '60', 'seconds a move_to may take', 'string'],
  ['follow-timeout', 'AE_MC_FOLLOW_TIMEOUT', '60', 'seconds a follow may take to reach the player', 'string'],
  ['action-timeout', 'AE_MC_ACTION_TIMEOUT', '', 'seconds any other action may take (default: 10 to 15 by type)', 'string'],
  ['log-level', 'AE_LOG_LEVEL', 'info', 'debug, info, warn, error or silent', 'string']
]

class ConfigError extends Error {}

function usage () {
  const lines = ['Usage: ae-minecraft-bridge [options]', '',
    'Carries AI Encounters companions into a Minecraft server as Mineflayer bots.', '']
  for (const [flag, env, def, help, type] of OPTIONS) {
    const shown = type === 'boolean' ? `--${flag}` : `--${flag} VALUE`
    lines.push(`  ${shown.padEnd(26)} ${help}`)
    lines.push(`  ${''.padEnd(26)} env ${env}${def ? `, default ${def}` : ''}`)
  }
  lines.push('  --help                     this text', '  --version                  the version')
  return lines.join('\n')
}

function truthy (value) {
  return ['1', 'true', 'yes', 'on'].includes(String(value).toLowerCase())
}

function seconds (value, name, lo = 0.01) {
  const n = Number(value)
  if (!Number.isFinite(n) || n < lo) throw new ConfigError(`--${name} must be a number of seconds (at least ${lo})`)
  return n
}

function count (value, name) {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`--${name} must be a whole number, at least 1`)
  return n
}

/** Options from argv and env; throws ConfigError with a one-line message. */
function parseConfig (argv, env = process.env) {
  const spec = { help: { type: 'boolean' }, version: { type: 'boolean' } }
  for (const [flag, , , , type] of OPTIONS) spec[flag] = { type }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values
  } catch (err) {
    throw new ConfigError(err.message)
  }
  if (parsed.help || parsed.version) return { help: parsed.help, version: parsed.version }
  const raw = {}
  for (const [flag, envName, def, , type] of OPTIONS) {
    if (parsed[flag] !== undefined) raw[flag] = type === 'boolean' ? true : parsed[flag]
    else if (env[envName] !== undefined && env[envName] !== '') raw[flag] = type === 'boolean' ? truthy(env[envName]) : env[envName]
    else raw[flag] = type === 'boolean' ? truthy(def) : def
  }
  let key = raw.key
  if (!key && raw['key-file']) {
    try {
      key = fs.readFileSync(raw['key-file'], 'utf8').trim()
    } catch (err) {
      throw new ConfigError(`cannot read --key-file: ${err.message}`)
    }
  }
  if (!key) throw new ConfigError('a world key is needed: set AE_WORLD_KEY (or --key-file / --key); make one with `ae worlds add NAME --world minecraft`')
  const urls = parseUrls(raw.url)
  if (urls.length === 0) throw new ConfigError('--url needs a daemon address, e.g. ws://127.0.0.1:3002/ws')
  for (const u of urls) {
    if (!/^wss?:\/\/[^/?#\s]+/.test(u)) throw new ConfigError(`--url entry ${JSON.stringify(u)} must start with ws:// or wss:// and a host (several addresses are separated by commas)`)
    if (/[?&](key|token)=/.test(u)) throw new ConfigError('never put keys in the URL: the key goes in AE_WORLD_KEY')
  }
  if (!['json', 'msgpack'].includes(raw.encoding)) throw new ConfigError('--encoding must be msgpack or json')
  if (!['offline', 'microsoft'].includes(raw.auth)) throw new ConfigError('--auth must be offline or microsoft')
  const port = Number(raw['mc-port'])
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError('--mc-port must be a port number')
  if (!raw['server-id'] || raw['server-id'].length > 64) throw new ConfigError('--server-id must be 1 to 64 characters')
  const accounts = raw.accounts.split(',').map((a) => a.trim()).filter(Boolean)
  if (raw.auth === 'microsoft' && accounts.length === 0) {
    throw new ConfigError('--auth microsoft needs --accounts (one Microsoft account per companion)')
  }
  const stateFile = raw['state-file'] ||
    path.join(raw['key-file'] ? path.dirname(path.resolve(raw['key-file'])) : process.cwd(), 'ae-minecraft-bridge.state.json')
  return {
    url: urls.join(','),
    stateFile: path.resolve(stateFile),
    key,
    serverId: raw['server-id'],
    encoding: raw.encoding,
    mcHost: raw['mc-host'],
    mcPort: port,
    mcVersion: raw['mc-version'] || false,
    auth: raw.auth,
    accounts,
    profilesFolder: raw['profiles-folder'] || undefined,
    namePrefix: raw['name-prefix'],
    titleTarget: raw['title-target'],
    allowDig: raw['allow-dig'],
    spawnTeleport: raw['spawn-teleport'],
    maxBackoff: seconds(raw['max-backoff'], 'max-backoff'),
    maxUnacked: count(raw['max-unacked'], 'max-unacked'),
    rejoinMaxBackoff: seconds(raw['rejoin-max-backoff'], 'rejoin-max-backoff'),
    actionTimeout: raw['action-timeout'] === '' ? undefined : seconds(raw['action-timeout'], 'action-timeout'),
    joinTimeout: seconds(raw['join-timeout'], 'join-timeout'),
    moveTimeout: seconds(raw['move-timeout'], 'move-timeout'),
    followTimeout: seconds(raw['follow-timeout'], 'follow-timeout'),
    logLevel: raw['log-level']
  }
}

function main (argv = process.argv.slice(2), env = process.env) {
  let config
  try {
    config = parseConfig(argv, env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`ae-minecraft-bridge: ${err.message}\n(--help lists the options)\n`)
    process.exitCode = 2
    return null
  }
  if (config.help) {
    process.stdout.write(usage() + '\n')
    return null
  }
  const { Bridge, version } = require('./index')
  if (config.version) {
    process.stdout.write(`${version}\n`)
    return null
  }
  const bridge = new Bridge(config).start()
  let stopping = false
  const shutdown = (signal) => {
    if (stopping) return
    stopping = true
    bridge.log.info('bridge.stopping', { signal })
    const force = setTimeout(() => process.exit(1), 5000)
    force.unref()
    bridge.stop(`bridge stopping (${signal})`).finally(() => process.exit(process.exitCode ?? 0))
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  bridge.on('stopped', ({ code }) => {
    process.exitCode = 3 // the daemon said never to come back (4004 bad key, 4011, 1000)
    bridge.stop(`link closed with ${code}`).finally(() => process.exit(3))
  })
  // a bug in one bot (or in a library, on odd server data) must not take the others down
  process.on('unhandledRejection', (err) => {
    bridge.log.error('bridge.unhandled_rejection', { error: err?.stack || String(err) })
  })
  process.on('uncaughtException', (err) => {
    bridge.log.error('bridge.uncaught_exception', { error: err?.stack || String(err) })
  })
  return bridge
}

if (require.main === module) main()

module.exports = { main, parseConfig, usage, ConfigError, OPTIONS }
