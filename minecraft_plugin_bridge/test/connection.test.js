'use strict'
// The link's I/O (src/connection.js) against a scripted daemon on 127.0.0.1: identify,
// acks, a drop and its resume, close codes that mean identify again or stop for good.
// (The real daemon is covered by the shared vectors and the end-to-end test.)

const test = require('node:test')
const assert = require('node:assert/strict')
const { WebSocketServer } = require('ws')
const { BridgeConnection } = require('../src/connection')
const { createLogger } = require('../src/log')
const { fakeDaemon } = require('./fake-daemon')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function connect (daemon, over = {}) {
  return new BridgeConnection({
    url: daemon.url, key: 'ae_wk_test', serverId: 'srv-1', capabilities: ['chat'],
    encoding: 'msgpack', maxBackoff: 0.05, log: createLogger('silent'), ...over
  }).start()
}

test('identify, dispatches acknowledged, heartbeats; a drop is resumed and nothing is lost', async () => {
  const daemon = await fakeDaemon()
  const link = connect(daemon)
  const got = []
  link.on('dispatch', (frame) => got.push(frame.s))
  try {
    const identify = await daemon.next((f) => f.op === 'identify')
    assert.equal(daemon.paths[0], '/ws?encoding=msgpack') // the key never goes in the URL
    assert.deepEqual(identify.d.world, 'minecraft')
    assert.equal(identify.d.key, 'ae_wk_test')
    daemon.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', heartbeat_interval: 200, sessions: [] } })
    await sleep(30)
    daemon.send({ op: 'dispatch', s: 1, sid: 'a', d: { type: 'spawn' } })
    daemon.send({ op: 'dispatch', s: 2, sid: 'a', d: { type: 'action' } })
    const ack = await daemon.next((f) => f.op === 'ack' || (f.op === 'heartbeat' && f.d.ack === 2), 500)
    assert.equal(ack.op === 'ack' ? ack.d.s : ack.d.ack, 2)
    await daemon.next((f) => f.op === 'heartbeat', 1000)
    link.sendEvent({ type: 'player_chat', message: 'one' })
    assert.equal((await daemon.next((f) => f.op === 'event')).s, 1)

    daemon.conns[0].ws.terminate() // a network failure
    await sleep(10)
    link.sendEvent({ type: 'player_chat', message: 'two' }, 'a') // while down: kept
    const resume = await daemon.next((f) => f.op === 'resume')
    assert.deepEqual(resume.d, { link_id: 'link_1', resume_token: 'tok', last_s: 2 })
    daemon.send({ op: 'resumed', d: { replayed: 1 } })
    daemon.send({ op: 'dispatch', s: 2, sid: 'a', d: { type: 'action' } }) // a replay: not run twice
    daemon.send({ op: 'dispatch', s: 3, sid: 'a', d: { type: 'action' } })
    const resent = [await daemon.next((f) => f.op === 'event'), await daemon.next((f) => f.op === 'event')]
    assert.deepEqual(resent.map((f) => [f.s, f.d.message, f.sid]), [[1, 'one', undefined], [2, 'two', 'a']])
    await sleep(100)
    assert.deepEqual(got, [1, 2, 3])
  } finally {
    await link.stop()
    await daemon.close()
  }
})

test('several daemon nodes: a dead node is skipped and the link resumes on the next one', async () => {
  const first = await fakeDaemon()
  const second = await fakeDaemon()
  const link = connect(first, { url: ` ${first.url} , ${second.url} `, encoding: 'json' })
  const got = []
  link.on('dispatch', (frame) => got.push(frame.s))
  try {
    assert.deepEqual(link.urls, [`${first.url}?encoding=json`, `${second.url}?encoding=json`])
    await first.next((f) => f.op === 'identify')
    first.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', heartbeat_interval: 200, sessions: [] } })
    await sleep(30)
    first.send({ op: 'dispatch', s: 1, sid: 'a', d: { type: 'spawn' } })
    first.send({ op: 'dispatch', s: 2, sid: 'a', d: { type: 'action' } })
    await first.next((f) => f.op === 'ack' || (f.op === 'heartbeat' && f.d.ack === 2), 1000)
    await first.close() // the node dies: its sockets cut, nothing listens there any more
    const resume = await second.next((f) => f.op === 'resume', 5000)
    assert.deepEqual(resume.d, { link_id: 'link_1', resume_token: 'tok', last_s: 2 })
    assert.equal(second.paths[0], '/ws?encoding=json')
    second.send({ op: 'resumed', d: { replayed: 0 } })
    second.send({ op: 'dispatch', s: 3, sid: 'a', d: { type: 'action' } })
    await second.next((f) => f.op === 'ack' || (f.op === 'heartbeat' && f.d.ack === 3), 1000)
    assert.deepEqual(got, [1, 2, 3])
    assert.equal(link.url, `${second.url}?encoding=json`)
  } finally {
    await link.stop()
    await second.close()
  }
})

test('the command line takes a comma-separated list of daemon URLs and checks each', () => {
  const { parseConfig } = require('../src/cli')
  const config = parseConfig([], { AE_WORLD_KEY: 'k', AE_BRIDGE_URL: 'ws://a:3002/ws, wss://b.example/ws,' })
  assert.equal(config.url, 'ws://a:3002/ws,wss://b.example/ws')
  assert.throws(() => parseConfig(['--url', 'ws://a:3002/ws,http://b/ws'], { AE_WORLD_KEY: 'k' }),
    /--url entry "http:\/\/b\/ws" must start with ws:\/\/ or wss:\/\//)
  assert.throws(() => parseConfig(['--url', ' , '], { AE_WORLD_KEY: 'k' }), /--url needs a daemon address/)
})

test('4009 means identify again; 4004 means stop for good', async () => {
  const daemon = await fakeDaemon()
  const link = connect(daemon, { encoding: 'json' })
  const stopped = new Promise((resolve) => link.once('stopped', resolve))
  try {
    await daemon.next((f) => f.op === 'identify')
    daemon.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', sessions: [] } })
    await sleep(20)
    daemon.conns[0].ws.close(4009, 'unknown link')
    await daemon.next((f) => f.op === 'identify') // not resume
    daemon.conns[1].ws.close(4004, 'bad key')
    assert.equal((await stopped).code, 4004)
    await sleep(300)
    assert.equal(daemon.conns.length, 2, 'no reconnection after 4004')
    assert.equal(link.link.stopped, true)
  } finally {
    await link.stop()
    await daemon.close()
  }
})

test('a daemon that is not there yet: retried with backoff until it is', async () => {
  const daemon = await fakeDaemon()
  const { port } = daemon.wss.address()
  await daemon.close()
  const link = connect(daemon, { encoding: 'json' })
  try {
    await sleep(150)
    assert.ok(link.attempt >= 1, 'retrying')
    const again = new WebSocketServer({ host: '127.0.0.1', port })
    const ready = new Promise((resolve) => again.on('connection', (ws) => resolve(ws)))
    const ws = await ready
    ws.terminate()
    await new Promise((resolve) => again.close(resolve))
  } finally {
    await link.stop()
  }
})

test('a silent daemon is dropped and resumed', async () => {
  const daemon = await fakeDaemon()
  const link = connect(daemon, { encoding: 'json' })
  try {
    await daemon.next((f) => f.op === 'identify')
    daemon.send({ op: 'ready', d: { link_id: 'link_1', resume_token: 'tok', sessions: [] } })
    await daemon.next((f) => f.op === 'heartbeat', 1000) // ready is in; this daemon never answers
    link.link.lastHeard -= 10 // as if nothing came for 10 s (the limit: 2 x 0.2 s + 5 s)
    await daemon.next((f) => f.op === 'resume', 2000)
    assert.equal(daemon.conns.length, 2)
  } finally {
    await link.stop()
    await daemon.close()
  }
})

test('the command line exits with 3 when the daemon refuses the key (4004), and says why', async () => {
  const { spawn } = require('node:child_process')
  const path = require('node:path')
  const daemon = await fakeDaemon()
  daemon.wss.on('connection', (ws) => ws.on('message', () => ws.close(4004, 'bad or revoked world key')))
  try {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'src', 'cli.js'), '--url', daemon.url], {
      env: { PATH: process.env.PATH, AE_WORLD_KEY: 'ae_wk_secret_value', AE_MAX_BACKOFF: '0.05' },
      stdio: ['ignore', 'ignore', 'pipe']
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => { stderr += chunk })
    const code = await new Promise((resolve) => child.on('exit', resolve))
    assert.equal(code, 3, stderr)
    assert.match(stderr, /"event":"link.stopped".*"code":4004/)
    assert.doesNotMatch(stderr, /ae_wk_secret_value/) // the key is never logged
    assert.equal(daemon.conns.length, 1) // and never retried
  } finally {
    await daemon.close()
  }
})
