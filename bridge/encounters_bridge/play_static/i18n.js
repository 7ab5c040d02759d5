// @ts-check
// The web world's texts in the player's language. The daemon serves the page's gettext
// catalog as JSON (encounters_bridge/play_i18n.py), chosen from navigator.languages; the
// English msgid is the key and the text shown when a message has no translation (or the
// catalog cannot be fetched). Elements marked `data-i18n` have their text translated,
// `data-i18n-label` their aria-label. Plurals follow the catalog's gettext Plural-Forms,
// an expression of `n` in C operators, read by the small parser below (never made into
// code: the page's Content-Security-Policy allows no eval). Names in a list are joined
// by Intl.ListFormat.

/** @type {{ language: string, plural: (n: number) => number, messages: Record<string, string[]> }} */
const current = { language: 'en', plural: (n) => Number(n !== 1), messages: {} }
const TOKEN = /\s*(\d+|n|\|\||&&|[=!<>]=|[-+*/%<>!?:()])/y

/**
 * A gettext plural expression (`n % 10 == 1 && n % 100 != 11 ? 0 : 1`) as a function of
 * `n`: numbers, `n`, parentheses and C's arithmetic, comparison, logical and `?:`
 * operators with C's precedence. Throws on anything else.
 * @param {string} source @returns {(n: number) => number}
 */
export function pluralRule (source) {
  /** @type {string[]} */
  const tokens = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < source.trimEnd().length) {
    const m = TOKEN.exec(source)
    if (!m) throw new Error(`bad plural expression at ${TOKEN.lastIndex}: ${source}`)
    tokens.push(m[1])
  }
  let at = 0
  const peek = () => tokens[at]
  const take = (/** @type {string} */ want) => {
    if (tokens[at] !== want) throw new Error(`expected ${want} in plural expression: ${source}`)
    at++
  }
  /** @typedef {(n: number) => number} Node */
  /** @type {Record<string, (a: number, b: number) => number>} */
  const BINARY = {
    '||': (a, b) => Number(a || b),
    '&&': (a, b) => Number(a && b),
    '==': (a, b) => Number(a === b),
    '!=': (a, b) => Number(a !== b),
    '<': (a, b) => Number(a < b),
    '>': (a, b) => Number(a > b),
    '<=': (a, b) => Number(a <= b),
    '>=': (a, b) => Number(a >= b),
    '+': (a, b) => a + b,
    '-': (a, b) => a - b,
    '*': (a, b) => a * b,
    '/': (a, b) => Math.trunc(a / b),
    '%': (a, b) => a % b
  }
  const LEVELS = [['||'], ['&&'], ['==', '!='], ['<', '>', '<=', '>='], ['+', '-'], ['*', '/', '%']]
  /** @returns {Node} */
  const ternary = () => {
    const test = binary(0)
    if (peek() !== '?') return test
    take('?')
    const yes = ternary()
    take(':')
    const no = ternary()
    return (n) => (test(n) ? yes(n) : no(n))
  }
  /** @param {number} level @returns {Node} */
  const binary = (level) => {
    if (level === LEVELS.length) return unary()
    let left = binary(level + 1)
    while (LEVELS[level].includes(peek())) {
      const op = BINARY[tokens[at++]]
      const a = left
      const b = binary(level + 1)
      left = (n) => op(a(n), b(n))
    }
    return left
  }
  /** @returns {Node} */
  const unary = () => {
    const token = tokens[at++]
    if (token === '!') { const inner = unary(); return (n) => Number(!inner(n)) }
    if (token === '-') { const inner = unary(); return (n) => -inner(n) }
    if (token === '(') { const inner = ternary(); take(')'); return inner }
    if (token === 'n') return (n) => n
    if (token !== undefined && /^\d+$/.test(token)) { const v = Number(token); return () => v }
    throw new Error(`unexpected ${token ?? 'end'} in plural expression: ${source}`)
  }
  const rule = ternary()
  if (at !== tokens.length) throw new Error(`unexpected ${tokens[at]} in plural expression: ${source}`)
  return rule
}

/** `{name}` in a text replaced by `vars.name`. @param {string} text @param {Record<string, string | number>} [vars] */
function fill (text, vars) {
  return vars ? text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all)) : text
}

/** A message in the player's language. @param {string} msgid @param {Record<string, string | number>} [vars] */
export function t (msgid, vars) {
  return fill(current.messages[msgid]?.[0] || msgid, vars)
}

/**
 * The form of a counted message for `n` (which fills `{count}`).
 * @param {string} singular @param {string} plural @param {number} n @param {Record<string, string | number>} [vars]
 */
export function tn (singular, plural, n, vars) {
  const forms = current.messages[singular]
  const text = forms ? forms[current.plural(n)] ?? forms[forms.length - 1] : (n === 1 ? singular : plural)
  return fill(text, { count: n.toLocaleString(current.language), ...vars })
}

/** Names as a list in the player's language ("Pip and Wren", "Pip und Wren"). @param {string[]} names */
export function list (names) {
  return new Intl.ListFormat(current.language, { type: 'conjunction' }).format(names)
}

/** Fetch the catalog for the browser's languages and translate the marked elements. */
export async function loadMessages () {
  const wanted = (navigator.languages?.length ? navigator.languages : [navigator.language || 'en']).join(',')
  try {
    const res = await fetch(`/play/assets/messages.json?lang=${encodeURIComponent(wanted)}`)
    if (res.ok) {
      const body = await res.json()
      if (typeof body.plural === 'string') {
        try {
          current.plural = pluralRule(body.plural)
        } catch {
          // the texts still come in the language; counted ones take its last form
        }
      }
      current.language = body.language || 'en'
      current.messages = body.messages || {}
    }
  } catch {
    // the page stays English
  }
  document.documentElement.lang = current.language
  document.title = t(document.title)
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t((el.textContent || '').replace(/\s+/g, ' ').trim())
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.getAttribute('aria-label') || ''))
}
