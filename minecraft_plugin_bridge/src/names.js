'use strict'
// Minecraft usernames: 3 to 16 characters, letters, digits and underscore.

const VALID = /^[A-Za-z0-9_]{3,16}$/

function isValidUsername (name) {
  return typeof name === 'string' && VALID.test(name)
}

/**
 * A valid, unused username for a persona name: "Helpful Guide" -> "Helpful_Guide",
 * "Zoë" -> "Zoe", "Al" -> "Al_AE", "" -> "Companion". `taken(name)` says whether a name
 * is in use (case-insensitively, as Minecraft compares them); a number is appended until
 * it is free ("Helpful_Guide2"). `prefix` (e.g. "AI_") is put in front.
 */
function minecraftName (personaName, { taken = () => false, prefix = '' } = {}) {
  let base = String(personaName ?? '')
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '') // letters without their accents
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '')
  const cleanPrefix = String(prefix).replace(/[^A-Za-z0-9_]/g, '').slice(0, 8)
  if (base.length === 0) base = 'Companion'
  base = (cleanPrefix + base).slice(0, 16)
  if (base.length < 3) base = (base + '_AE').slice(0, 16)
  const used = (name) => taken(name.toLowerCase())
  if (!used(base)) return base
  for (let n = 2; n < 10000; n++) {
    const suffix = String(n)
    const candidate = base.slice(0, 16 - suffix.length) + suffix
    if (!used(candidate)) return candidate
  }
  throw new Error(`no free username for ${personaName}`)
}

module.exports = { minecraftName, isValidUsername }
