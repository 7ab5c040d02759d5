// The studio's language: gettext catalogs for English, Spanish, German, French,
// Brazilian Portuguese and Russian (./locale: messages.pot holds the English messages,
// one <tag>.po per language, written by hand), turned into a module at build time by
// ../../vite-plugin-po.ts, so nothing is downloaded at run time. The language is the
// first of the browser's preferred languages (navigator.languages) the studio has,
// unless the user picked one in the header, which is remembered in localStorage.
// Every message has a key (its msgctxt); `t` gives its text, `tn` the plural form for a
// count by the language's gettext Plural-Forms rule. Numbers and dates shown go through
// Intl in the same language (`useFormat`).
// Limits: messages from the daemon (errors, deploy steps, moderation reasons) arrive as
// it sends them; ids the games know (actions, worlds, avatars, emotes) stay as they are.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { catalogs, type CompiledCatalog } from "virtual:studio-catalogs";

/** The studio's languages (BCP 47), each with its name in itself for the picker. */
export const LOCALES = {
  en: { name: "English" },
  es: { name: "Español" },
  de: { name: "Deutsch" },
  fr: { name: "Français" },
  "pt-BR": { name: "Português (Brasil)" },
  ru: { name: "Русский" },
} as const;
export type Locale = keyof typeof LOCALES;
type Vars = Record<string, string | number>;

const CHOSEN = "ae-studio-language";
const ENGLISH: CompiledCatalog = catalogs.en;

function isLocale(tag: string): tag is Locale {
  return Object.prototype.hasOwnProperty.call(LOCALES, tag);
}

/** The first of the browser's languages the studio has: an exact tag (case aside), else
 * its language alone (`de-AT` → `de`, any `pt` → `pt-BR`); English when none is. */
export function chooseLocale(preferred: readonly string[]): Locale {
  for (const raw of preferred) {
    const tag = raw.trim();
    const exact = (Object.keys(LOCALES) as Locale[]).find((l) => l.toLowerCase() === tag.toLowerCase());
    if (exact) return exact;
    const base = tag.split("-")[0].toLowerCase();
    if (base === "pt") return "pt-BR";
    if (isLocale(base)) return base;
  }
  return "en";
}

/** `{name}` in a message replaced by `vars.name` (numbers formatted for `locale`). */
export function format(message: string, vars?: Vars, locale: Locale = "en"): string {
  if (!vars) return message;
  return message.replace(/\{(\w+)\}/g, (all, name: string) => {
    const v = vars[name];
    return v === undefined ? all : typeof v === "number" ? v.toLocaleString(locale) : v;
  });
}

function initialLocale(): Locale {
  const chosen = localStorage.getItem(CHOSEN);
  if (chosen && isLocale(chosen)) return chosen;
  return chooseLocale(navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"]);
}

/** A message's text in `locale`; the English one when the key is missing there. */
function translate(locale: Locale, key: string, vars?: Vars): string {
  const forms = catalogs[locale]?.messages[key] ?? ENGLISH.messages[key];
  return format(forms?.[0] ?? key, vars, locale);
}

/** The plural form of a counted message for `count` (which fills `{count}`). */
function translatePlural(locale: Locale, key: string, count: number, vars?: Vars): string {
  const catalog = catalogs[locale]?.messages[key] ? catalogs[locale] : ENGLISH;
  const forms = catalog.messages[key] ?? [key];
  return format(forms[catalog.plural(count)] ?? forms[forms.length - 1], { count, ...vars }, locale);
}

/** A message by key, its `{placeholders}` filled. */
export type Translate = (key: string, vars?: Vars) => string;
export type TranslatePlural = (key: string, count: number, vars?: Vars) => string;
interface I18n { locale: Locale; setLocale: (l: Locale) => void; t: Translate; tn: TranslatePlural }

const I18nContext = createContext<I18n>({
  locale: "en",
  setLocale: () => {},
  t: (key, vars) => translate("en", key, vars),
  tn: (key, count, vars) => translatePlural("en", key, count, vars),
});

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  useEffect(() => { document.documentElement.lang = locale; }, [locale]);
  const setLocale = useCallback((l: Locale) => {
    localStorage.setItem(CHOSEN, l);
    setLocaleState(l);
  }, []);
  const value = useMemo<I18n>(() => ({
    locale,
    setLocale,
    t: (key, vars) => translate(locale, key, vars),
    tn: (key, count, vars) => translatePlural(locale, key, count, vars),
  }), [locale, setLocale]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

/** The translate function of the studio's current language. */
export function useT(): Translate {
  return useContext(I18nContext).t;
}

/** The plural-aware translate function of the studio's current language. */
export function useTn(): TranslatePlural {
  return useContext(I18nContext).tn;
}

/** Numbers, percentages, dates and times in the studio's current language. */
export function useFormat() {
  const { locale } = useContext(I18nContext);
  return useMemo(() => {
    const number = new Intl.NumberFormat(locale);
    const percent = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
    const dayMonth = new Intl.DateTimeFormat(locale, { day: "numeric", month: "numeric", timeZone: "UTC" });
    return {
      locale,
      number: (v: number) => number.format(v),
      percent: (v: number) => percent.format(v),
      /** A calendar day (`2026-12-06`) as day and month, e.g. 06.12. in German. */
      dayMonth: (isoDay: string) => dayMonth.format(new Date(`${isoDay}T00:00:00Z`)),
      dateTime: (iso: string) => new Date(iso).toLocaleString(locale),
      time: (iso: string) => new Date(iso).toLocaleTimeString(locale),
    };
  }, [locale]);
}

/** The header's language menu. */
export function LanguagePicker() {
  const { locale, setLocale, t } = useContext(I18nContext);
  return (
    <select aria-label={t("header.language")} value={locale} onChange={(e) => { if (isLocale(e.target.value)) setLocale(e.target.value); }}>
      {(Object.keys(LOCALES) as Locale[]).map((l) => <option key={l} value={l} lang={l}>{LOCALES[l].name}</option>)}
    </select>
  );
}
