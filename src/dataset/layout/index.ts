import { join, relative, resolve } from "node:path";
import type { Size } from "../buckets.ts";
import { readKohyaDataset } from "../kohya/index.ts";
import { listImages } from "../kohya/images.ts";
import { IMAGE_EXTENSION_LIST } from "../kohya/assemble.ts";
import type { Arch } from "../../engine/spec.ts";
import { DanluError } from "../../errors.ts";
import { DEFAULT_CAPTION_OPTIONS } from "../../training/captions.ts";
import { checkBucketSettings } from "../../training/plan-checks.ts";
import { buildPlan, type TrainPlan } from "../../training/plan.ts";
import {
  REG_REPEATS,
  balanceRepeats,
  checkLayoutFolders,
  subsetFolderName,
  type ConceptSource,
} from "./plan.ts";
import { trainFlagsFor } from "./train-flags.ts";
import { checkLayoutTarget, writeLayout, type LayoutFolder, type WriteSummary } from "./write.ts";

export { DEFAULT_SAMPLES_PER_CONCEPT, parseConcepts, parseReg, parseRepeats } from "./plan.ts";

/** Epochs the step count assumes when none is given: the guides' "10 epochs, saving every epoch". */
export const DEFAULT_LAYOUT_EPOCHS = 10;

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
  /** The train_data_dir to write. */
  out: string;
  /** The reg_data_dir to write the reg images to (required with `reg`): beside `out`, never inside it. */
  regOut: string | null;
  captionExtension: string;
  replace: boolean;
  training: LayoutTraining;
}

export interface LayoutImage {
  /** Relative to its root: the train_data_dir, or the reg_data_dir for reg images. */
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
  regOut: string | null;
  folders: {
    /** Relative to its root, like LayoutImage.file. */
    folder: string;
    name: string;
    isReg: boolean;
    images: number;
    repeats: number;
    perEpoch: number;
  }[];
  written: WriteSummary;
  /** Source files in image formats danlu does not train on, left out. */
  skipped: string[];
  plan: Pick<
    TrainPlan,
    "stepsPerEpoch" | "totalSteps" | "numEpochs" | "batchSize" | "buckets" | "bucketSettings"
  >;
  images: LayoutImage[];
  warnings: string[];
  /** `danlu train` flags that train on this layout as planned (shell-quoted words). */
  trainFlags: string[];
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
    throw new DanluError(`${flag} ${source.name}=${source.dir}: no images danlu can train on`, {
      hint: `${IMAGE_EXTENSION_LIST} images directly in that folder (danlu data import converts others)`,
    });
  }
  return { ...listed, skipped: listed.skipped.map((name) => join(source.dir, name)) };
}

/** A path relative to its root (forward slashes): the reg_data_dir for reg images, else the train_data_dir. */
function underRoot(path: string, isReg: boolean, roots: { out: string; regOut: string | null }): string {
  return relative(isReg && roots.regOut ? roots.regOut : roots.out, path)
    .split("\\")
    .join("/");
}

function describeImage(image: TrainPlan["images"][number], file: string): LayoutImage {
  const [width, height] = [image.width, image.height];
  const [rw, rh] = image.resized;
  const [bw, bh] = image.bucket;
  return {
    file,
    isReg: image.is_reg,
    size: [width, height],
    bucket: image.bucket,
    resized: image.resized,
    scale: rw / width,
    cropped: [rw - bw, rh - bh],
    croppedShare: 1 - (bw * bh) / (rw * rh),
  };
}

/**
 * Writes a kohya train_data_dir from concept folders (and the reg images to their own reg_data_dir), then
 * plans it as training will (steps, buckets).
 */
export async function layoutDataset(options: LayoutOptions): Promise<LayoutResult> {
  const out = resolve(options.out);
  const regOut = options.regOut === null ? null : resolve(options.regOut);
  const settings = planOptions(options.training);
  // Everything that can be refused is checked before anything is written.
  checkLayoutFolders(out, regOut, options.reg !== null);
  checkBucketSettings(settings.arch, settings);
  await checkLayoutTarget(out, options.replace, "--out");
  if (regOut) await checkLayoutTarget(regOut, options.replace, "--reg-out");
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
  const writing = { captionExtension: options.captionExtension, replace: options.replace };
  const written = await writeLayout(out, folders, { ...writing, flag: "--out" });
  if (reg && regOut && options.reg) {
    const regFolder = { folder: subsetFolderName(REG_REPEATS, options.reg.name), images: reg.images };
    addSummary(written, await writeLayout(regOut, [regFolder], { ...writing, flag: "--reg-out" }));
  }

  const dataset = await readKohyaDataset({
    trainDataDir: out,
    regDataDir: regOut,
    captionExtension: options.captionExtension,
  });
  const plan = buildPlan(dataset, settings);
  const roots = { out, regOut };
  return {
    out,
    regOut,
    folders: plan.subsets.map((s) => ({
      folder: underRoot(s.dir, s.isReg, roots),
      name: s.name,
      isReg: s.isReg,
      images: s.imageCount,
      repeats: s.repeats,
      perEpoch: s.perEpoch,
    })),
    written,
    skipped: [...sources.flatMap((s) => s.skipped), ...(reg?.skipped ?? [])],
    plan,
    images: plan.images.map((image) => describeImage(image, underRoot(image.path, image.is_reg, roots))),
    warnings: [...dataset.warnings, ...plan.warnings],
    trainFlags: trainFlagsFor({ trainDataDir: out, regDataDir: regOut }, plan),
  };
}

function addSummary(total: WriteSummary, more: WriteSummary): void {
  total.linked += more.linked;
  total.copied += more.copied;
  total.captions += more.captions;
  total.uncaptioned.push(...more.uncaptioned);
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
