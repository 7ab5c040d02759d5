'use strict'
// The bridge's link alone (src/connection.js), without Minecraft: what the cluster test
// drives against real daemon nodes. It answers each action with action_done, as the
// game would, and reports on stdout, one JSON object per line:
//   {"event": "connected", "url": "..."}     a connection to that address opened
//   {"event": "ready", "linkId": "..."}      identified (a new link)
//   {"event": "resumed", "replayed": n}      the link resumed
//   {"event": "dispatch", "s": 1, "sid": "...", "d": {...}}
//   {"event": "closed", "code": 1006}        the connection ended
// Commands on stdin, one JSON object per line, each answered {"event": "reply", "id", "ok", ...}:
//   {"id": 1, "cmd": "event", "d": {...}, "sid": "..."}   queue an event: "queued" true/false
//   {"id": 2, "cmd": "status"}                            "unacked": events waiting for an ack
// Env: AE_BRIDGE_URL (one address, or several separated by commas), AE_WORLD_KEY,
// AE_SERVER_ID, AE_MAX_UNACKED (as the bridge's). Stops on SIGTERM.

const { BridgeConnection } = require('../src/connection')
const { createLogger } = require('../src/log')

function out (record) {
  process.stdout.write(JSON.stringify(record) + '\n')
}

const link = new BridgeConnection({
  url: process.env.AE_BRIDGE_URL,
  key: process.env.AE_WORLD_KEY,
  serverId: process.env.AE_SERVER_ID,
  capabilities: ['chat'],
  encoding: 'msgpack',
  maxBackoff: 0.5,
  maxUnacked: process.env.AE_MAX_UNACKED ? Number(process.env.AE_MAX_UNACKED) : undefined,
  log: createLogger(process.env.AE_LOG_LEVEL || 'info')
})
link.on('connected', () => out({ event: 'connected', url: link.url }))
link.on('ready', ({ linkId }) => out({ event: 'ready', linkId }))
link.on('resumed', ({ replayed }) => out({ event: 'resumed', replayed }))
link.on('dispatch', (frame) => {
  out({ event: 'dispatch', s: frame.s, sid: frame.sid, d: frame.d })
  if (frame.d.type === 'action') {
    link.sendEvent({ type: 'action_done', action_id: frame.d.action.id }, frame.sid)
  }
})
link.on('closed', ({ code }) => out({ event: 'closed', code }))
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, cmd, d, sid } = JSON.parse(line)
  if (cmd === 'event') out({ event: 'reply', id, ok: true, queued: link.sendEvent(d, sid) })
  else if (cmd === 'status') out({ event: 'reply', id, ok: true, unacked: link.link.unacked.length })
  else out({ event: 'reply', id, ok: false, error: `unknown command ${cmd}` })
})
link.start()
process.on('SIGTERM', () => link.stop().finally(() => process.exit(0)))
