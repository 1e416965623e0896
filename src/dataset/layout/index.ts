import { join, relative, resolve } from "node:path";
import type { Size } from "../buckets.ts";
import { readKohyaDataset } from "../kohya/index.ts";
import { listImages } from "../kohya/images.ts";
import type { Arch } from "../../engine/spec.ts";
import { DanluError } from "../../errors.ts";
import { DEFAULT_CAPTION_OPTIONS } from "../../training/captions.ts";
import { checkBucketSettings } from "../../training/plan-checks.ts";
import { buildPlan, type TrainPlan } from "../../training/plan.ts";
import { REG_FOLDER, balanceRepeats, subsetFolderName, type ConceptSource } from "./plan.ts";
import { writeLayout, type LayoutFolder, type WriteSummary } from "./write.ts";

export { DEFAULT_SAMPLES_PER_CONCEPT, parseConcepts, parseReg, parseRepeats } from "./plan.ts";

/** The training settings the step count and buckets depend on (defaults: src/config/schema.ts). */
export interface LayoutTraining {
  arch: Arch;
  epochs: number;
  batchSize: number;
  resolution: Size;
  minBucketReso: number;
  maxBucketReso: number;
  bucketResoSteps: number;
  bucketNoUpscale: boolean;
}

export interface LayoutOptions {
  concepts: ConceptSource[];
  /** Repeats given explicitly, by concept name; the others are balanced. */
  repeats: ReadonlyMap<string, number>;
  reg: ConceptSource | null;
  out: string;
  captionExtension: string;
  replace: boolean;
  training: LayoutTraining;
}

export interface LayoutImage {
  /** Relative to the output folder. */
  file: string;
  isReg: boolean;
  size: Size;
  bucket: Size;
  /** Size after the resize that covers the bucket. */
  resized: Size;
  /** resized / original (> 1: enlarged). */
  scale: number;
  /** Pixels cut off after the resize, [width, height]. */
  cropped: Size;
  /** Share of the resized image cut off, 0..1. */
  croppedShare: number;
}

export interface LayoutResult {
  out: string;
  folders: {
    folder: string;
    name: string;
    isReg: boolean;
    images: number;
    repeats: number;
    perEpoch: number;
  }[];
  written: WriteSummary;
  /** Source files in image formats sd-scripts does not read, left out. */
  skipped: string[];
  plan: Pick<
    TrainPlan,
    "stepsPerEpoch" | "totalSteps" | "numEpochs" | "batchSize" | "buckets" | "bucketSettings"
  >;
  images: LayoutImage[];
  warnings: string[];
}

async function sourceImages(source: ConceptSource, flag: string) {
  let listed;
  try {
    listed = await listImages(source.dir);
  } catch (error) {
    throw new DanluError(`${flag} ${source.name}=${source.dir}: cannot read the folder`, {
      hint: "give a folder of images (danlu data import prepares one)",
      cause: error,
    });
  }
  if (listed.images.length === 0) {
    throw new DanluError(`${flag} ${source.name}=${source.dir}: no images sd-scripts can read`, {
      hint: "PNG, JPEG, WebP or BMP images directly in that folder (danlu data import converts others)",
    });
  }
  return { ...listed, skipped: listed.skipped.map((name) => join(source.dir, name)) };
}

function describeImage(image: TrainPlan["images"][number], out: string): LayoutImage {
  const [width, height] = [image.width, image.height];
  const [rw, rh] = image.resized;
  const [bw, bh] = image.bucket;
  return {
    file: relative(out, image.path).split("\\").join("/"),
    isReg: image.is_reg,
    size: [width, height],
    bucket: image.bucket,
    resized: image.resized,
    scale: rw / width,
    cropped: [rw - bw, rh - bh],
    croppedShare: 1 - (bw * bh) / (rw * rh),
  };
}

/** Writes a kohya train_data_dir from concept folders, then plans it as training will (steps, buckets). */
export async function layoutDataset(options: LayoutOptions): Promise<LayoutResult> {
  const out = resolve(options.out);
  const settings = planOptions(options.training);
  checkBucketSettings(settings.arch, settings); // before anything is written
  const sources = [];
  for (const concept of options.concepts)
    sources.push({ concept, ...(await sourceImages(concept, "--concept")) });
  const reg = options.reg ? await sourceImages(options.reg, "--reg") : null;

  const counts = new Map(sources.map((s) => [s.concept.name, s.images.length]));
  const repeats = balanceRepeats(counts, options.repeats);
  const folders: LayoutFolder[] = sources.map((s) => ({
    folder: subsetFolderName(repeats.get(s.concept.name) ?? 1, s.concept.name),
    images: s.images,
  }));
  if (reg && options.reg) {
    folders.push({ folder: `${REG_FOLDER}/${subsetFolderName(1, options.reg.name)}`, images: reg.images });
  }
  const written = await writeLayout(out, folders, options);

  const regDir = reg ? join(out, REG_FOLDER) : null;
  const dataset = await readKohyaDataset({
    trainDataDir: out,
    regDataDir: regDir,
    captionExtension: options.captionExtension,
  });
  const plan = buildPlan(dataset, settings);
  // Our own reg folder sits inside train_data_dir without a repeat count: sd-scripts skips it, as it should.
  const ignoredReg = regDir ? `ignoring folder '${regDir}'` : null;
  return {
    out,
    folders: plan.subsets.map((s) => ({
      folder: relative(out, s.dir).split("\\").join("/"),
      name: s.name,
      isReg: s.isReg,
      images: s.imageCount,
      repeats: s.repeats,
      perEpoch: s.perEpoch,
    })),
    written,
    skipped: [...sources.flatMap((s) => s.skipped), ...(reg?.skipped ?? [])],
    plan,
    images: plan.images.map((image) => describeImage(image, out)),
    warnings: [...dataset.warnings, ...plan.warnings].filter((w) => !ignoredReg || !w.startsWith(ignoredReg)),
  };
}

function planOptions(training: LayoutTraining): Parameters<typeof buildPlan>[1] {
  return {
    arch: training.arch,
    batchSize: training.batchSize,
    maxTrainEpochs: training.epochs,
    gradientAccumulationSteps: 1,
    seed: 0,
    captions: DEFAULT_CAPTION_OPTIONS,
    flipAug: false,
    priorLossWeight: 1,
    resolution: training.resolution,
    enableBucket: true,
    minBucketReso: training.minBucketReso,
    maxBucketReso: training.maxBucketReso,
    bucketResoSteps: training.bucketResoSteps,
    bucketNoUpscale: training.bucketNoUpscale,
  };
}
