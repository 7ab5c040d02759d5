'use strict'
// One JSON line per log record on stderr: {"t": ..., "level": ..., "event": ..., ...}.
// Secrets (the world key) are never logged.

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

function createLogger (level = 'info', stream = process.stderr) {
  const min = LEVELS[level] ?? LEVELS.info
  const write = (name) => (event, fields = {}) => {
    if (LEVELS[name] < min) return
    const record = { t: new Date().toISOString(), level: name, event }
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) record[k] = v
    try {
      stream.write(JSON.stringify(record) + '\n')
    } catch {
      // a closed stderr must not crash the bridge
    }
  }
  return { level, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}

module.exports = { createLogger, LEVELS }
