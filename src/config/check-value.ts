import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { DanluError } from "../errors.ts";
import { trainKeyDef } from "./schema.ts";

/** The result of checking one value: its typed form, or why it is wrong (for a person). */
export type KeyCheck = { ok: true; value: unknown } | { ok: false; problem: string };

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Checks a value for a known key against the key's schema; the problem names the key and expected type. */
export function checkKeyValue(key: string, value: unknown): KeyCheck {
  const def = trainKeyDef(key);
  if (!def) return { ok: false, problem: `${key} is not a danlu setting` };
  const result = def.schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  // Custom checks (optimizer_args, warmup) carry their own reason; type/range failures get the label.
  const custom = result.error.issues.find((issue) => issue.code === "custom" && issue.message);
  const reason = custom && custom.message !== "Invalid input" ? `: ${custom.message}` : "";
  return { ok: false, problem: `${key} must be ${def.typeLabel} (got ${show(value)})${reason}` };
}

/** A path-valued key's value made absolute against `base` (other keys and unset paths unchanged). */
export function absolutePath(key: string, value: unknown, base: string): unknown {
  if (trainKeyDef(key)?.typeLabel !== "path" || typeof value !== "string" || isAbsolute(value)) return value;
  return resolve(base, value);
}

/** The 1-based line where a top-level key is written in a TOML text, if it can be found. */
export function findKeyLine(text: string, key: string): number | undefined {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const name = `(?:${escaped}|"${escaped}"|'${escaped}')`;
  // `key = v`, a dotted `key.inner = v`, or a table header `[key]` / `[[key]]`.
  const pattern = new RegExp(`^\\s*(?:${name}\\s*[=.]|\\[\\[?\\s*${name}\\s*[\\].])`);
  const index = text.split(/\r?\n/).findIndex((line) => pattern.test(line));
  return index < 0 ? undefined : index + 1;
}

/** "file line 3" or "file". */
export function where(path: string, text: string, key: string): string {
  const line = findKeyLine(text, key);
  return line === undefined ? path : `${path} line ${line}`;
}

/** Reads and parses a TOML file; a missing file or a syntax error becomes a DanluError with the place. */
export async function readTomlFile(
  path: string,
  what: string,
): Promise<{ text: string; data: Record<string, unknown> }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DanluError(
      `cannot read ${what} ${path}: ${code === "ENOENT" ? "no such file" : String(error)}`,
      {
        code: "CONFIG_NOT_FOUND",
        hint: "check the path",
        cause: error,
      },
    );
  }
  try {
    return { text, data: parse(text) as Record<string, unknown> };
  } catch (error) {
    if (error instanceof TomlError) {
      throw new DanluError(
        `${path} line ${error.line} column ${error.column}: ${error.message.split("\n")[0]}`,
        {
          code: "CONFIG_SYNTAX",
          hint: "fix the TOML syntax (strings need quotes; one key = value per line)",
          cause: error,
        },
      );
    }
    throw error;
  }
}
