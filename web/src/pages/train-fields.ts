// A training key as a form field, without the form: the field's kind from the key's type label ("bool",
// "int >= 1", "a | b | c", "list of ..."), the raw input value to and from the config value, its help text
// and type label in the UI's language, and which keys the user changed.

export interface SchemaKey {
  key: string;
  default: unknown;
  required: boolean;
  type: string;
  description: string;
  description_zh: string;
}

/** The key's help text in the UI's language. */
export function describe(key: SchemaKey, lang: string): string {
  return lang === "zh" ? key.description_zh : key.description;
}

/** The words of a type label in Chinese ("int >= 1" -> "整数 >= 1"); kohya's value names stay as they are. */
const TYPE_WORDS_ZH: [RegExp, string][] = [
  [/\(unset: detect\)/g, "（不设：自动检测）"],
  [/\blist of\b/g, "列表："],
  [/\(each\b/g, "（每个"],
  [/\bratio\b/g, "比例"],
  [/\bbool\b/g, "是/否"],
  [/\bint\b/g, "整数"],
  [/\bnumber\b/g, "数字"],
  [/\bstring\b/g, "文本"],
  [/\bpath\b/g, "路径"],
  [/<lr>/g, "<学习率>"],
];

export function typeLabel(type: string, lang: string): string {
  if (lang !== "zh") return type;
  return TYPE_WORDS_ZH.reduce((label, [word, zh]) => label.replace(word, zh), type);
}

export type FieldKind =
  | { kind: "bool" }
  | { kind: "tristate" }
  | { kind: "int"; min?: number; max?: number }
  | { kind: "number"; min?: number; max?: number }
  | { kind: "select"; options: (string | number)[] }
  | { kind: "list" }
  | { kind: "text"; suggestions?: string[] }
  | { kind: "path" };

/** A raw form value: what the input holds (checkboxes: a boolean). */
export type Raw = string | boolean;

function bounds(type: string): { min?: number; max?: number } {
  const min = />=\s*(-?[\d.]+)/u.exec(type)?.[1];
  const max = /<=\s*(-?[\d.]+)/u.exec(type)?.[1];
  return { ...(min ? { min: Number(min) } : {}), ...(max ? { max: Number(max) } : {}) };
}

/** The field for a type label as `danlu config show` prints it. */
export function fieldKind(type: string): FieldKind {
  if (type === "path") return { kind: "path" };
  if (type === "bool") return { kind: "bool" };
  if (type.startsWith("bool")) return { kind: "tristate" };
  if (type.startsWith("list of")) return { kind: "list" };
  if (type.includes(" | ")) {
    const parts = type.split(" | ").map((part) => part.trim());
    if (parts.every((part) => /^-?\d+$/u.test(part))) return { kind: "select", options: parts.map(Number) };
    if (parts.every((part) => /^[A-Za-z][\w.+-]*$/u.test(part))) return { kind: "select", options: parts };
    const words = parts.filter((part) => /^[A-Za-z][\w.+-]*$/u.test(part));
    return { kind: "text", ...(words.length > 1 ? { suggestions: words } : {}) };
  }
  if (/^int\b/u.test(type)) return { kind: "int", ...bounds(type) };
  if (/^number\b/u.test(type)) return { kind: "number", ...bounds(type) };
  return { kind: "text" };
}

/** A value as its input shows it. */
export function toRaw(value: unknown, field: FieldKind): Raw {
  if (field.kind === "bool") return value === true;
  if (value === null || value === undefined) return "";
  if (field.kind === "list" && Array.isArray(value)) return value.map(String).join("\n");
  if (Array.isArray(value)) return value.join(",");
  return String(value);
}

/** What the API gets for an input's value ("" = not set). */
export function fromRaw(raw: Raw, field: FieldKind): unknown {
  if (typeof raw === "boolean") return raw;
  const text = raw.trim();
  switch (field.kind) {
    case "tristate":
      return text === "true" ? true : text === "false" ? false : null;
    case "int":
    case "number":
      return text === "" ? null : Number(text);
    case "select":
      return typeof field.options[0] === "number" ? Number(text) : text;
    case "list":
      return text
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "");
    case "text":
      if (/^-?\d+(\.\d+)?(e-?\d+)?$/iu.test(text)) return Number(text);
      if (/^\[.*\]$/u.test(text)) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return text;
        }
      }
      return text;
    default:
      return text;
  }
}

/** The keys the user changed from what the form started with (default, or the preset's value). */
export function changedConfig(
  keys: SchemaKey[],
  overrides: Record<string, Raw>,
  base: (key: SchemaKey) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    if (!Object.hasOwn(overrides, key.key)) continue;
    const field = fieldKind(key.type);
    const raw = overrides[key.key]!;
    const start = toRaw(base(key), field);
    if (typeof raw === "string" ? raw.trim() === String(start).trim() : raw === start) continue;
    if (raw === "" && field.kind !== "text") continue; // emptied: back to the default
    out[key.key] = fromRaw(raw, field);
  }
  return out;
}
