import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import sharp from "sharp";
import { DanluError } from "../errors.ts";
import { canonicalPixels, encodePng, toRaw, writeNewFile } from "../dataset/images.ts";
import type { GenerateSpec } from "../engine/spec.ts";
import type { GenControlNet } from "../engine/spec-generate.ts";
import { readSafetensorsHeader } from "../lora/index.ts";
import { findKnownModel } from "../models-store/registry.ts";
import { detectArch } from "../training/arch.ts";
import { modelsDir } from "../models-store/store.ts";
import {
  checkPreprocessor,
  inferPreprocessor,
  PREPROCESSOR_INFO,
  preprocessorFolder,
  processorRes,
  runPreprocessor,
  type PreprocessorName,
} from "./preprocess/index.ts";

/**
 * ControlNet units for `danlu gen --controlnet MODEL:IMAGE[:weight[:start:end]]`: the flag, the model
 * (a file or folder, or a name in the model folder after `danlu models pull`), the preprocessor (given,
 * or inferred from the model's name as A1111 does), and the maps, written next to the images as
 * NNNNN-SEED-controlK-PREPROCESSOR.png before the engine starts.
 */
export interface ControlNetOptions {
  model: string;
  image: string;
  weight?: number; // default 1
  start?: number; // default 0
  end?: number; // default 1
  preprocessor?: string; // default: inferred from the model's name
}

export const CONTROLNET_DEFAULTS = { weight: 1, start: 0, end: 1 } as const;

function bad(message: string, hint: string): DanluError {
  return new DanluError(message, { code: "BAD_ARGUMENT", hint, exitCode: 2 });
}

/** `MODEL:IMAGE[:weight[:start:end]]`; numbers are taken from the end, so Windows drive letters need a path. */
export function parseControlNetFlag(text: string): ControlNetOptions {
  const parts = text.split(":");
  const numbers: number[] = [];
  while (parts.length > 2 && numbers.length < 3 && /^\s*-?[\d.]+\s*$/.test(parts[parts.length - 1] ?? "")) {
    numbers.unshift(Number(parts.pop()));
  }
  const usage = "Write --controlnet MODEL:IMAGE, MODEL:IMAGE:WEIGHT or MODEL:IMAGE:WEIGHT:START:END.";
  if (
    parts.length !== 2 ||
    numbers.length === 2 ||
    numbers.some((n) => !Number.isFinite(n)) ||
    !parts[0] ||
    !parts[1]
  )
    throw bad(`--controlnet ${text}: expected MODEL:IMAGE[:weight[:start:end]].`, usage);
  const [weight, start, end] = numbers;
  return {
    model: parts[0],
    image: parts[1],
    ...(weight !== undefined ? { weight } : {}),
    ...(start !== undefined && end !== undefined ? { start, end } : {}),
  };
}

/** `--control-preprocessor` given once applies to every unit; else once per unit, in order. */
export function assignPreprocessors(units: ControlNetOptions[], names: string[]): ControlNetOptions[] {
  if (names.length === 0) return units;
  if (names.length !== 1 && names.length !== units.length)
    throw bad(
      `${names.length} --control-preprocessor values for ${units.length} --controlnet units.`,
      "Give one (it applies to every unit) or one per --controlnet, in the same order.",
    );
  return units.map((u, i) => ({ ...u, preprocessor: names.length === 1 ? names[0] : names[i] }));
}

/** The ControlNet model file or folder: a path, or NAME in the model folder (`danlu models pull NAME`). */
export function resolveControlNetModel(model: string, dir?: string): { path: string; name: string } {
  const asPath = resolve(model);
  const pulled = join(modelsDir(dir), model);
  const path = existsSync(asPath) ? asPath : existsSync(pulled) ? pulled : undefined;
  if (!path) {
    const known = findKnownModel(model);
    throw new DanluError(
      `ControlNet model ${model}: no such file or folder${known ? ", and it is not installed" : ""}.`,
      {
        code: known ? "MODEL_MISSING" : "FILE_NOT_FOUND",
        hint: known
          ? `run: danlu models pull ${model}${dir ? ` --dir ${dir}` : ""}`
          : "Give a ControlNet .safetensors file, a diffusers ControlNet folder, or a name from `danlu models list`.",
      },
    );
  }
  if (statSync(path).isDirectory() && !existsSync(join(path, "config.json"))) {
    // a pulled single file sits alone in its folder: use the file, named after the folder
    const files = readdirSync(path).filter((f) => [".safetensors", ".pth", ".ckpt"].includes(extname(f)));
    if (files.length === 1) return { path: join(path, files[0]!), name: basename(path) };
  }
  return { path, name: basename(path, extname(path)) };
}

/** The spec's units of one job; the maps are made later (prepareControlMaps), so `image` is the input. */
export function controlNetUnits(
  units: ControlNetOptions[],
  width: number,
  height: number,
  dir?: string,
): GenControlNet[] {
  return units.map((u, k) => {
    const p = { ...CONTROLNET_DEFAULTS, ...u };
    const flag = `--controlnet #${k + 1}`;
    if (!(p.weight >= 0 && p.weight <= 10))
      throw bad(`${flag}: weight ${p.weight} must be between 0 and 10.`, "1 is full strength.");
    if (!(p.start >= 0 && p.start < p.end && p.end <= 1))
      throw bad(
        `${flag}: start ${p.start} and end ${p.end} must satisfy 0 <= start < end <= 1.`,
        "0:1 acts on every step.",
      );
    if (!existsSync(resolve(p.image)))
      throw new DanluError(`${flag}: image ${p.image}: no such file.`, { code: "FILE_NOT_FOUND" });
    const model = resolveControlNetModel(p.model, dir);
    const pre = p.preprocessor
      ? checkPreprocessor(p.preprocessor, "--control-preprocessor")
      : inferPreprocessor(model.name);
    const [a, b] = PREPROCESSOR_INFO[pre].thresholds;
    return {
      model: model.path,
      name: model.name,
      image: resolve(p.image),
      module: PREPROCESSOR_INFO[pre].module,
      weight: p.weight,
      start: p.start,
      end: p.end,
      processor_res: processorRes(pre, width, height),
      threshold_a: a,
      threshold_b: b,
    };
  });
}

function preprocessorOf(module: string): PreprocessorName {
  const entry = Object.entries(PREPROCESSOR_INFO).find(([, info]) => info.module === module);
  if (!entry) throw new DanluError(`unknown ControlNet module ${module}`);
  return entry[0] as PreprocessorName;
}

/** Whether a ControlNet is an SDXL one, from its config.json or safetensors header (a .pth: unknown). */
async function controlNetIsSdxl(path: string): Promise<boolean | undefined> {
  if (statSync(path).isDirectory()) {
    const config = JSON.parse(readFileSync(join(path, "config.json"), "utf8")) as Record<string, unknown>;
    return config.addition_embed_type === "text_time";
  }
  if (!path.endsWith(".safetensors")) return undefined;
  const names = Object.keys((await readSafetensorsHeader(path)).tensors);
  return names.some((n) => n.includes("label_emb.") || n.startsWith("add_embedding."));
}

const ARCH_NAMES = { sd15: "SD1.5", sd2: "SD2.x", sdxl: "SDXL" } as const;

/**
 * An SDXL ControlNet on an SD1.x/2.x model (or the reverse), refused before the engine loads anything; the
 * engine checks the exact fit (widths, SD1 vs SD2) when it loads the weights, with the same wording.
 */
export async function checkControlNetArchs(spec: GenerateSpec): Promise<void> {
  const units = spec.jobs.flatMap((j) => j.controlnets);
  if (units.length === 0) return;
  const arch =
    spec.model.arch ??
    (await detectArch({ pretrained_model_name_or_path: spec.model.path, sdxl: null, v2: null }));
  for (const unit of units) {
    const sdxl = await controlNetIsSdxl(unit.model);
    if (sdxl === undefined || sdxl === (arch === "sdxl")) continue;
    throw new DanluError(
      `ControlNet ${unit.name} is for ${sdxl ? "SDXL" : "SD1.x/2.x"}; the model is ${ARCH_NAMES[arch]}.`,
      {
        code: "BAD_ARGUMENT",
        exitCode: 2,
        hint: `Use a ControlNet made for ${ARCH_NAMES[arch]}, or a ${sdxl ? "SDXL" : "SD1.5"} model.`,
      },
    );
  }
}

/** Checks that every preprocessor model is installed (before any work), naming `danlu models pull NAME`. */
export async function checkPreprocessorModels(spec: GenerateSpec, dir?: string): Promise<void> {
  for (const unit of spec.jobs.flatMap((j) => j.controlnets))
    await preprocessorFolder(preprocessorOf(unit.module), dir);
}

/**
 * Runs each unit's preprocessor on its image (centre-cropped and resized to the job's size, A1111's
 * "Crop and Resize") and writes the map next to the images; the returned spec points at the maps.
 */
export async function prepareControlMaps(spec: GenerateSpec, dir?: string): Promise<GenerateSpec> {
  if (spec.jobs.some((job) => job.inpaint && job.controlnets.length > 0))
    throw bad(
      "--controlnet with --mask (inpainting) is not supported yet.",
      "Use ControlNet with txt2img, img2img (--init-image) or hires fix, or inpaint without it.",
    );
  await checkControlNetArchs(spec);
  await checkPreprocessorModels(spec, dir);
  const jobs = [];
  for (const job of spec.jobs) {
    const controlnets = [];
    for (const [k, unit] of job.controlnets.entries()) {
      const pre = preprocessorOf(unit.module);
      if (pre === "none") {
        controlnets.push(unit);
        continue;
      }
      const pixels = canonicalPixels(unit.image, { r: 0, g: 0, b: 0 }).resize(job.width, job.height, {
        fit: "cover",
      });
      const map = await runPreprocessor(pre, await toRaw(pixels, 3), dir);
      const path = join(spec.output.dir, `${job.file_prefix}-${job.seed}-control${k}-${pre}.png`);
      const png = await encodePng(
        sharp(map.data, { raw: { width: map.width, height: map.height, channels: 3 } }),
      );
      await writeNewFile(path, png).catch((error: NodeJS.ErrnoException) => {
        if (error.code === "EEXIST")
          throw new DanluError(`${path} already exists; danlu does not overwrite images.`);
        throw error;
      });
      controlnets.push({ ...unit, image: path });
    }
    jobs.push({ ...job, controlnets });
  }
  return { ...spec, jobs };
}
