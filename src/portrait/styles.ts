import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { didYouMean } from "../config/did-you-mean.ts";
import { DanluError } from "../errors.ts";
import { readStyleTemplate, TRIGGER_PLACEHOLDER, type Style } from "./style-template.ts";

export { readStyleTemplate, TRIGGER_PLACEHOLDER } from "./style-template.ts";
export type { Style, StyleLora } from "./style-template.ts";

/**
 * The templates danlu ships, beside this file: danlu runs its TypeScript sources (bin/danlu.js registers
 * tsx), so this folder is there in a checkout and in the installed package alike.
 */
export const SHIPPED_STYLES_DIR = fileURLToPath(new URL("./styles/", import.meta.url));

/** The `*.toml` files of a folder, by file name (other files, e.g. LoRAs and images, are ignored). */
async function templateFiles(dir: string): Promise<string[]> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new DanluError(`style folder ${dir}: no such folder`, {
      code: "FILE_NOT_FOUND",
      hint: "give a folder of style templates (*.toml, one style each)",
    });
  }
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith(".toml"))
    .map((entry) => join(dir, entry.name))
    .sort();
}

/** One folder's styles by name; two templates with one name are an error naming both files. */
async function loadFolder(dir: string): Promise<Map<string, Style>> {
  const styles = new Map<string, Style>();
  for (const file of await templateFiles(dir)) {
    const style = await readStyleTemplate(file);
    const other = styles.get(style.name);
    if (other) {
      throw new DanluError(`${file}: style ${style.name} is also defined by ${other.file}`, {
        code: "STYLE_INVALID",
        hint: "give one of them another name (the name key, or the file name)",
      });
    }
    styles.set(style.name, style);
  }
  return styles;
}

export interface LoadStylesOptions {
  /** A folder of the user's own templates: added to the shipped ones; one with a shipped name replaces it. */
  userDir?: string;
  /** The shipped templates' folder (tests); default SHIPPED_STYLES_DIR. */
  shippedDir?: string;
}

/** The shipped styles, then the user's (by file name), each checked; a broken template is a DanluError. */
export async function loadStyles(options: LoadStylesOptions = {}): Promise<Map<string, Style>> {
  const styles = await loadFolder(options.shippedDir ?? SHIPPED_STYLES_DIR);
  if (options.userDir !== undefined) {
    for (const [name, style] of await loadFolder(resolve(options.userDir))) styles.set(name, style);
  }
  return styles;
}

/** The styles `--styles a,b,c` names, in that order (all of them when undefined); unknown names list the choices. */
export function pickStyles(all: ReadonlyMap<string, Style>, names: readonly string[] | undefined): Style[] {
  if (names === undefined) return [...all.values()];
  const wanted = [...new Set(names.map((name) => name.trim()).filter((name) => name !== ""))];
  const available = [...all.keys()];
  if (wanted.length === 0) {
    throw new DanluError("no style named (--styles is empty)", {
      code: "STYLE_UNKNOWN",
      hint: `styles: ${available.join(", ")}`,
    });
  }
  const unknown = wanted.filter((name) => !all.has(name));
  if (unknown.length > 0) {
    const guesses = unknown.map((name) => `'${name}'${didYouMean(name, available)}`).join(", ");
    throw new DanluError(`unknown style${unknown.length > 1 ? "s" : ""} ${guesses}`, {
      code: "STYLE_UNKNOWN",
      hint: `styles: ${available.join(", ")} (add your own with a folder of templates)`,
    });
  }
  return wanted.map((name) => all.get(name) as Style);
}

/** The style's prompt with {trigger} replaced by "TRIGGER CLASS" (e.g. "dlperson woman"). */
export function renderPrompt(style: Pick<Style, "prompt">, trigger: string, cls: string): string {
  const subject = [trigger.trim(), cls.trim()].filter((part) => part !== "").join(" ");
  return style.prompt.replaceAll(TRIGGER_PLACEHOLDER, subject);
}
