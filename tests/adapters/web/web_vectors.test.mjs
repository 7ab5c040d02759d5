// The shared protocol vectors through the web world's codec and the WebSocket API, in
// node's test runner. The daemon's side comes from AE_VECTORS_CONTROL (a VectorControl,
// started by tests/adapters/web/test_web_link.py); without it the run is reported skipped.

import test from 'node:test'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as codec from '../../../bridge/encounters_bridge/play_static/codec.js'
import { controlAt, runOne, unsupported } from './vectors_runner.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const DIR = path.join(HERE, '..', '..', '..', 'bridge', 'spec', 'vectors')
const CONTROL = process.env.AE_VECTORS_CONTROL

const vectors = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')))
  .filter((v) => (v.encodings ?? ['json', 'msgpack']).includes('json'))

if (!CONTROL) {
  test('shared protocol vectors', { skip: 'AE_VECTORS_CONTROL is not set: run them with `.venv/bin/pytest tests/adapters/web` (it starts the daemon side)' }, () => {})
} else {
  const control = controlAt(CONTROL)
  let known = {}
  test.before(async () => {
    known = (await control('/known_bugs')).known_bugs
  })
  for (const vector of vectors) {
    const why = unsupported(vector, 'json')
    test(`${vector.name}-json`, { timeout: 60000, skip: why ?? false }, async () => {
      await runOne(vector, { codec, control, known })
    })
  }
}
