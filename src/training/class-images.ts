import { createHash } from "node:crypto";
import { existsSync, openSync, readSync, closeSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TrainConfig } from "../config/index.ts";
import type { KohyaDataset, KohyaSubset } from "../dataset/kohya/index.ts";
import type { Arch, GenerateSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { runGenerate } from "../generate/gen.ts";
import { parsePrompt } from "../generate/prompt.ts";
import { canonicalSampler } from "../generate/samplers.ts";

const WEIGHT_FILE = /\.(safetensors|ckpt|bin|pt|pth)$/i;
const SAMPLE_OFFSET = 0x100000; // as A1111's legacy model hash: 64 KiB read at 1 MiB into the file
const SAMPLE_BYTES = 0x10000;

function sampleOf(file: string): Buffer {
  const buffer = Buffer.alloc(SAMPLE_BYTES);
  const fd = openSync(file, "r");
  try {
    const size = statSync(file).size;
    const read = readSync(
      fd,
      buffer,
      0,
      SAMPLE_BYTES,
      size > SAMPLE_OFFSET + SAMPLE_BYTES ? SAMPLE_OFFSET : 0,
    );
    return buffer.subarray(0, read);
  } catch {
    return buffer.subarray(0, 0);
  } finally {
    closeSync(fd);
  }
}

function weightFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: "utf8" })
    .filter((f) => WEIGHT_FILE.test(f))
    .sort()
    .map((f) => join(path, f));
}

/**
 * A fast identity of a model file or folder (cheap on multi-GB files): each weight file's size and a
 * 64 KiB sample of its bytes, hashed together. A different checkpoint gives a different value.
 */
export function modelFingerprint(path: string): string {
  const hash = createHash("sha256");
  const root = resolve(path);
  for (const file of weightFiles(root)) {
    hash.update(`${file.slice(root.length)}|${statSync(file).size}|`);
    hash.update(sampleOf(file));
  }
  return hash.digest("hex").slice(0, 16);
}

export interface ClassImageRequest {
  prompt: string;
  negative: string;
  width: number;
  height: number;
  seed: number;
  steps: number;
  sampler: string;
}

/** The cache folder's name: one per model (and VAE), prompt, size, seed, steps and sampler. */
export function classImagesKey(model: string, request: ClassImageRequest): string {
  return createHash("sha256")
    .update(JSON.stringify([model, request]))
    .digest("hex")
    .slice(0, 16);
}

/** File i of a cache folder (the engine writes {file_prefix}-{seed}.png). */
export function classImageFile(index: number, seed: number): string {
  return `class-${String(index).padStart(5, "0")}-${seed + index}.png`;
}

function requestOf(config: TrainConfig): ClassImageRequest {
  const prompt = config.class_prompt?.trim() ?? "";
  if (prompt === "") {
    throw new DanluError("class_images_target is set but class_prompt is empty", {
      code: "CONFIG_CONFLICT",
      hint: 'set class_prompt to what the subject is an instance of (e.g. class_prompt = "photo of a woman")',
    });
  }
  const sampler = canonicalSampler(config.class_images_sampler);
  if (!sampler) {
    throw new DanluError(
      `class_images_sampler "${config.class_images_sampler}" is not a sampler danlu knows`,
      {
        hint: 'use an A1111 sampler name such as "DPM++ 2M Karras" or "Euler a"',
      },
    );
  }
  const [width, height] = config.resolution;
  const negative = config.class_negative_prompt;
  return { prompt, negative, width, height, seed: config.seed, steps: config.class_images_steps, sampler };
}

/** The generate spec for the missing files `indices` of the cache folder `dir`. */
export function classImagesSpec(
  config: TrainConfig,
  arch: Arch,
  request: ClassImageRequest,
  dir: string,
  indices: number[],
): GenerateSpec {
  const prompt = parsePrompt(request.prompt);
  const negative = parsePrompt(request.negative);
  const job = {
    prompt: { text: prompt.text, sections: prompt.sections },
    negative: { text: negative.text, sections: negative.sections },
    loras: [],
    sampler: request.sampler,
    steps: request.steps,
    cfg: 7,
    width: request.width,
    height: request.height,
    batch_count: 1,
    batch_size: 1,
    clip_skip: config.clip_skip,
    init_image: null,
    strength: 0.75,
    inpaint: null,
    hires: null,
    controlnets: [],
  };
  return {
    version: 1,
    model: {
      path: resolve(config.pretrained_model_name_or_path),
      arch,
      v_prediction: config.v_parameterization ?? null,
      vae_path: config.vae ? resolve(config.vae) : null,
    },
    device: config.device,
    precision: config.mixed_precision,
    embeddings: [],
    output: { dir },
    jobs: indices.map((i) => ({
      ...job,
      seed: request.seed + i,
      file_prefix: `class-${String(i).padStart(5, "0")}`,
    })),
  };
}

export type Generate = (spec: GenerateSpec) => Promise<unknown>;

/**
 * The dataset with generated class images added as a regularization subset when reg_data_dir has fewer
 * than class_images_target images (unchanged otherwise). Only files missing from the cache are generated.
 */
export async function addClassImages(
  config: TrainConfig,
  arch: Arch,
  dataset: KohyaDataset,
  generate: Generate = (spec) => runGenerate(spec, () => {}),
  /** Plan with the images that would be generated, without generating them (--dry-run, --export-kohya). */
  dryRun = false,
): Promise<KohyaDataset> {
  if (config.class_images_target === 0) return dataset;
  const have = dataset.subsets.filter((s) => s.isReg).reduce((sum, s) => sum + s.images.length, 0);
  const missing = config.class_images_target - have;
  if (missing <= 0) return dataset;
  const request = requestOf(config);
  const model = [config.pretrained_model_name_or_path, config.vae]
    .filter((p) => p)
    .map((p) => modelFingerprint(p!));
  const dir = resolve(config.output_dir, "class_images", classImagesKey(model.join("+"), request));
  const indices = Array.from({ length: missing }, (_, i) => i);
  const todo = indices.filter((i) => !existsSync(join(dir, classImageFile(i, request.seed))));
  if (todo.length > 0 && !dryRun) await generate(classImagesSpec(config, arch, request, dir, todo));
  const subset: KohyaSubset = {
    dir,
    name: request.prompt,
    repeats: 1,
    isReg: true,
    images: indices.map((i) => ({
      path: join(dir, classImageFile(i, request.seed)),
      width: request.width,
      height: request.height,
      caption: request.prompt,
    })),
  };
  const note = `${missing} class images from "${request.prompt}" in ${dir} (${todo.length} ${dryRun ? "to generate when training starts" : "generated now"})`;
  return { ...dataset, subsets: [...dataset.subsets, subset], warnings: [...dataset.warnings, note] };
}
