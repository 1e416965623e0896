import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseToml } from "smol-toml";
import { DanluError } from "../errors.ts";
import { didYouMean } from "../config/did-you-mean.ts";
import {
  IGNORED_OPTIONS,
  optionValue,
  parsePromptLine,
  promptError,
  withDefaults,
  type PromptFields,
  type SamplePrompt,
  type SamplePromptDefaults,
} from "./prompt-line.ts";

export interface SamplePrompts {
  prompts: SamplePrompt[];
  /** Options sd-scripts accepts that do nothing here, one line each with its place. */
  warnings: string[];
}

const FIELD_NAMES: (keyof PromptFields)[] = [
  "prompt",
  "negative_prompt",
  "width",
  "height",
  "seed",
  "sample_steps",
  "scale",
  "sample_sampler",
];
const IGNORED_FIELDS = new Set(Object.values(IGNORED_OPTIONS));

/**
 * The sd-scripts text format: one prompt per line, blank lines and `#` comments skipped, options after
 * ` --` (--n negative, --w/--h size, --d seed, --s steps, --l CFG scale, --ss sampler).
 */
export function parseSamplePromptText(
  text: string,
  defaults: SamplePromptDefaults,
  file: string,
): SamplePrompts {
  const prompts: SamplePrompt[] = [];
  const warnings: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const place = `${file} line ${index + 1}`;
    const lineWarnings: string[] = [];
    try {
      prompts.push(withDefaults(parsePromptLine(line, lineWarnings), defaults));
    } catch (error) {
      throw promptError(place, (error as Error).message);
    }
    warnings.push(...lineWarnings.map((w) => `${place}: ${w}`));
  });
  return { prompts, warnings };
}

/** One prompt given as a table/object with sd-scripts' prompt-dict keys. */
function fieldsFromDict(dict: Record<string, unknown>, place: string, warnings: string[]): PromptFields {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(dict)) {
    if (key === "subset" || key === "enum") continue; // structure, and sd-scripts' own counter
    if (IGNORED_FIELDS.has(key)) {
      warnings.push(`${place}: ${key} does not apply to SD sampling; ignored`);
      continue;
    }
    if (!FIELD_NAMES.includes(key as keyof PromptFields)) {
      throw promptError(place, `unknown key ${key}${didYouMean(key, FIELD_NAMES)}`);
    }
    const isText = key === "prompt" || key === "negative_prompt" || key === "sample_sampler";
    if (isText ? typeof value !== "string" : typeof value !== "number") {
      throw promptError(
        place,
        `${key} must be a ${isText ? "string" : "number"} (got ${JSON.stringify(value)})`,
      );
    }
    try {
      fields[key] = key === "prompt" ? value : optionValue(key as keyof PromptFields, String(value));
    } catch (error) {
      throw promptError(place, `${key} ${(error as Error).message}`);
    }
  }
  return fields as PromptFields;
}

const isDict = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** sd-scripts' .toml: [prompt] holds shared settings, each [[prompt.subset]] one prompt (it wins). */
function fromToml(data: Record<string, unknown>, file: string, warnings: string[]): PromptFields[] {
  const shared = data.prompt;
  if (!isDict(shared) || !Array.isArray(shared.subset)) {
    throw promptError(file, "expected a [prompt] table with [[prompt.subset]] entries");
  }
  return shared.subset.map((subset: unknown, i) => {
    const place = `${file} prompt ${i + 1}`;
    if (!isDict(subset)) throw promptError(place, "each [[prompt.subset]] must be a table");
    const { subset: _, ...common } = shared;
    return fieldsFromDict({ ...common, ...subset }, place, warnings);
  });
}

/** sd-scripts' .json: an array of prompt lines (strings) or prompt objects. */
function fromJson(data: unknown, file: string, warnings: string[]): PromptFields[] {
  if (!Array.isArray(data)) throw promptError(file, "expected a JSON array of prompts");
  return data.map((item: unknown, i) => {
    const place = `${file} prompt ${i + 1}`;
    if (typeof item === "string") {
      const lineWarnings: string[] = [];
      try {
        const fields = parsePromptLine(item.trim(), lineWarnings);
        warnings.push(...lineWarnings.map((w) => `${place}: ${w}`));
        return fields;
      } catch (error) {
        throw promptError(place, (error as Error).message);
      }
    }
    if (!isDict(item)) throw promptError(place, "each prompt must be a string or an object");
    return fieldsFromDict(item, place, warnings);
  });
}

function parseStructured(
  text: string,
  file: string,
  kind: "toml" | "json",
  warnings: string[],
): PromptFields[] {
  let data: unknown;
  try {
    data = kind === "toml" ? parseToml(text) : JSON.parse(text);
  } catch (error) {
    throw promptError(file, `not valid ${kind.toUpperCase()}: ${(error as Error).message.split("\n")[0]}`);
  }
  return kind === "toml"
    ? fromToml(data as Record<string, unknown>, file, warnings)
    : fromJson(data, file, warnings);
}

/** Reads a sample prompt file (.txt lines, or sd-scripts' .toml/.json lists); errors name the file and line. */
export async function loadSamplePrompts(
  path: string,
  defaults: SamplePromptDefaults,
): Promise<SamplePrompts> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DanluError(
      `cannot read sample prompts ${path}: ${code === "ENOENT" ? "no such file" : String(error)}`,
      {
        code: "BAD_PROMPT_FILE",
        hint: "check --sample-prompts",
      },
    );
  }
  const ext = extname(path).toLowerCase();
  let result: SamplePrompts;
  if (ext === ".toml" || ext === ".json") {
    const warnings: string[] = [];
    const fields = parseStructured(text, path, ext === ".toml" ? "toml" : "json", warnings);
    result = { prompts: fields.map((f) => withDefaults(f, defaults)), warnings };
  } else result = parseSamplePromptText(text, defaults, path);
  if (result.prompts.length === 0) {
    throw new DanluError(`${path} has no prompts`, {
      code: "BAD_PROMPT_FILE",
      hint: "write one prompt per line",
    });
  }
  return result;
}
