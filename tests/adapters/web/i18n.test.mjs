// The web world's plural rules (play_static/i18n.js): the catalogs' gettext Plural-Forms
// read without eval (the page's Content-Security-Policy allows none), so a count shows
// in the language's right form; anything but an expression of n is refused.

import test from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { pluralRule } from '../../../bridge/encounters_bridge/play_static/i18n.js'

const LOCALE = new URL('../../../bridge/encounters_bridge/play_locale/', import.meta.url)

/** The Plural-Forms expression of a catalog. @param {string} language */
function pluralOf (language) {
  const po = readFileSync(new URL(`${language}/LC_MESSAGES/play.po`, LOCALE), 'utf8')
  const found = /plural=(.*?);?\\n"/.exec(po)
  assert.ok(found, `no Plural-Forms in ${language}`)
  return found[1]
}

test('Russian counts take one, few and many as Russian writes them', () => {
  const rule = pluralRule(pluralOf('ru'))
  const forms = [1, 2, 5, 11, 12, 21, 22, 25, 111, 112, 1001].map(rule)
  assert.deepEqual(forms, [0, 1, 2, 2, 2, 0, 1, 2, 2, 2, 0])
})

test('French and Spanish keep their form for millions', () => {
  const fr = pluralRule(pluralOf('fr'))
  assert.deepEqual([0, 1, 2, 1000000, 2000001].map(fr), [0, 0, 2, 1, 2])
  const es = pluralRule(pluralOf('es'))
  assert.deepEqual([0, 1, 2, 1000000].map(es), [2, 0, 2, 1])
})

test('every catalog the page can be given has a rule the reader accepts', () => {
  const languages = readdirSync(LOCALE, { withFileTypes: true }).filter((d) => d.isDirectory())
  assert.ok(languages.length >= 5)
  for (const { name } of languages) assert.equal(typeof pluralRule(pluralOf(name))(3), 'number', name)
})

test('C precedence: arithmetic before comparison before logic, ?: right to left', () => {
  assert.equal(pluralRule('n == 1 ? 0 : n == 2 ? 1 : 2')(2), 1)
  assert.equal(pluralRule('10 - 3 - 2')(0), 5)
  assert.equal(pluralRule('2 + 3 * 4 % 5')(0), 4)
  assert.equal(pluralRule('!(n != 1) || 0')(1), 1)
  assert.equal(pluralRule('7 / 2')(0), 3)
})

test('anything but an expression of n is refused, never run', () => {
  for (const bad of ['alert(1)', 'n; fetch("x")', 'constructor', 'n ?', '(n', 'n n', '', 'n = 1']) {
    assert.throws(() => pluralRule(bad), /plural expression/, bad)
  }
})
