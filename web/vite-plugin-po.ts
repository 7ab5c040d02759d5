// The studio's gettext catalogs, read at build time: `import { catalogs } from
// "virtual:studio-catalogs"` is a module made from src/i18n/locale/messages.pot (the
// English messages) and one <tag>.po per language (es, de, fr, pt-BR, ru), written by
// hand. Each message's key is its msgctxt, its English text the msgid (msgid_plural for
// counted ones). The Plural-Forms expression of each .po is checked to hold nothing but
// `n`, numbers and C operators and is written into the bundle as a function, so nothing
// is parsed or evaluated at run time and nothing is downloaded.
// The build stops when a .po misses a message of the template, leaves one untranslated,
// marks it fuzzy or changes its {placeholders} (tests/adapters/web/test_studio_catalogs.py
// checks the same from Python).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { po, type PoCatalog, type PoEntry } from "gettext-parser";
import type { Plugin } from "vite";

const ID = "virtual:studio-catalogs";
const RESOLVED = `\0${ID}`;
const PLURAL = /^[n0-9\s()?:%<>=!&|+-]+$/;
const FIELD = /\{\w+\}/g;

interface Message { key: string; forms: string[] }

function entries(catalog: PoCatalog): PoEntry[] {
  return Object.values(catalog.translations).flatMap((byId) => Object.values(byId)).filter((e) => e.msgid !== "");
}

/** The {placeholders} of a text but {count}, which a plural form may leave out ("one day"). */
function fields(text: string): string {
  return [...text.matchAll(FIELD)].map((m) => m[0]).filter((f) => f !== "{count}").sort().join(" ");
}

function pluralExpression(catalog: PoCatalog, file: string): { n: number; expr: string } {
  const header = catalog.headers["Plural-Forms"] ?? "nplurals=2; plural=(n != 1);";
  const m = /nplurals\s*=\s*(\d+)\s*;\s*plural\s*=\s*([^;]+);?/.exec(header);
  if (!m || !PLURAL.test(m[2])) throw new Error(`${file}: Plural-Forms ${JSON.stringify(header)} is not a plain C expression of n`);
  return { n: Number(m[1]), expr: m[2].trim() };
}

/** The messages of one language, checked against the template's. */
function compile(template: Map<string, PoEntry>, catalog: PoCatalog, file: string): { plural: string; messages: Message[] } {
  const { n, expr } = pluralExpression(catalog, file);
  const found = new Map(entries(catalog).map((e) => [e.msgctxt ?? "", e]));
  const problems: string[] = [];
  const messages: Message[] = [];
  for (const [key, source] of template) {
    const e = found.get(key);
    const want = source.msgid_plural ? n : 1;
    if (!e) { problems.push(`${key}: missing`); continue; }
    if (e.comments?.flag?.includes("fuzzy")) problems.push(`${key}: fuzzy`);
    if (e.msgstr.length !== want || e.msgstr.some((s) => !s.trim())) problems.push(`${key}: needs ${want} translated form(s)`);
    const expected = fields(source.msgid_plural ?? source.msgid);
    for (const s of e.msgstr) if (fields(s) !== expected) problems.push(`${key}: placeholders ${fields(s) || "(none)"} instead of ${expected || "(none)"}`);
    messages.push({ key, forms: e.msgstr });
  }
  for (const key of found.keys()) if (!template.has(key)) problems.push(`${key}: not in messages.pot`);
  if (problems.length) throw new Error(`${file}:\n  ${problems.join("\n  ")}`);
  return { plural: `(n) => Number(${expr})`, messages };
}

export function studioCatalogs(dir: string): Plugin {
  return {
    name: "studio-catalogs",
    resolveId: (id) => (id === ID ? RESOLVED : null),
    load(id) {
      if (id !== RESOLVED) return null;
      const read = (name: string): PoCatalog => {
        const path = join(dir, name);
        this.addWatchFile(path);
        return po.parse(readFileSync(path));
      };
      const templateCatalog = read("messages.pot");
      const template = new Map(entries(templateCatalog).map((e) => [e.msgctxt ?? "", e]));
      const english: Message[] = [...template].map(([key, e]) => ({ key, forms: e.msgid_plural ? [e.msgid, e.msgid_plural] : [e.msgid] }));
      const out: string[] = [`en: { plural: (n) => Number(n != 1), messages: ${JSON.stringify(Object.fromEntries(english.map((m) => [m.key, m.forms])))} }`];
      for (const name of readdirSync(dir).filter((f) => f.endsWith(".po")).sort()) {
        const { plural, messages } = compile(template, read(name), name);
        out.push(`${JSON.stringify(name.slice(0, -3))}: { plural: ${plural}, messages: ${JSON.stringify(Object.fromEntries(messages.map((m) => [m.key, m.forms])))} }`);
      }
      return `export const catalogs = {\n${out.join(",\n")}\n};\n`;
    },
  };
}
