// @ts-check
// The web world's texts in the player's language. The daemon serves the page's gettext
// catalog as JSON (encounters_bridge/play_i18n.py), chosen from navigator.languages; the
// English msgid is the key and the text shown when a message has no translation (or the
// catalog cannot be fetched). Elements marked `data-i18n` have their text translated,
// `data-i18n-label` their aria-label. Plurals follow the catalog's gettext Plural-Forms,
// an expression of `n` that is checked to hold only numbers and C operators before it is
// made into a function. Names in a list are joined by Intl.ListFormat.

/** @type {{ language: string, plural: (n: number) => number, messages: Record<string, string[]> }} */
const current = { language: 'en', plural: (n) => Number(n !== 1), messages: {} }
const PLURAL = /^[n0-9\s()?:%<>=!&|+-]+$/

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
      if (typeof body.plural === 'string' && PLURAL.test(body.plural)) {
        // eslint-disable-next-line no-new-func
        const rule = /** @type {(n: number) => unknown} */ (new Function('n', `return (${body.plural})`))
        current.plural = (n) => Number(rule(n))
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
