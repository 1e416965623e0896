import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import sharp from "sharp";
import { readImageSize } from "../dataset/kohya/images.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import type { GenerateSpec, GenJob } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { analyzeFile, loadFaceAnalyzer, type FaceAnalyzer, type FaceBox } from "../faces/index.ts";
import { detectArch } from "../training/arch.ts";
import { runGenerate } from "./gen.ts";
import { quoteValue, rewriteFields } from "./parameters.ts";
import { readPngText, withPngText } from "./png-text.ts";
import { parsePrompt } from "./prompt.ts";

/**
 * Face detailing, what A1111's ADetailer extension does: find the faces in a generated image (BlazeFace,
 * src/faces), then repaint each one with inpainting "only masked" (its box, dilated, cut out with padding
 * and sampled at a working resolution, pasted back through the blurred mask), one face after another, each
 * starting from the image the previous one left; the image keeps its file name and gains ADetailer's keys
 * in its `parameters` text. The repaint is one engine generate run per face rank (the 1st face of every
 * image, then the 2nd, ...): a job's init image must exist before the engine starts, and one job for all
 * faces would crop their common box, spreading the working resolution over the space between them.
 */

/** Settings of the face pass; unset fields take DETAIL_DEFAULTS. */
export interface DetailOptions {
  /** The face prompt (A1111 syntax); unset or "": the image's own prompt (ADetailer's rule). */
  prompt?: string;
  /** The face negative; unset or "": the image's own. */
  negative?: string;
  /** BlazeFace score (0-1) a face needs. */
  confidence?: number;
  /** px the face box grows by (negative: shrinks) before it becomes the mask. */
  dilateErode?: number;
  /** Gaussian blur sigma of the mask, px. */
  maskBlur?: number;
  /** Denoising strength of the repaint. */
  denoising?: number;
  /** px of context around the mask's box. */
  padding?: number;
  /** Sampling steps; unset: the image's. */
  steps?: number;
  /** The working resolution (a square, px, multiple of 8); unset: 1024 for SDXL, else 512. */
  size?: number;
}

/** ADetailer's defaults. */
export const DETAIL_DEFAULTS = {
  confidence: 0.3,
  dilateErode: 4,
  maskBlur: 4,
  denoising: 0.4,
  padding: 32,
} as const satisfies DetailOptions;

/** What the PNG text names the detector ("ADetailer model"). */
export const DETAIL_MODEL = "blazeface";
const DANLU_VERSION = "0.1.0";

/** An image the engine wrote: its file, the spec job it came from and its seed. */
export interface GeneratedImage {
  path: string;
  job: number;
  seed: number;
}

export interface DetailedImage {
  path: string;
  /** Faces repainted; 0: none found, the file is unchanged. */
  faces: number;
  /** The new `parameters` text; null when unchanged. */
  parameters: string | null;
}

export interface DetailRun {
  onEvent?: (event: EngineEvent) => void;
  onLog?: (line: string) => void;
  signal?: AbortSignal;
  analyzer?: FaceAnalyzer;
}

type Resolved = DetailOptions & Required<Pick<DetailOptions, keyof typeof DETAIL_DEFAULTS>>;

function bad(message: string, hint: string): DanluError {
  return new DanluError(message, { code: "BAD_ARGUMENT", hint, exitCode: 2 });
}

/** The options with defaults, range-checked (flag names as `danlu gen` spells them). */
export function checkDetailOptions(o: DetailOptions): Resolved {
  const p = { ...DETAIL_DEFAULTS, ...o };
  if (!(p.confidence >= 0 && p.confidence <= 1))
    throw bad(`--detail-confidence ${p.confidence} must be between 0 and 1.`, "0.3 is ADetailer's default.");
  if (!(p.denoising > 0 && p.denoising <= 1))
    throw bad(
      `--detail-denoising ${p.denoising} must be above 0 and at most 1.`,
      "0.4 is ADetailer's default.",
    );
  if (!Number.isInteger(p.dilateErode))
    throw bad(
      `--detail-dilate ${p.dilateErode} must be a whole number.`,
      "In pixels; negative shrinks the box.",
    );
  for (const [flag, value, min] of [
    ["--detail-mask-blur", p.maskBlur, 0],
    ["--detail-padding", p.padding, 0],
    ["--detail-steps", p.steps ?? 1, 1],
  ] as const) {
    if (!(Number.isInteger(value) && value >= min))
      throw bad(`${flag} ${value} must be a whole number >= ${min}.`, "Pixels; steps a count.");
  }
  if (p.size !== undefined && !(Number.isInteger(p.size) && p.size >= 64 && p.size % 8 === 0))
    throw bad(
      `--detail-size ${p.size} must be a multiple of 8, at least 64.`,
      "512 for SD1.5, 1024 for SDXL.",
    );
  for (const text of [p.prompt, p.negative]) {
    if (text && parsePrompt(text).loras.length > 0)
      throw bad(
        "a <lora:...> tag in the face prompt: the face pass uses the image's LoRAs.",
        "Put the LoRA in the main prompt (or --lora).",
      );
  }
  return p;
}

/** The face box grown by `by` px on each side (shrunk when negative), whole pixels inside the image. */
export function maskBox(box: FaceBox, by: number, width: number, height: number) {
  const left = Math.max(0, Math.floor(box.x) - by);
  const top = Math.max(0, Math.floor(box.y) - by);
  const right = Math.min(width, Math.ceil(box.x + box.width) + by);
  const bottom = Math.min(height, Math.ceil(box.y + box.height) + by);
  return right > left && bottom > top ? { left, top, right, bottom } : undefined;
}

async function writeMask(
  path: string,
  width: number,
  height: number,
  box: NonNullable<ReturnType<typeof maskBox>>,
) {
  const mask = Buffer.alloc(width * height);
  for (let y = box.top; y < box.bottom; y++) mask.fill(255, y * width + box.left, y * width + box.right);
  await sharp(mask, { raw: { width, height, channels: 1 } })
    .png()
    .toFile(path);
}

/** ADetailer's keys for this pass, in its order, left out where ADetailer leaves them out. */
export function detailFields(
  p: Resolved,
  size: number,
  image: { width: number; height: number },
): [string, string][] {
  const fields: [string, string][] = [["ADetailer model", DETAIL_MODEL]];
  if (p.prompt) fields.push(["ADetailer prompt", quoteValue(p.prompt)]);
  if (p.negative) fields.push(["ADetailer negative prompt", quoteValue(p.negative)]);
  fields.push(
    ["ADetailer confidence", String(p.confidence)],
    ["ADetailer dilate erode", String(p.dilateErode)],
    ["ADetailer mask blur", String(p.maskBlur)],
    ["ADetailer denoising strength", String(p.denoising)],
    ["ADetailer inpaint only masked", "True"],
    ["ADetailer inpaint padding", String(p.padding)],
  );
  if (size !== image.width || size !== image.height)
    fields.push(
      ["ADetailer use inpaint width height", "True"],
      ["ADetailer inpaint width", String(size)],
      ["ADetailer inpaint height", String(size)],
    );
  if (p.steps !== undefined)
    fields.push(["ADetailer use separate steps", "True"], ["ADetailer steps", String(p.steps)]);
  fields.push(["ADetailer version", quoteValue(`danlu-${DANLU_VERSION}`)]);
  return fields;
}

/** The text with ADetailer's keys (any earlier ones replaced) before the LoRA/TI hashes and Version, as A1111 orders them. */
export function addDetailFields(text: string, fields: [string, string][]): string {
  return rewriteFields(text, (pairs) => {
    const kept = pairs.filter(([key]) => !key.startsWith("ADetailer "));
    const at = kept.findIndex(([key]) => ["Lora hashes", "TI hashes", "Version"].includes(key));
    return at < 0 ? [...kept, ...fields] : [...kept.slice(0, at), ...fields, ...kept.slice(at)];
  });
}

/** The inpainting job that repaints one face: the image's job, at the working size, only masked. */
function faceJob(
  job: GenJob,
  p: Resolved,
  face: { init: string; mask: string; seed: number; size: number; prefix: string },
): GenJob {
  const prompt = p.prompt ? parsePrompt(p.prompt) : undefined;
  const negative = p.negative ? parsePrompt(p.negative) : undefined;
  return {
    ...job,
    ...(prompt ? { prompt: { text: prompt.text, sections: prompt.sections } } : {}),
    ...(negative ? { negative: { text: negative.text, sections: negative.sections } } : {}),
    steps: p.steps ?? job.steps,
    width: face.size,
    height: face.size,
    seed: face.seed,
    batch_count: 1,
    batch_size: 1,
    init_image: face.init,
    strength: p.denoising,
    file_prefix: face.prefix,
    inpaint: {
      mask: face.mask,
      mask_blur: p.maskBlur,
      masked_content: "original",
      only_masked: true,
      padding: p.padding,
    },
    hires: null,
    controlnets: [], // ADetailer runs its face pass without ControlNet unless given one of its own
  };
}

interface Found {
  image: GeneratedImage;
  width: number;
  height: number;
  masks: string[];
}

async function findFaces(
  images: GeneratedImage[],
  p: Resolved,
  work: string,
  run: DetailRun,
): Promise<Found[]> {
  const analyzer = run.analyzer ?? (await loadFaceAnalyzer());
  const found: Found[] = [];
  for (const [i, image] of images.entries()) {
    const size = await readImageSize(image.path);
    if ("error" in size)
      throw new DanluError(`${image.path} cannot be read: ${size.error}`, { code: "BAD_IMAGE" });
    const faces = (await analyzeFile(analyzer, image.path, { minScore: p.confidence })).filter(
      (f) => f.score >= p.confidence,
    );
    const masks: string[] = [];
    for (const [f, face] of faces.entries()) {
      const box = maskBox(face.box, p.dilateErode, size.width, size.height);
      if (!box) continue;
      const mask = join(work, `mask-${i}-${f}.png`);
      await writeMask(mask, size.width, size.height, box);
      masks.push(mask);
    }
    run.onLog?.(
      `face detail: ${basename(image.path)}: ${masks.length === 0 ? "no face found" : `${masks.length} face(s)`}`,
    );
    found.push({ image, width: size.width, height: size.height, masks });
  }
  return found;
}

/**
 * Repaints the faces of `images` (written by `spec`'s jobs) in place; an image without a face is left as
 * it is. Every image's file keeps its name; its parameters text gains ADetailer's keys.
 */
export async function detailFaces(
  spec: GenerateSpec,
  images: GeneratedImage[],
  options: DetailOptions,
  run: DetailRun = {},
): Promise<DetailedImage[]> {
  const p = checkDetailOptions(options);
  const arch =
    spec.model.arch ??
    (await detectArch({ pretrained_model_name_or_path: spec.model.path, sdxl: null, v2: null }));
  const size = p.size ?? (arch === "sdxl" ? 1024 : 512);
  const work = await mkdtemp(join(tmpdir(), "danlu-detail-"));
  try {
    const found = await findFaces(images, p, work, run);
    const current = found.map((f) => f.image.path);
    const rounds = Math.max(0, ...found.map((f) => f.masks.length));
    for (let r = 0; r < rounds; r++) {
      const which = found.flatMap((f, i) => (f.masks.length > r ? [i] : []));
      const jobs = which.map((i) => {
        const { image, masks } = found[i]!;
        const job = spec.jobs[image.job];
        if (!job) throw new Error(`image ${image.path}: no job ${image.job} in the spec`);
        // ADetailer gives the n-th face seed + n
        return faceJob(job, p, {
          init: current[i]!,
          mask: masks[r]!,
          seed: image.seed + r,
          size,
          prefix: `face${r}-${i}`,
        });
      });
      const done = await runGenerate(
        { ...spec, output: { dir: join(work, `round${r}`) }, jobs },
        run.onEvent ?? (() => {}),
        run.signal ? { signal: run.signal } : {},
      );
      const written = (done.data?.images ?? []) as { path: string; job: number }[];
      for (const out of written) current[which[out.job]!] = out.path;
    }
    return await Promise.all(found.map(async (f, i) => finish(f, current[i]!, detailFields(p, size, f))));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The repainted pixels under the image's own name, its parameters text with ADetailer's keys. */
async function finish(f: Found, repainted: string, fields: [string, string][]): Promise<DetailedImage> {
  if (f.masks.length === 0) return { path: f.image.path, faces: 0, parameters: null };
  const own = readPngText(await readFile(f.image.path)).get("parameters");
  const bytes = await readFile(repainted);
  // a picture without danlu's text (a photo given to the library) keeps what the face pass's engine wrote
  const parameters = addDetailFields(own ?? readPngText(bytes).get("parameters") ?? "", fields);
  const tmp = `${f.image.path}.detail.tmp`;
  await writeFile(tmp, withPngText(bytes, "parameters", parameters));
  await rename(tmp, f.image.path);
  return { path: f.image.path, faces: f.masks.length, parameters };
}
