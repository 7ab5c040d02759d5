'use strict'
// A scripted daemon on 127.0.0.1 for the link's tests: it says hello, records every frame
// it gets (decoded) and lets the test answer. `port`: listen where an earlier one did (a
// daemon back after an outage).

const { WebSocketServer } = require('ws')
const { encodeValue, decodeFrame, toWire } = require('../src/codec')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A daemon that records what it gets and lets the test answer. */
async function fakeDaemon (port = 0) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port })
  await new Promise((resolve) => wss.once('listening', resolve))
  const daemon = {
    url: `ws://127.0.0.1:${wss.address().port}/ws`,
    conns: [],
    frames: [], // [connection index, wire frame]
    paths: [],
    wss,
    async next (check, ms = 3000) {
      const deadline = Date.now() + ms
      for (;;) {
        const found = this.frames.find(([, f]) => check(f))
        if (found) {
          this.frames.splice(this.frames.indexOf(found), 1)
          return found[1]
        }
        if (Date.now() > deadline) throw new Error(`no such frame; got ${JSON.stringify(this.frames)}`)
        await sleep(5)
      }
    },
    send (frame, i = this.conns.length - 1) {
      const { ws, encoding } = this.conns[i]
      ws.send(encodeValue(frame, encoding))
    },
    close () {
      for (const c of this.conns) c.ws.terminate()
      return new Promise((resolve) => wss.close(resolve))
    }
  }
  wss.on('connection', (ws, req) => {
    const encoding = req.url.includes('encoding=msgpack') ? 'msgpack' : 'json'
    const index = daemon.conns.length
    daemon.conns.push({ ws, encoding })
    daemon.paths.push(req.url)
    ws.on('message', (data, isBinary) => {
      daemon.frames.push([index, toWire(decodeFrame(data, isBinary, encoding))])
    })
    ws.send(encodeValue({ op: 'hello', d: { protocol: 1, heartbeat_interval: 200, max_frame_bytes: 65536 } }, encoding))
  })
  return daemon
}

module.exports = { fakeDaemon, sleep }
