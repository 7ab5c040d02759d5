// The part of gettext-parser (a plain-JS package with no types) that vite-plugin-po.ts uses.
declare module "gettext-parser" {
  export interface PoEntry {
    msgctxt?: string;
    msgid: string;
    msgid_plural?: string;
    msgstr: string[];
    comments?: { flag?: string };
  }
  export interface PoCatalog {
    charset: string;
    headers: Record<string, string>;
    translations: Record<string, Record<string, PoEntry>>;
  }
  export const po: { parse(input: string | Uint8Array, options?: { validation?: boolean }): PoCatalog };
}
