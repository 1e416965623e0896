// The generate form's data: what the form holds, the gen job's params it sends, and the way back (reuse a
// previous generation's settings). Plain TypeScript without the DOM, so test/web-generate.test.ts checks
// it against the server's own schema and lists.

/** A1111's sampler names: the list the server checks against (pure TypeScript, bundled as it is). */
export { A1111_SAMPLERS as SAMPLERS } from "../../../src/generate/samplers.ts";
/** The hires-fix upscalers by their A1111 names (the server's list, as the samplers). */
export { HIRES_UPSCALERS } from "../../../src/generate/upscalers.ts";

/** img2img's default denoising strength (GEN_DEFAULTS.strength; a test keeps it). */
export const STRENGTH_DEFAULT = 0.75;

/** An image of one of the user's jobs (a generation's output) to start img2img from. */
export interface InitImage {
  job: string;
  file: string;
}

/** A1111's hires-fix defaults (HIRES_DEFAULTS in src/generate/gen.ts, with its usual 2x; a test keeps them). */
export const HIRES_FORM_DEFAULTS = { scale: 2, steps: 0, denoising: 0.7, upscaler: "Latent" } as const;
/** ADetailer's denoising (DETAIL_DEFAULTS in src/generate/detailer.ts; a test keeps it). */
export const DETAIL_FORM_DEFAULTS = { denoising: 0.4 } as const;

/** Hires fix: generate, upscale, a second img2img pass (txt2img only). */
export interface HiresForm {
  on: boolean;
  scale: string;
  steps: string;
  denoising: string;
  upscaler: string;
}

/** Face detailing (ADetailer): each face repainted with its own prompt ('': the image's). */
export interface DetailForm {
  on: boolean;
  prompt: string;
  denoising: string;
}

/** The gen job's defaults (GEN_DEFAULTS in src/generate/gen.ts; a test keeps them the same). */
export const GEN_FORM_DEFAULTS = {
  negative: "",
  sampler: "DPM++ 2M Karras",
  steps: 20,
  cfg: 7,
  width: 512,
  height: 512,
  seed: -1,
  batch_count: 1,
} as const;

/** One LoRA row of the form: a file of one of the user's train jobs, and its weight. */
export interface LoraRow {
  /** Stable across edits (the list's key). */
  key: number;
  job: string;
  file: string;
  weight: string;
}

/** The form as typed: numbers stay text until they are sent, so a half-typed value is never lost. */
export interface GenForm {
  model: string;
  prompt: string;
  negative: string;
  sampler: string;
  steps: string;
  cfg: string;
  seed: string;
  width: string;
  height: string;
  batch_count: string;
  loras: LoraRow[];
  hires: HiresForm;
  detail: DetailForm;
  /** img2img: the image to start from (null: txt2img) and how much of it is redrawn. */
  init: InitImage | null;
  strength: string;
}

function defaultHires(): HiresForm {
  const d = HIRES_FORM_DEFAULTS;
  return {
    on: false,
    scale: String(d.scale),
    steps: String(d.steps),
    denoising: String(d.denoising),
    upscaler: d.upscaler,
  };
}

function defaultDetail(): DetailForm {
  return { on: false, prompt: "", denoising: String(DETAIL_FORM_DEFAULTS.denoising) };
}

export function defaultForm(): GenForm {
  const d = GEN_FORM_DEFAULTS;
  return {
    model: "",
    prompt: "",
    negative: d.negative,
    sampler: d.sampler,
    steps: String(d.steps),
    cfg: String(d.cfg),
    seed: String(d.seed),
    width: String(d.width),
    height: String(d.height),
    batch_count: String(d.batch_count),
    loras: [],
    hires: defaultHires(),
    detail: defaultDetail(),
    init: null,
    strength: String(STRENGTH_DEFAULT),
  };
}

/** The form's number fields (each one control, named as the gen job's param). */
export const NUMBER_FIELDS = ["steps", "cfg", "seed", "width", "height", "batch_count"] as const;
export type NumberField = (typeof NUMBER_FIELDS)[number];

/** The gen job's params for POST /api/jobs {kind: "gen", params}. */
export function toParams(form: GenForm): Record<string, unknown> {
  return {
    model: form.model,
    prompt: form.prompt,
    negative: form.negative,
    sampler: form.sampler,
    steps: Number(form.steps),
    cfg: Number(form.cfg),
    seed: Number(form.seed),
    width: Number(form.width),
    height: Number(form.height),
    batch_count: Number(form.batch_count),
    loras: form.loras
      .filter((row) => row.job && row.file)
      .map((row) => ({ job: row.job, file: row.file, weight: Number(row.weight) })),
    ...(form.init ? { init_image: form.init, strength: Number(form.strength) } : {}),
    // hires fix is a txt2img pass: with an init image it is not sent (the form hides it)
    ...(form.hires.on && !form.init
      ? {
          hires: {
            scale: Number(form.hires.scale),
            steps: Number(form.hires.steps),
            denoising: Number(form.hires.denoising),
            upscaler: form.hires.upscaler,
          },
        }
      : {}),
    ...(form.detail.on
      ? { detail_faces: { prompt: form.detail.prompt, denoising: Number(form.detail.denoising) } }
      : {}),
  };
}

let nextKey = 1;
export function newLoraRow(job = "", file = "", weight = "1"): LoraRow {
  return { key: nextKey++, job, file, weight };
}

/** A previous generation's params back into the form (unknown or missing values keep the form's). */
export function fromParams(params: Record<string, unknown>, base: GenForm): GenForm {
  const text = (key: keyof GenForm): string =>
    typeof params[key] === "string" ? (params[key] as string) : (base[key] as string);
  const number = (key: NumberField): string =>
    typeof params[key] === "number" ? String(params[key]) : base[key];
  const loras = Array.isArray(params.loras)
    ? (params.loras as { job?: unknown; file?: unknown; weight?: unknown }[])
        .filter((ref) => typeof ref.job === "string" && typeof ref.file === "string")
        .map((ref) =>
          newLoraRow(
            ref.job as string,
            ref.file as string,
            String(typeof ref.weight === "number" ? ref.weight : 1),
          ),
        )
    : base.loras;
  const hires = params.hires as Record<string, unknown> | undefined | null;
  const detail = params.detail_faces as Record<string, unknown> | undefined | null;
  const init = params.init_image as Record<string, unknown> | undefined | null;
  const field = (from: Record<string, unknown>, key: string, fallback: string) =>
    typeof from[key] === "number" || typeof from[key] === "string" ? String(from[key]) : fallback;
  return {
    model: text("model"),
    prompt: text("prompt"),
    negative: text("negative"),
    sampler: text("sampler"),
    steps: number("steps"),
    cfg: number("cfg"),
    seed: number("seed"),
    width: number("width"),
    height: number("height"),
    batch_count: number("batch_count"),
    loras,
    // a generation without hires fix or face detailing turns them off in the form
    hires:
      hires && typeof hires === "object"
        ? {
            on: true,
            scale: field(hires, "scale", base.hires.scale),
            steps: field(hires, "steps", base.hires.steps),
            denoising: field(hires, "denoising", base.hires.denoising),
            upscaler: field(hires, "upscaler", base.hires.upscaler),
          }
        : { ...base.hires, on: false },
    detail:
      detail && typeof detail === "object"
        ? {
            on: true,
            prompt: field(detail, "prompt", ""),
            denoising: field(detail, "denoising", base.detail.denoising),
          }
        : { ...base.detail, on: false },
    init:
      init && typeof init.job === "string" && typeof init.file === "string"
        ? { job: init.job, file: init.file }
        : null,
    strength: typeof params.strength === "number" ? String(params.strength) : base.strength,
  };
}

/**
 * Which control an API error's field names: `params.steps` → "steps", `params.loras.1.weight` → "loras",
 * `params.hires.denoising` → "hires" (the section).
 */
export function controlOf(field: string | undefined): string | null {
  if (!field) return null;
  const parts = field.split(".");
  const key = parts[0] === "params" ? parts[1] : parts[0];
  if (!key) return null;
  if (key === "init_image" || key === "strength") return "init";
  const known = [
    "model",
    "prompt",
    "negative",
    "sampler",
    "loras",
    "hires",
    "detail_faces",
    ...NUMBER_FIELDS,
  ];
  return known.includes(key) ? key : null;
}

/** The seed an image was drawn with, from its file name (`images/00012-1234.png`). */
export function seedOf(path: string): number | null {
  const match = /-(\d+)\.(png|jpe?g|webp)$/i.exec(path);
  return match ? Number(match[1]) : null;
}

/** The file name of a path (`images/00012-1234.png` → `00012-1234.png`). */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
