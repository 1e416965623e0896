import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import type { EngineDone } from "../engine/driver.ts";
import { runEngineToDone } from "../engine/run-to-done.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import type { Arch, GenerateSpec, GenJob, ParsedPrompt as SpecPrompt } from "../engine/spec.ts";
import type { MaskedContent } from "../engine/spec-generate.ts";
import { readImageSize } from "../dataset/kohya/images.ts";
import { parseLoraFlag, resolveLoras } from "./loras.ts";
import { parsePrompt, type ParsedPrompt } from "./prompt.ts";
import { A1111_SAMPLERS, canonicalSampler, refusedSamplerReason } from "./samplers.ts";
import { canonicalUpscaler, HIRES_UPSCALERS } from "./upscalers.ts";
import { controlNetUnits, prepareControlMaps, type ControlNetOptions } from "./controlnet.ts";

/** Inpainting of --init-image; unset fields take INPAINT_DEFAULTS. */
export interface InpaintOptions {
  mask: string; // white = repaint, black = keep; the init image's size
  maskBlur?: number;
  maskedContent?: MaskedContent;
  area?: "whole" | "masked"; // A1111 "Inpaint area": Whole picture | Only masked
  padding?: number; // px around the mask with area "masked"
}

/** A1111's hires fix (txt2img); unset fields take HIRES_DEFAULTS. */
export interface HiresOptions {
  scale: number;
  steps?: number; // 0: --steps
  denoising?: number;
  upscaler?: string;
}

export interface GenOptions {
  model: string;
  arch?: Arch;
  prompt: string;
  negative: string;
  loras: string[]; // --lora FILE[:weight]
  loraDir?: string;
  embeddingsDir?: string;
  sampler: string;
  steps: number;
  cfg: number;
  width: number;
  height: number;
  seed: number; // -1: random
  batchCount: number;
  batchSize: number;
  clipSkip: number;
  initImage?: string;
  strength: number;
  inpaint?: InpaintOptions;
  hires?: HiresOptions;
  controlnets?: ControlNetOptions[]; // --controlnet units, in order
  modelsDir?: string; // where ControlNet and preprocessor models are found by name (default: modelsDir())
  out: string;
  device: "auto" | "cpu" | "cuda";
  precision: "no" | "fp16" | "bf16";
}

/** What `danlu gen` and the service's gen job use for every setting not given. */
export const GEN_DEFAULTS = {
  negative: "",
  sampler: "DPM++ 2M Karras",
  steps: 20,
  cfg: 7,
  width: 512,
  height: 512,
  seed: -1,
  batchCount: 1,
  batchSize: 1,
  clipSkip: 1,
  strength: 0.75,
  device: "auto",
  precision: "no",
} as const satisfies Partial<GenOptions>;

/** A1111's inpainting defaults. */
export const INPAINT_DEFAULTS = {
  maskBlur: 4,
  maskedContent: "original",
  area: "whole",
  padding: 32,
} as const satisfies Omit<Required<InpaintOptions>, "mask">;

/** A1111's hires-fix defaults. */
export const HIRES_DEFAULTS = {
  steps: 0,
  denoising: 0.7,
  upscaler: "Latent",
} as const satisfies Omit<Required<HiresOptions>, "scale">;

function bad(message: string, hint: string): DanluError {
  return new DanluError(message, { code: "BAD_ARGUMENT", hint, exitCode: 2 });
}

function toSpecPrompt(parsed: ParsedPrompt): SpecPrompt {
  return { text: parsed.text, sections: parsed.sections };
}

/** Embedding files in DIR whose file name appears as a word in the prompt or negative (A1111 style). */
export function usedEmbeddings(dir: string | undefined, texts: string[]): string[] {
  if (!dir) return [];
  const full = resolve(dir);
  if (!existsSync(full))
    throw bad(`--embeddings ${dir}: no such folder.`, "Give the folder of .safetensors/.pt embeddings.");
  const files = readdirSync(full).filter((f) => [".safetensors", ".pt"].includes(extname(f).toLowerCase()));
  return files
    .filter((f) => {
      const name = basename(f, extname(f)).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      return texts.some((t) => new RegExp(`(?<![\\w-])${name}(?![\\w-])`).test(t));
    })
    .map((f) => join(full, f));
}

/** The next free A1111-style image number in DIR ("00007-1234.png" -> 8). */
export function nextImageNumber(dir: string): number {
  if (!existsSync(dir)) return 0;
  const numbers = readdirSync(dir)
    .map((f) => /^(\d{5})-/.exec(f)?.[1])
    .filter((n) => n !== undefined);
  return numbers.length === 0 ? 0 : Math.max(...numbers.map(Number)) + 1;
}

function checkOptions(o: GenOptions): string {
  const sampler = canonicalSampler(o.sampler);
  const refused = refusedSamplerReason(o.sampler);
  if (refused) throw bad(`--sampler "${o.sampler}" is not available.`, refused);
  if (!sampler)
    throw bad(
      `--sampler "${o.sampler}" is not a sampler danlu knows.`,
      `Use one of: ${A1111_SAMPLERS.join(", ")}.`,
    );
  if (o.width % 8 !== 0 || o.height % 8 !== 0 || o.width < 8 || o.height < 8) {
    throw bad(
      `--width ${o.width} --height ${o.height}: the size must be a multiple of 8.`,
      "For example 512x768 or 1024x1024.",
    );
  }
  if (!(o.strength >= 0 && o.strength <= 1))
    throw bad(`--strength ${o.strength} must be between 0 and 1.`, "0.6 keeps the layout.");
  if (!existsSync(resolve(o.model))) {
    throw new DanluError(`--model ${o.model}: no such file or folder.`, {
      code: "FILE_NOT_FOUND",
      hint: "Give a .safetensors/.ckpt checkpoint or a diffusers model folder.",
    });
  }
  if (o.initImage && !existsSync(resolve(o.initImage))) {
    throw new DanluError(`--init-image ${o.initImage}: no such file.`, { code: "FILE_NOT_FOUND" });
  }
  return sampler;
}

function inpaintBlock(o: GenOptions): GenJob["inpaint"] {
  if (!o.inpaint) return null;
  const p = { ...INPAINT_DEFAULTS, ...o.inpaint };
  if (!o.initImage)
    throw bad("--mask needs --init-image: the picture the mask is drawn on.", "Add --init-image FILE.");
  if (!existsSync(resolve(p.mask)))
    throw new DanluError(`--mask ${p.mask}: no such file.`, { code: "FILE_NOT_FOUND" });
  for (const [flag, value] of [
    ["--mask-blur", p.maskBlur],
    ["--mask-padding", p.padding],
  ] as const) {
    if (!(Number.isInteger(value) && value >= 0))
      throw bad(`${flag} ${value} must be a whole number >= 0.`, "In pixels.");
  }
  return {
    mask: resolve(p.mask),
    mask_blur: p.maskBlur,
    masked_content: p.maskedContent,
    only_masked: p.area === "masked",
    padding: p.padding,
  };
}

function hiresBlock(o: GenOptions): GenJob["hires"] {
  if (!o.hires) return null;
  const p = { ...HIRES_DEFAULTS, ...o.hires };
  if (o.initImage) {
    throw bad(
      "--hr-scale is for txt2img: img2img and inpainting have no hires pass (as in A1111).",
      "Leave out --hr-scale, or give the larger size as --width/--height.",
    );
  }
  const upscaler = canonicalUpscaler(p.upscaler);
  if (!upscaler)
    throw bad(
      `--hr-upscaler "${p.upscaler}" is not an upscaler danlu knows.`,
      `Use one of: ${HIRES_UPSCALERS.join(", ")}.`,
    );
  if (!(p.scale >= 1 && p.scale <= 8))
    throw bad(`--hr-scale ${p.scale} must be between 1 and 8.`, "2 doubles the size.");
  if (!(p.denoising > 0 && p.denoising <= 1))
    throw bad(`--hr-denoising ${p.denoising} must be above 0 and at most 1.`, "0.7 is A1111's default.");
  if (!(Number.isInteger(p.steps) && p.steps >= 0))
    throw bad(`--hr-steps ${p.steps} must be a whole number >= 0.`, "0 uses --steps.");
  // A1111 multiplies then truncates; the UNet needs multiples of 8 (64 px for SDXL's latents would be 8)
  const size = (px: number) => Math.floor((px * p.scale) / 8) * 8;
  return {
    scale: p.scale,
    width: size(o.width),
    height: size(o.height),
    steps: p.steps,
    denoising: p.denoising,
    upscaler,
  };
}

/** A mask must have its init image's size (after EXIF orientation): checked here, before the engine starts. */
export async function checkMaskSizes(spec: GenerateSpec): Promise<void> {
  for (const job of spec.jobs) {
    if (!job.inpaint || !job.init_image) continue;
    const [init, mask] = [await readImageSize(job.init_image), await readImageSize(job.inpaint.mask)];
    for (const [flag, size] of [
      ["--init-image", init],
      ["--mask", mask],
    ] as const) {
      if ("error" in size)
        throw new DanluError(`${flag} ${size.path} cannot be read: ${size.error}`, { code: "BAD_IMAGE" });
    }
    if ("error" in init || "error" in mask) continue;
    if (init.width !== mask.width || init.height !== mask.height) {
      throw new DanluError(
        `--mask ${mask.path} is ${mask.width}x${mask.height} but --init-image ${init.path} is ${init.width}x${init.height}: a mask must have the init image's size.`,
        {
          code: "BAD_ARGUMENT",
          exitCode: 2,
          hint: `Draw the mask over the init image itself, or resize it to ${init.width}x${init.height} (white = repaint, black = keep).`,
        },
      );
    }
  }
}

/** Everything `danlu gen` decides before the engine starts: the one-job generate spec. */
export function buildGenerateSpec(
  o: GenOptions,
  randomSeed = () => Math.floor(Math.random() * 2 ** 32),
): GenerateSpec {
  const sampler = checkOptions(o);
  const prompt = parsePrompt(o.prompt);
  const negative = parsePrompt(o.negative);
  const loras = resolveLoras(o.loras.map(parseLoraFlag), [...prompt.loras, ...negative.loras], o.loraDir);
  const out = resolve(o.out);
  const prefix = String(nextImageNumber(out)).padStart(5, "0");
  return {
    version: 1,
    model: { path: resolve(o.model), arch: o.arch ?? null, v_prediction: null, vae_path: null },
    device: o.device,
    precision: o.precision,
    embeddings: usedEmbeddings(o.embeddingsDir, [o.prompt, o.negative]),
    output: { dir: out },
    jobs: [
      {
        prompt: toSpecPrompt(prompt),
        negative: toSpecPrompt(negative),
        loras,
        sampler,
        steps: o.steps,
        cfg: o.cfg,
        width: o.width,
        height: o.height,
        seed: o.seed < 0 ? randomSeed() : o.seed,
        batch_count: o.batchCount,
        batch_size: o.batchSize,
        clip_skip: o.clipSkip,
        init_image: o.initImage ? resolve(o.initImage) : null,
        strength: o.strength,
        file_prefix: prefix,
        inpaint: inpaintBlock(o),
        hires: hiresBlock(o),
        controlnets: controlNetUnits(o.controlnets ?? [], o.width, o.height, o.modelsDir),
      },
    ],
  };
}

/** Runs the engine's generate command; onEvent sees every event (sample per image); `signal` cancels it. */
export async function runGenerate(
  spec: GenerateSpec,
  onEvent: (e: EngineEvent) => void,
  options: { signal?: AbortSignal; modelsDir?: string } = {},
): Promise<EngineDone> {
  await checkMaskSizes(spec);
  mkdirSync(spec.output.dir, { recursive: true });
  spec = await prepareControlMaps(spec, options.modelsDir); // maps next to the images; needs the folder
  const run = { onEvent, ...(options.signal ? { signal: options.signal } : {}) };
  return runEngineToDone("generate", spec, run, "Generation was cancelled.");
}
