// Every visible string, in English and Chinese side by side (one file per area, merged here). The
// language comes from the user's choice, else the browser's; `t` re-renders through the app's context.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { common } from "./common.ts";

export type Lang = "en" | "zh";
export type Strings = Record<string, { en: string; zh: string }>;

const AREAS: Strings[] = [common];
const ALL: Strings = Object.assign({}, ...AREAS) as Strings;

/** Adds an area's strings (each page module registers its own when it loads). */
export function registerStrings(strings: Strings): void {
  Object.assign(ALL, strings);
}

const LANG_KEY = "danlu.lang";

export function initialLang(): Lang {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "en" || saved === "zh") return saved;
  return navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function saveLang(lang: Lang): void {
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** `{name}` placeholders filled from `vars`. */
export function translate(lang: Lang, key: string, vars: Record<string, string | number> = {}): string {
  const entry = ALL[key];
  const text = entry ? entry[lang] : key;
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}

export interface I18n {
  lang: Lang;
  setLang: (lang: Lang) => void;
  t: (key: string, vars?: Record<string, string | number>) => string;
}

export const I18nContext = createContext<I18n>({
  lang: "en",
  setLang: () => undefined,
  t: (key, vars) => translate("en", key, vars),
});

export function useI18n(): I18n {
  return useContext(I18nContext);
}
