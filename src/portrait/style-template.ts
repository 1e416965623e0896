import { stat } from "node:fs/promises";
import { basename, dirname, extname, resolve } from "node:path";
import { z } from "zod";
import { readTomlFile, where } from "../config/check-value.ts";
import { didYouMean } from "../config/did-you-mean.ts";
import { IMAGE_EXTENSIONS } from "../dataset/images.ts";
import { DanluError } from "../errors.ts";
import type { ControlNetOptions } from "../generate/controlnet.ts";
import { GEN_DEFAULTS } from "../generate/gen.ts";
import { PREPROCESSORS } from "../generate/preprocess/index.ts";
import { parsePrompt } from "../generate/prompt.ts";
import { A1111_SAMPLERS, canonicalSampler } from "../generate/samplers.ts";

/** Where the trigger word and class go in a style's prompt: "{trigger}" becomes "dlperson woman". */
export const TRIGGER_PLACEHOLDER = "{trigger}";

/** A LoRA a style applies on top of the person's (a style LoRA), at a weight. */
export interface StyleLora {
  /** Absolute path of the .safetensors file (written relative to the template). */
  file: string;
  weight: number;
}

/** One style template (a TOML file), checked and with its paths made absolute. */
export interface Style {
  /** What `--styles` names it by: the template's `name`, or its file stem. */
  name: string;
  title: string;
  titleZh: string;
  /** A1111 prompt syntax with {trigger} in it (renderPrompt fills it in). */
  prompt: string;
  negative: string;
  /** A1111 sampler name, canonical spelling. */
  sampler: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  /** Fixed seed of the first candidate; undefined: the pipeline picks one. */
  seed?: number;
  loras: StyleLora[];
  /** img2img reference image (absolute path); undefined: txt2img. */
  initImage?: string;
  /** img2img denoising strength (used only with initImage). */
  strength: number;
  /**
   * Face detailing after drawing (ADetailer's pass, src/generate/detailer.ts): on by default; `false` turns
   * it off; a prompt here may hold {trigger} (renderPrompt fills it in; unset: the image's prompt).
   */
  detailFaces: { prompt?: string; negative?: string; denoising?: number } | false;
  /** ControlNet units (`[[controlnet]]` tables): image and model paths made absolute (a model may be a name). */
  controlnets: ControlNetOptions[];
  /** The template file it was read from (absolute). */
  file: string;
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/;
const PLACEHOLDER = /\{([^{}\s]*)\}/g;

// Each field's schema and what a person is told it must be; custom checks carry their own message.
const size = z
  .number()
  .int()
  .min(64)
  .max(2048)
  .refine((n) => n % 8 === 0, { message: "must be a multiple of 8 (e.g. 512, 640, 768)" });
const loraTable = z
  .object({ file: z.string().min(1), weight: z.number().min(-5).max(5).default(1) })
  .strict();
const controlnetTable = z
  .object({
    model: z.string().min(1),
    image: z.string().min(1),
    weight: z.number().min(0).max(10).optional(),
    start: z.number().min(0).max(1).optional(),
    end: z.number().min(0).max(1).optional(),
    preprocessor: z.enum(PREPROCESSORS).optional(),
  })
  .strict();
const FIELDS = {
  name: [z.string().regex(NAME), 'a name of lower-case letters, digits, "_" and "-"'],
  title: [z.string().min(1), "a non-empty string"],
  title_zh: [z.string().min(1), "a non-empty string"],
  prompt: [z.string().superRefine(checkPrompt), `a string with ${TRIGGER_PLACEHOLDER} in it`],
  negative: [z.string().superRefine(checkNegative), "a string"],
  sampler: [
    z.string().refine((s) => canonicalSampler(s) !== undefined, {
      message: `is not a sampler danlu knows; use one of: ${A1111_SAMPLERS.join(", ")}`,
    }),
    "an A1111 sampler name",
  ],
  steps: [z.number().int().min(1).max(150), "a whole number 1-150"],
  cfg: [z.number().gt(0).max(30), "a number above 0, at most 30"],
  width: [size, "a whole number 64-2048, a multiple of 8"],
  height: [size, "a whole number 64-2048, a multiple of 8"],
  seed: [
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    "a whole number 0-4294967295",
  ],
  // A single [lora] table is read as a list of one (readStyleTemplate), so its key errors name lora.KEY.
  lora: [z.array(loraTable), "a [lora] table (file, weight) or [[lora]] tables"],
  // like lora: a single [controlnet] table is read as a list of one
  controlnet: [
    z.array(controlnetTable),
    "a [controlnet] table (model, image, weight, start, end, preprocessor) or [[controlnet]] tables",
  ],
  init_image: [z.string().min(1), "a path to an image"],
  strength: [z.number().min(0).max(1), "a number 0-1"],
  // detail_faces = false, or a [detail_faces] table (prompt, negative, denoising)
  detail_faces: [
    z.union([
      z.boolean(),
      z
        .object({
          prompt: z.string().superRefine(checkDetailPrompt).optional(),
          negative: z.string().superRefine(checkNegative).optional(),
          denoising: z.number().gt(0).max(1).optional(),
        })
        .strict(),
    ]),
    "true, false or a [detail_faces] table (prompt, negative, denoising above 0, at most 1)",
  ],
} as const;
type Field = keyof typeof FIELDS;
const FIELD_NAMES = Object.keys(FIELDS) as Field[];

const templateSchema = z
  .object({
    name: FIELDS.name[0].optional(),
    title: FIELDS.title[0].optional(),
    title_zh: FIELDS.title_zh[0].optional(),
    prompt: FIELDS.prompt[0],
    negative: FIELDS.negative[0].default(GEN_DEFAULTS.negative),
    sampler: FIELDS.sampler[0].default(GEN_DEFAULTS.sampler),
    steps: FIELDS.steps[0].default(GEN_DEFAULTS.steps),
    cfg: FIELDS.cfg[0].default(GEN_DEFAULTS.cfg),
    width: FIELDS.width[0].default(GEN_DEFAULTS.width),
    height: FIELDS.height[0].default(GEN_DEFAULTS.height),
    seed: FIELDS.seed[0].optional(),
    lora: FIELDS.lora[0].optional(),
    controlnet: FIELDS.controlnet[0].optional(),
    init_image: FIELDS.init_image[0].optional(),
    strength: FIELDS.strength[0].optional(),
    detail_faces: FIELDS.detail_faces[0].optional(),
  })
  .strict();

function checkPrompt(prompt: string, ctx: z.RefinementCtx): void {
  const problem = placeholderProblem(prompt) ?? syntaxProblem(prompt);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
  else if (!prompt.includes(TRIGGER_PLACEHOLDER))
    ctx.addIssue({
      code: "custom",
      message: `has no ${TRIGGER_PLACEHOLDER}: write it where the person goes ("photo of ${TRIGGER_PLACEHOLDER}, ...")`,
    });
}

function checkDetailPrompt(prompt: string, ctx: z.RefinementCtx): void {
  const problem = placeholderProblem(prompt) ?? syntaxProblem(prompt);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}

function checkNegative(negative: string, ctx: z.RefinementCtx): void {
  if (negative.includes(TRIGGER_PLACEHOLDER))
    ctx.addIssue({ code: "custom", message: `${TRIGGER_PLACEHOLDER} belongs in prompt, not negative` });
  const problem = syntaxProblem(negative);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}

function placeholderProblem(text: string): string | undefined {
  for (const [, word = ""] of text.matchAll(PLACEHOLDER)) {
    if (word !== "trigger")
      return `has {${word}}, which is not a placeholder${didYouMean(word, ["trigger"])}; the one placeholder is ${TRIGGER_PLACEHOLDER}`;
  }
  return undefined;
}

function syntaxProblem(text: string): string | undefined {
  try {
    const parsed = parsePrompt(text);
    if (parsed.loras.length > 0)
      return "has a <lora:...> tag; a template names its LoRA in a [lora] table (file relative to the template)";
  } catch (error) {
    if (error instanceof DanluError) return error.message;
    throw error;
  }
  return undefined;
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** "lora.file", "lora[1].file"; a single [lora] table (read as a list of one) shows no index. */
function pathName(path: readonly PropertyKey[], singleLora = false): string {
  const shown = singleLora && path[0] === "lora" ? path.filter((_, i) => i !== 1) : path;
  return shown
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const p of path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p];
  return value;
}

/** One line per issue: "steps must be a whole number 1-150 (got 0)", "unknown key stesp (did you mean steps?)". */
function issueLines(
  issue: z.core.$ZodIssue,
  data: unknown,
  singleLora: boolean,
): { key: string; text: string }[] {
  const key = pathName(issue.path, singleLora);
  const top = String(issue.path[0] ?? "");
  if (issue.code === "unrecognized_keys") {
    const known =
      issue.path.length === 0
        ? FIELD_NAMES
        : top === "detail_faces"
          ? ["prompt", "negative", "denoising"]
          : top === "controlnet"
            ? Object.keys(controlnetTable.shape)
            : Object.keys(loraTable.shape);
    return issue.keys.map((k) => ({
      key: issue.path.length === 0 ? k : top,
      text: `unknown key ${key ? `${key}.` : ""}${k}${didYouMean(k, known)}`,
    }));
  }
  const value = valueAt(data, issue.path);
  if (value === undefined) return [{ key: top, text: `${key} is missing (${labelOf(issue.path)})` }];
  if (issue.code === "custom") return [{ key: top, text: `${key} ${issue.message}` }];
  return [{ key: top, text: `${key} must be ${labelOf(issue.path)} (got ${show(value)})` }];
}

function labelOf(path: readonly PropertyKey[]): string {
  const last = path.at(-1);
  if (path[0] === "lora" && last === "file") return "a path to a .safetensors file";
  if (path[0] === "lora" && last === "weight") return "a number -5 to 5";
  if (path[0] === "controlnet" && last === "preprocessor") return `one of ${PREPROCESSORS.join(", ")}`;
  if (path[0] === "controlnet" && typeof last === "string")
    return "a path, or a number in range (weight 0-10, start/end 0-1)";
  return (FIELDS as Record<string, readonly [unknown, string]>)[String(path[0])]?.[1] ?? "valid";
}

function invalid(file: string, problems: string[]): DanluError {
  const message =
    problems.length === 1
      ? (problems[0] ?? "")
      : `${file} has ${problems.length} problems:\n  ${problems.join("\n  ")}`;
  return new DanluError(message, {
    code: "STYLE_INVALID",
    hint: "fix the template (the shipped ones in src/portrait/styles/ show every key), or move it out of the folder",
  });
}

function isTable(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/** Reads and checks one style template; every problem names the file, the line and the key. */
export async function readStyleTemplate(path: string): Promise<Style> {
  const file = resolve(path);
  const { text, data } = await readTomlFile(file, "style template");
  const at = (key: string) => where(file, text, key);
  const singleLora = isTable(data.lora);
  const input = {
    ...data,
    ...(singleLora ? { lora: [data.lora] } : {}),
    ...(isTable(data.controlnet) ? { controlnet: [data.controlnet] } : {}),
  };
  const parsed = templateSchema.safeParse(input);
  if (!parsed.success) {
    // One problem per key: zod also runs a refinement after a range check of the same value failed.
    const seen = new Set<string>();
    const issues = parsed.error.issues.filter((issue) => {
      const id = `${issue.code === "unrecognized_keys" ? "?" : ""}${pathName(issue.path)}`;
      return !seen.has(id) && Boolean(seen.add(id));
    });
    const lines = issues.flatMap((issue) => issueLines(issue, input, singleLora));
    throw invalid(
      file,
      lines.map(({ key, text: line }) => `${key ? at(key) : file}: ${line}`),
    );
  }
  const t = parsed.data;
  const base = dirname(file);
  const problems: string[] = [];
  const stem = basename(file, extname(file));
  if (t.name === undefined && !NAME.test(stem))
    problems.push(
      `${file}: the file name ${stem} is not a style name (${FIELDS.name[1]}): rename it or set name`,
    );
  const loras = (t.lora ?? []).map((l) => ({
    file: resolve(base, l.file),
    weight: l.weight,
  }));
  for (const lora of loras) {
    if (extname(lora.file).toLowerCase() !== ".safetensors")
      problems.push(`${at("lora")}: lora file ${lora.file} is not a .safetensors file`);
    else if (!(await isFile(lora.file))) problems.push(`${at("lora")}: lora file ${lora.file}: no such file`);
  }
  const initImage = t.init_image === undefined ? undefined : resolve(base, t.init_image);
  if (initImage !== undefined) {
    if (!IMAGE_EXTENSIONS.has(extname(initImage).toLowerCase()))
      problems.push(
        `${at("init_image")}: init_image ${initImage} is not an image (${[...IMAGE_EXTENSIONS].join(" ")})`,
      );
    else if (!(await isFile(initImage)))
      problems.push(`${at("init_image")}: init_image ${initImage}: no such file`);
  } else if (t.strength !== undefined) {
    problems.push(`${at("strength")}: strength is the img2img strength, but there is no init_image`);
  }
  const controlnets = await styleControlNets(t.controlnet ?? [], base, at("controlnet"), problems);
  if (problems.length > 0) throw invalid(file, problems);
  const name = t.name ?? stem;
  return {
    name,
    title: t.title ?? name,
    titleZh: t.title_zh ?? t.title ?? name,
    prompt: t.prompt,
    negative: t.negative,
    sampler: canonicalSampler(t.sampler) ?? t.sampler,
    steps: t.steps,
    cfg: t.cfg,
    width: t.width,
    height: t.height,
    ...(t.seed === undefined ? {} : { seed: t.seed }),
    loras,
    ...(initImage === undefined ? {} : { initImage }),
    strength: t.strength ?? GEN_DEFAULTS.strength,
    detailFaces: t.detail_faces === false ? false : t.detail_faces === true ? {} : (t.detail_faces ?? {}),
    controlnets,
    file,
  };
}

/** `[[controlnet]]` units: the image relative to the template; the model too when that file exists, else a name. */
async function styleControlNets(
  units: z.infer<typeof controlnetTable>[],
  base: string,
  where: string,
  problems: string[],
): Promise<ControlNetOptions[]> {
  const out: ControlNetOptions[] = [];
  for (const u of units) {
    const image = resolve(base, u.image);
    if (!(await isFile(image))) problems.push(`${where}: controlnet image ${image}: no such file`);
    const local = resolve(base, u.model);
    const model = (await stat(local).catch(() => null)) ? local : u.model;
    out.push({ ...u, model, image });
  }
  return out;
}
