// The module vite-plugin-po.ts makes from the .po catalogs in ./locale at build time.
declare module "virtual:studio-catalogs" {
  /** One language: its gettext plural rule and each message key's forms (one, or one per plural form). */
  export interface CompiledCatalog { plural: (n: number) => number; messages: Record<string, string[]> }
  /** By BCP 47 tag: en (from messages.pot), es, de, fr, pt-BR, ru. */
  export const catalogs: Record<string, CompiledCatalog>;
}
