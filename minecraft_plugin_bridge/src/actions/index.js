'use strict'
// Every action type this bridge carries out, one module per family (as mineflayer keeps
// one file per plugin). A handler is `async (companion, action) => detail`; it throws an
// ActionError (reason, message) when the action cannot be done.

const families = [
  require('./chat'),
  require('./movement'),
  require('./look'),
  require('./interact'),
  require('./items'),
  require('./emote'),
  require('./title')
]

const HANDLERS = Object.freeze(Object.assign({}, ...families.map((f) => f.handlers)))
/** The `capabilities` of identify: the action types listed in PROTOCOL.md that we carry out. */
const CAPABILITIES = Object.freeze(Object.keys(HANDLERS))

module.exports = { HANDLERS, CAPABILITIES, ...require('./errors') }
