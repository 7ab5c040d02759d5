'use strict'
// chat: the companion says something in the game's chat.
//
// A chat action never runs a command: leading slashes are removed from every line sent.
// Characters Minecraft refuses in chat (section sign, control characters; a vanilla
// server kicks a client that sends them) are removed, and long messages are split at
// word boundaries into lines the server accepts.
//
// A voiced line (the daemon added `audio: {url, duration}`) cannot be played: vanilla
// Minecraft plays only the sounds of its resource packs, never audio from a URL. Its
// text is the subtitle instead: in the action bar of the players near the companion
// when the companion is an operator (/title needs level 2), else in chat marked with a
// note sign, so players can tell the companion spoke.

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

const VOICED_MARK = '\u266a ' // ♪
const SUBTITLE_LENGTH = 150 // what an action bar shows readably (and fits a command)
const TITLE_LEVEL = 2

function isVoiced (action) {
  return action.audio !== null && typeof action.audio === 'object' && typeof action.audio.url === 'string'
}

/** The /title command showing a voiced line in the action bar of `selector`. */
function subtitleCommand (message, selector) {
  let text = cleanText(message)
  if (text.length > SUBTITLE_LENGTH) text = text.slice(0, SUBTITLE_LENGTH - 1).trimEnd() + '\u2026'
  return `/title ${selector} actionbar ${JSON.stringify({ text: VOICED_MARK + text })}`
}

async function chat (c, action) {
  const lines = chatLines(action.message)
  if (!isVoiced(action)) {
    for (const line of lines) c.bot.chat(line)
    return { lines: lines.length }
  }
  const level = c.opLevel
  if (level !== null && level !== undefined && level >= TITLE_LEVEL) {
    for (const line of lines) c.bot.chat(line)
    c.bot.chat(subtitleCommand(action.message, c.options.titleTarget || '@a[distance=..32]'))
    return { lines: lines.length, subtitle: 'actionbar' }
  }
  lines[0] = VOICED_MARK + lines[0]
  for (const line of splitLines(lines.join(' '))) c.bot.chat(line)
  return { lines: lines.length, subtitle: 'chat' }
}

module.exports = { handlers: { chat }, chatLines, cleanText, splitLines, subtitleCommand }
