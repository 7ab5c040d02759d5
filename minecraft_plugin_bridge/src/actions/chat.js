'use strict'
// chat: the companion says something in the game's chat.
//
// A chat action never runs a command: leading slashes are removed from every line sent.
// Characters Minecraft refuses in chat (section sign, control characters; a vanilla
// server kicks a client that sends them) are removed, and long messages are split at
// word boundaries into lines the server accepts.

const { ActionError, badArguments } = require('./errors')

const LINE = 256 // the longest chat message a server accepts
const MAX_LINES = 8

function cleanText (text) {
  return String(text)
    .replace(/[\u0000-\u001f\u007f\u00a7]/g, ' ') // eslint-disable-line no-control-regex
    .replace(/\s+/g, ' ')
    .trim()
}

/** Lines of at most `width` characters, split at spaces where possible. */
function splitLines (text, width = LINE) {
  const lines = []
  let rest = text
  while (rest.length > width) {
    let cut = rest.lastIndexOf(' ', width)
    if (cut < width / 2) cut = width
    lines.push(rest.slice(0, cut).trim())
    rest = rest.slice(cut).trim()
  }
  if (rest.length > 0) lines.push(rest)
  return lines
}

function noCommand (line) {
  return line.replace(/^[\s/]+/, '')
}

function chatLines (message) {
  if (typeof message !== 'string') throw badArguments('chat needs a message (text)')
  const lines = splitLines(cleanText(message)).map(noCommand).filter((l) => l.length > 0)
  if (lines.length === 0) throw badArguments('the message has nothing printable left')
  if (lines.length > MAX_LINES) throw new ActionError('too_long', `more than ${MAX_LINES} chat lines`)
  return lines
}

async function chat (c, action) {
  const lines = chatLines(action.message)
  for (const line of lines) c.bot.chat(line)
  return { lines: lines.length }
}

module.exports = { handlers: { chat }, chatLines, cleanText, splitLines }
