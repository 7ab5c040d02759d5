'use strict'
// The daemon's addresses: one, or several nodes of one cluster (an array, or one string
// with the addresses separated by commas). Kept apart from connection.js so the command
// line reads them without loading the WebSocket client.

/**
 * The daemon addresses in `value`, trimmed, empty entries dropped.
 * @param {string|string[]|undefined} value
 * @returns {string[]}
 */
function parseUrls (value) {
  const parts = Array.isArray(value) ? value : String(value ?? '').split(',')
  return parts.map((u) => String(u).trim()).filter(Boolean)
}

module.exports = { parseUrls }
