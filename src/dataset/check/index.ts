import { availableParallelism } from "node:os";
import { loadDetector } from "../crop/detector.ts";
import { listImages, mapPool } from "../images.ts";
import { findDuplicates, type DuplicatePair } from "./duplicates.ts";
import { measureImage, type ImageMeasure } from "./measure.ts";
import { DEFAULT_DUPLICATE_DISTANCE } from "./phash.ts";
import { DEFAULT_BLUR_THRESHOLD } from "./sharpness.ts";

export interface CheckOptions {
  /** Short side under this is flagged `small` (SD 1.5 trains at 512). @defaultValue 512 */
  minSide?: number;
  /** Long/short side above this is flagged `aspect`. @defaultValue 2 */
  maxAspect?: number;
  /** Sharpness under this is flagged `blurry`. @defaultValue 60 */
  blurThreshold?: number;
  /** pHash Hamming distance at or under this is a near-duplicate. @defaultValue 12 */
  duplicateDistance?: number;
  /** Count faces and people (the slowest part). @defaultValue true */
  detectPeople?: boolean;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export type CheckFlag = "unreadable" | "small" | "aspect" | "blurry" | "duplicate" | "several-people";

export interface ImageCheck extends ImageMeasure {
  flags: CheckFlag[];
  /** For a `duplicate`: the better image of the pair, which is kept. */
  duplicateOf?: string;
}

export interface CheckReport {
  dir: string;
  images: ImageCheck[];
  duplicates: DuplicatePair[];
  /** One line per kind of problem: how many and what to do. */
  summary: string[];
  settings: Required<Omit<CheckOptions, "concurrency" | "onProgress">>;
  seconds: number;
}

/** The thresholds `danlu data check` and the service's check job use when none is given. */
export const CHECK_DEFAULTS = {
  minSide: 512,
  maxAspect: 2,
  blurThreshold: DEFAULT_BLUR_THRESHOLD,
  duplicateDistance: DEFAULT_DUPLICATE_DISTANCE,
  detectPeople: true,
} as const;

/** `danlu data check`: measures every image in DIR (not in sub-folders such as _rejected/) and flags problems. */
export async function checkDataset(dir: string, options: CheckOptions = {}): Promise<CheckReport> {
  const started = performance.now();
  const settings = {
    minSide: options.minSide ?? CHECK_DEFAULTS.minSide,
    maxAspect: options.maxAspect ?? CHECK_DEFAULTS.maxAspect,
    blurThreshold: options.blurThreshold ?? CHECK_DEFAULTS.blurThreshold,
    duplicateDistance: options.duplicateDistance ?? CHECK_DEFAULTS.duplicateDistance,
    detectPeople: options.detectPeople ?? CHECK_DEFAULTS.detectPeople,
  };
  const detector = settings.detectPeople ? await loadDetector() : undefined;
  const files = await listImages(dir);
  let done = 0;
  const measures = await mapPool(files, options.concurrency ?? availableParallelism(), async (file) => {
    const measure = await measureImage(dir, file, detector);
    options.onProgress?.(++done, files.length);
    return measure;
  });
  const duplicates = findDuplicates(
    measures.filter((m) => !m.error),
    settings.duplicateDistance,
  );
  const images = measures.map((measure) => flagImage(measure, settings));
  const byFile = new Map(images.map((image) => [image.file, image]));
  for (const pair of duplicates) {
    const dropped = byFile.get(pair.drop);
    if (dropped && !dropped.flags.includes("duplicate")) {
      dropped.flags.push("duplicate");
      dropped.duplicateOf = pair.keep;
    }
  }
  return {
    dir,
    images,
    duplicates,
    summary: summarise(images, settings),
    settings,
    seconds: (performance.now() - started) / 1000,
  };
}

function flagImage(measure: ImageMeasure, settings: CheckReport["settings"]): ImageCheck {
  if (measure.error) return { ...measure, flags: ["unreadable"] };
  const flags: CheckFlag[] = [];
  const short = Math.min(measure.width, measure.height);
  const long = Math.max(measure.width, measure.height);
  if (short < settings.minSide) flags.push("small");
  if (long / short > settings.maxAspect) flags.push("aspect");
  if (measure.sharpness < settings.blurThreshold) flags.push("blurry");
  if ((measure.people ?? 0) > 1) flags.push("several-people");
  return { ...measure, flags };
}

const ADVICE: Record<CheckFlag, (n: number, s: CheckReport["settings"]) => string> = {
  unreadable: (n) => `${n} unreadable: --fix moves them to _rejected/`,
  small: (n, s) =>
    `${n} with the short side under ${s.minSide} px: danlu data upscale (at most 2x) or replace them`,
  aspect: (n, s) =>
    `${n} longer than ${s.maxAspect}:1: crop them (danlu data crop) so buckets do not cut the subject`,
  blurry: (n, s) =>
    `${n} blurry (sharpness under ${s.blurThreshold}): replace them; --fix moves them to _rejected/`,
  duplicate: (n) =>
    `${n} near-duplicates of a better image: --fix moves the worse of each pair to _rejected/`,
  "several-people": (n) => `${n} with more than one person: danlu data crop --multi largest, or remove them`,
};

function summarise(images: readonly ImageCheck[], settings: CheckReport["settings"]): string[] {
  const lines: string[] = [];
  for (const flag of Object.keys(ADVICE) as CheckFlag[]) {
    const count = images.filter((image) => image.flags.includes(flag)).length;
    if (count > 0) lines.push(ADVICE[flag](count, settings));
  }
  if (lines.length === 0) lines.push(`all ${images.length} images pass`);
  return lines;
}
