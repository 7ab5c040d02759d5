'use strict'
// A bridge process for state.test.js: it takes its link from the test's daemon, queues
// `count` events the daemon never acknowledges, says on stdout which one was accepted
// last, and kills itself with SIGKILL right after that sendEvent() returned: no clean
// stop, no chance to write anything more.
//
//   node test/state-child.js URL STATE_FILE COUNT

const fs = require('node:fs')
const { Bridge } = require('../src/index')
const { createLogger } = require('../src/log')
const { fakeFactory } = require('./fake-bot')

const [url, stateFile, count] = process.argv.slice(2)
const bridge = new Bridge({
  url, key: 'ae_wk_child', serverId: 'mc-1', encoding: 'json', stateFile,
  mcHost: '127.0.0.1', mcPort: 9, maxBackoff: 0.05
}, { createBot: fakeFactory({}).create, log: createLogger('silent') })
bridge.checkMinecraft = () => Promise.resolve(null) // no Minecraft server here
bridge.on('ready', () => {
  let last = 0
  for (let i = 1; i <= Number(count); i++) {
    if (bridge.connection.sendEvent({ type: 'player_chat', player: { id: 'u1', name: 'Alex' }, message: `chat ${i}` })) last = i
  }
  fs.writeSync(1, `accepted ${last}\n`)
  process.kill(process.pid, 'SIGKILL')
})
bridge.start()
