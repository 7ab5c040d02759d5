// The studio's language: message catalogs bundled with the studio (no download at run
// time) for English, Spanish, German, French, Brazilian Portuguese and Russian, chosen
// from the browser's preferred languages (navigator.languages) unless the user picked one
// in the header, which is remembered in localStorage. Untranslated text stays English.
// Limits: only the studio's chrome (sign-in, navigation, header, the editor's toolbar and
// panel titles) and the Marketplace tab go through the catalogs; messages from the
// daemon arrive as it sends them.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { de } from "./de";
import { type Catalog, en, type MessageKey } from "./en";
import { es } from "./es";
import { fr } from "./fr";
import { ptBR } from "./pt-BR";
import { ru } from "./ru";

export type { MessageKey } from "./en";

/** The studio's languages (BCP 47), each with its name in itself for the picker. */
export const LOCALES = {
  en: { name: "English", catalog: en as Catalog },
  es: { name: "Español", catalog: es },
  de: { name: "Deutsch", catalog: de },
  fr: { name: "Français", catalog: fr },
  "pt-BR": { name: "Português (Brasil)", catalog: ptBR },
  ru: { name: "Русский", catalog: ru },
} as const;
export type Locale = keyof typeof LOCALES;

const CHOSEN = "ae-studio-language";

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

/** `{name}` in a message replaced by `vars.name`. */
export function format(message: string, vars?: Record<string, string>): string {
  return vars ? message.replace(/\{(\w+)\}/g, (all, name: string) => vars[name] ?? all) : message;
}

function initialLocale(): Locale {
  const chosen = localStorage.getItem(CHOSEN);
  if (chosen && isLocale(chosen)) return chosen;
  return chooseLocale(navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"]);
}

type Translate = (key: MessageKey, vars?: Record<string, string>) => string;
interface I18n { locale: Locale; setLocale: (l: Locale) => void; t: Translate }

const I18nContext = createContext<I18n>({
  locale: "en",
  setLocale: () => {},
  t: (key, vars) => format(en[key], vars),
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
    t: (key, vars) => format(LOCALES[locale].catalog[key] ?? en[key], vars),
  }), [locale, setLocale]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

/** The translate function of the studio's current language. */
export function useT(): Translate {
  return useContext(I18nContext).t;
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
