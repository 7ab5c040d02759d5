'use strict'
// title: a big on-screen title (and subtitle) for the players near the companion, with
// the /title command. Only an operator may run /title (permission level 2): the server
// tells each client its level, and a companion that is not op fails with `not_op`.

const { ActionError, badArguments } = require('./errors')
const { cleanText } = require('./chat')

const COMMAND_LIMIT = 256
const NEEDED_LEVEL = 2

function component (text) {
  return JSON.stringify({ text })
}

function titleCommands (action, selector) {
  if (typeof action.text !== 'string') throw badArguments('title needs a text')
  const text = cleanText(action.text)
  if (text.length === 0) throw badArguments('the title has nothing printable left')
  const seconds = action.seconds ?? 3
  if (typeof seconds !== 'number' || !(seconds > 0 && seconds <= 30)) {
    throw badArguments('seconds must be a number above 0, at most 30')
  }
  const commands = [`/title ${selector} times 10 ${Math.round(seconds * 20)} 20`]
  if (typeof action.subtitle === 'string' && cleanText(action.subtitle).length > 0) {
    commands.push(`/title ${selector} subtitle ${component(cleanText(action.subtitle))}`)
  }
  commands.push(`/title ${selector} title ${component(text)}`)
  const long = commands.find((command) => command.length > COMMAND_LIMIT)
  if (long) throw new ActionError('too_long', `the title command would be ${long.length} characters; the limit is ${COMMAND_LIMIT}`)
  return commands
}

async function title (c, action) {
  const selector = c.options.titleTarget || '@a[distance=..32]'
  const commands = titleCommands(action, selector)
  const level = c.opLevel
  if (level === null || level === undefined || level < NEEDED_LEVEL) {
    const known = level === null || level === undefined ? 'unknown' : String(level)
    throw new ActionError('not_op',
      `the companion ${c.username} is not an operator (permission level ${known}, /title needs ${NEEDED_LEVEL}); ` +
      `a server admin can run: /op ${c.username}`)
  }
  for (const command of commands) c.bot.chat(command)
  return { target: selector }
}

module.exports = { handlers: { title }, titleCommands }
