'use strict'
// An action that could not be carried out: `reason` is a short code for the daemon
// (no_path, not_op, unknown_action, bad_arguments, ...), `message` says why in words.

class ActionError extends Error {
  constructor (reason, message, detail) {
    super(message || reason)
    this.name = 'ActionError'
    this.reason = reason
    this.detail = detail
  }
}

function badArguments (message) {
  return new ActionError('bad_arguments', message)
}

module.exports = { ActionError, badArguments }
