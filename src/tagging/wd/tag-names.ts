import { DanluError } from "../../errors.ts";

/**
 * Danbooru tags whose underscores are part of the face they draw: they keep them when other tags
 * turn underscores into spaces (the list SmilingWolf's wd-tagger Space uses).
 */
export const KAOMOJI_TAGS: ReadonlySet<string> = new Set([
  "0_0",
  "(o)_(o)",
  "+_+",
  "+_-",
  "._.",
  "<o>_<o>",
  "<|>_<|>",
  "=_=",
  ">_<",
  "3_3",
  "6_9",
  ">_o",
  "@_@",
  "^_^",
  "o_o",
  "u_u",
  "x_x",
  "|_|",
  "||_||",
]);

/** `long_hair` -> `long hair`; kaomoji such as `^_^` stay as they are. */
export function underscoresToSpaces(tag: string): string {
  return KAOMOJI_TAGS.has(tag) ? tag : tag.replaceAll("_", " ");
}

/**
 * Character tag expansion: `name_(series)` -> [`name`, `series`];
 * `name_(costume)_(series)` -> [`name_(costume)`, `series`] (only the last parenthesis is the series).
 */
export function expandCharacterTag(tag: string): string[] {
  const open = tag.lastIndexOf("(");
  if (!tag.endsWith(")") || open <= 0) return [tag];
  const character = tag.slice(0, open).replace(/_$/, "");
  const series = tag.slice(open + 1, -1);
  return character === "" || series === "" ? [tag] : [character, series];
}

/**
 * Parses sd-scripts' `--tag_replacement` syntax: `source,target;source2,target2`, with `\,` and `\;`
 * for literal commas and semicolons inside a tag.
 */
export function parseTagReplacements(spec: string): Map<string, string> {
  const replacements = new Map<string, string>();
  const pairs = splitUnescaped(spec, ";").filter((pair) => pair.trim() !== "");
  for (const pair of pairs) {
    const parts = splitUnescaped(pair, ",");
    if (parts.length !== 2) {
      throw new DanluError(`tag replacement "${pair}" is not "source,target"`, {
        hint: 'write pairs as "source,target;source2,target2" (escape a literal comma as \\,)',
        code: "BAD_OPTION",
      });
    }
    const [source, target] = parts.map((part) => part.replaceAll("\\,", ",").replaceAll("\\;", ";").trim());
    if (source) replacements.set(source, target ?? "");
  }
  return replacements;
}

function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? "";
    if (char === "\\" && text[i + 1] === separator) {
      current += char + separator;
      i++;
    } else if (char === separator) {
      parts.push(current);
      current = "";
    } else current += char;
  }
  parts.push(current);
  return parts;
}

/** Splits a user's tag list ("1girl, solo") on the caption separator's non-space part. */
export function splitTagList(list: string, separator: string): string[] {
  const mark = separator.trim() || ",";
  return list
    .split(mark)
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
}
