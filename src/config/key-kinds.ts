import { z } from "zod";

/**
 * One training setting: how a value is checked (the same schema for TOML files, flags and kohya
 * imports), its default (absent: the key is required), the one-line description that --help and
 * `danlu config show` print, and how a command-line string becomes a value.
 */
export interface KeyDef<S extends z.ZodType = z.ZodType> {
  schema: S;
  default?: z.output<S>;
  description: string;
  /** For people: "int >= 1", "bool", "AdamW | AdamW8bit"... */
  typeLabel: string;
  /** "switch": --x / --no-x; "value": --x <v>; "list": --x <v...> */
  flag: "switch" | "value" | "list";
  /** Turns the text after a flag into the value the schema checks. */
  fromText: (text: string) => unknown;
}

type Range = { min?: number; max?: number; gt?: number; lt?: number };

function rangeLabel(base: string, r: Range): string {
  const parts: string[] = [];
  if (r.gt !== undefined) parts.push(`> ${r.gt}`);
  if (r.min !== undefined) parts.push(`>= ${r.min}`);
  if (r.lt !== undefined) parts.push(`< ${r.lt}`);
  if (r.max !== undefined) parts.push(`<= ${r.max}`);
  return parts.length ? `${base} ${parts.join(", ")}` : base;
}

function withRange<T extends z.ZodNumber>(schema: T, r: Range): T {
  let s = schema;
  if (r.min !== undefined) s = s.min(r.min) as T;
  if (r.max !== undefined) s = s.max(r.max) as T;
  if (r.gt !== undefined) s = s.gt(r.gt) as T;
  if (r.lt !== undefined) s = s.lt(r.lt) as T;
  return s;
}

/** "12" -> 12; anything that is not a whole number stays text so the schema rejects it by type. */
export function intFromText(text: string): unknown {
  return /^[+-]?\d+$/.test(text.trim()) ? Number(text) : text;
}

export function numberFromText(text: string): unknown {
  const trimmed = text.trim();
  const value = Number(trimmed);
  return trimmed !== "" && Number.isFinite(value) ? value : text;
}

const identity = (text: string): unknown => text;

export function bool(defaultValue: boolean, description: string): KeyDef<z.ZodBoolean> {
  return {
    schema: z.boolean(),
    default: defaultValue,
    description,
    typeLabel: "bool",
    flag: "switch",
    fromText: identity,
  };
}

/** A bool where null means "decide from the model" (detection). */
export function detectBool(description: string): KeyDef<z.ZodNullable<z.ZodBoolean>> {
  return {
    schema: z.boolean().nullable(),
    default: null,
    description,
    typeLabel: "bool (unset: detect)",
    flag: "switch",
    fromText: identity,
  };
}

export function int(defaultValue: number, description: string, range: Range = {}): KeyDef<z.ZodNumber> {
  return {
    schema: withRange(z.number().int(), range),
    default: defaultValue,
    description,
    typeLabel: rangeLabel("int", range),
    flag: "value",
    fromText: intFromText,
  };
}

export function optionalInt(description: string, range: Range = {}): KeyDef<z.ZodNullable<z.ZodNumber>> {
  return {
    schema: withRange(z.number().int(), range).nullable(),
    default: null,
    description,
    typeLabel: rangeLabel("int", range),
    flag: "value",
    fromText: intFromText,
  };
}

export function num(defaultValue: number, description: string, range: Range = {}): KeyDef<z.ZodNumber> {
  return {
    schema: withRange(z.number(), range),
    default: defaultValue,
    description,
    typeLabel: rangeLabel("number", range),
    flag: "value",
    fromText: numberFromText,
  };
}

export function optionalNum(description: string, range: Range = {}): KeyDef<z.ZodNullable<z.ZodNumber>> {
  return {
    schema: withRange(z.number(), range).nullable(),
    default: null,
    description,
    typeLabel: rangeLabel("number", range),
    flag: "value",
    fromText: numberFromText,
  };
}

export function str(defaultValue: string, description: string, typeLabel = "string"): KeyDef<z.ZodString> {
  return {
    schema: z.string(),
    default: defaultValue,
    description,
    typeLabel,
    flag: "value",
    fromText: identity,
  };
}

export function optionalStr(description: string, typeLabel = "string"): KeyDef<z.ZodNullable<z.ZodString>> {
  return {
    schema: z.string().min(1).nullable(),
    default: null,
    description,
    typeLabel,
    flag: "value",
    fromText: identity,
  };
}

/** A key the run cannot start without: no default, resolveTrainConfig says what to pass. */
export function requiredPath(description: string): KeyDef<z.ZodString> {
  return { schema: z.string().min(1), description, typeLabel: "path", flag: "value", fromText: identity };
}

export function choice<const T extends readonly [string, ...string[]]>(
  values: T,
  defaultValue: T[number],
  description: string,
): KeyDef<z.ZodEnum<{ [K in T[number]]: K }>> {
  return {
    schema: z.enum(values),
    default: defaultValue as never,
    description,
    typeLabel: values.join(" | "),
    flag: "value",
    fromText: identity,
  };
}

export function custom<S extends z.ZodType>(
  schema: S,
  defaultValue: z.output<S> | undefined,
  description: string,
  typeLabel: string,
  fromText: (text: string) => unknown = identity,
  flag: KeyDef["flag"] = "value",
): KeyDef<S> {
  return { schema, default: defaultValue, description, typeLabel, flag, fromText };
}
