import { join } from "node:path";
import { checkDataset, type CheckFlag, type CheckReport } from "../dataset/check/index.ts";
import { DanluError } from "../errors.ts";
import {
  analyzeFile,
  identitySimilarity,
  meanDescriptor,
  SAME_PERSON,
  type Face,
  type FaceAnalyzer,
} from "../faces/index.ts";

/**
 * Stages 1 and 2 of the portrait pipeline: which of the customer's photos train the LoRA. A photo is kept
 * when the dataset check finds nothing wrong with it (readable, large enough to upscale at most 2x, sharp,
 * not a near-duplicate), it shows one face (or one face that clearly dominates the others), that face is
 * large enough, and it is the same person as the rest (face identity against the group's mean).
 */

export interface SelectOptions {
  /** The short side a photo needs: training size / 2, since upscaling stops at 2x. @defaultValue 256 */
  minSide?: number;
  /** Fewest good photos to train on. @defaultValue 5 */
  minPhotos?: number;
  /** A second face this many times smaller (by area) than the largest does not count. @defaultValue 3 */
  dominance?: number;
  /** A face's box side at least this share of the photo's short side. @defaultValue 0.08 */
  minFaceShare?: number;
  onProgress?: (done: number, total: number) => void;
}

export const SELECT_DEFAULTS = { minSide: 256, minPhotos: 5, dominance: 3, minFaceShare: 0.08 } as const;

export interface KeptPhoto {
  file: string;
  face: Face;
  /** Identity similarity to the mean of the kept photos (0-1). */
  identity: number;
  /** Set when the photo had other, much smaller faces (the largest was kept). */
  note?: string;
}

export type DropReason =
  | "unreadable"
  | "small"
  | "blurry"
  | "duplicate"
  | "no-face"
  | "several-faces"
  | "small-face"
  | "other-person";

export interface DroppedPhoto {
  file: string;
  reason: DropReason;
  /** One sentence for the report. */
  detail: string;
}

export interface Selection {
  kept: KeptPhoto[];
  dropped: DroppedPhoto[];
  /** The kept photos' mean face descriptor: the customer's identity, for ranking. */
  identity: Float32Array;
}

const CHECK_REASONS: Partial<Record<CheckFlag, DropReason>> = {
  unreadable: "unreadable",
  small: "small",
  blurry: "blurry",
  duplicate: "duplicate",
};

/** Picks the photos of one person from the imported folder `dir` (its files, not sub-folders). */
export async function selectPhotos(
  dir: string,
  analyzer: FaceAnalyzer,
  options: SelectOptions = {},
): Promise<Selection> {
  const o = { ...SELECT_DEFAULTS, ...options };
  const check = await checkDataset(dir, { minSide: o.minSide, detectPeople: false });
  const dropped: DroppedPhoto[] = [];
  const candidates: { file: string; face: Face; note?: string }[] = [];
  let done = 0;
  for (const image of check.images) {
    const flag = image.flags.find((f) => CHECK_REASONS[f]);
    if (flag) {
      dropped.push({
        file: image.file,
        reason: CHECK_REASONS[flag]!,
        detail: checkDetail(flag, image, check.settings),
      });
    } else {
      const faces = await analyzeFile(analyzer, join(dir, image.file));
      const verdict = judgeFaces(faces, Math.min(image.width, image.height), o);
      if ("reason" in verdict) dropped.push({ file: image.file, ...verdict });
      else candidates.push({ file: image.file, ...verdict });
    }
    o.onProgress?.(++done, check.images.length);
  }
  const { kept, others } = sameperson(candidates);
  dropped.push(...others);
  if (kept.length < o.minPhotos) throw tooFew(kept.length, o.minPhotos, dropped);
  return { kept, dropped, identity: meanDescriptor(kept.map((k) => k.face.descriptor)) };
}

function checkDetail(
  flag: CheckFlag,
  image: { width: number; height: number; sharpness: number; duplicateOf?: string; error?: string },
  settings: CheckReport["settings"],
): string {
  switch (flag) {
    case "unreadable":
      return `cannot be read (${image.error ?? "not an image"})`;
    case "small":
      return `${image.width}x${image.height} px: the short side is under ${settings.minSide} px (it would need more than 2x upscaling)`;
    case "blurry":
      return `blurry (sharpness ${image.sharpness}; the check's line is ${settings.blurThreshold})`;
    default:
      return `a near-copy of ${image.duplicateOf ?? "another photo"} (that one is kept)`;
  }
}

type Verdict = { face: Face; note?: string } | { reason: DropReason; detail: string };

/** One face, or one that dominates; large enough in the photo. */
export function judgeFaces(
  faces: readonly Face[],
  shortSide: number,
  o: Required<Pick<SelectOptions, "dominance" | "minFaceShare">>,
): Verdict {
  const [largest, second] = faces;
  if (!largest) return { reason: "no-face", detail: "no face found" };
  const area = (f: Face) => f.box.width * f.box.height;
  if (second && area(largest) < o.dominance * area(second)) {
    return {
      reason: "several-faces",
      detail: `${faces.length} faces of similar size (a group photo): it is not clear who the customer is`,
    };
  }
  const side = Math.min(largest.box.width, largest.box.height);
  if (side < o.minFaceShare * shortSide) {
    return {
      reason: "small-face",
      detail: `the face is ${Math.round(side)} px, under ${Math.round(o.minFaceShare * 100)}% of the photo's short side`,
    };
  }
  return second
    ? { face: largest, note: `kept the largest of ${faces.length} faces (the others are much smaller)` }
    : { face: largest };
}

/**
 * The largest group of one person: each photo's similarity to the others' mean, photos under the
 * same-person line dropped, the most unlike first, until every kept photo is like the rest.
 */
function sameperson(candidates: readonly { file: string; face: Face; note?: string }[]): {
  kept: KeptPhoto[];
  others: DroppedPhoto[];
} {
  let kept = [...candidates];
  const others: DroppedPhoto[] = [];
  const score = (c: { face: Face }, group: readonly { face: Face }[]) => {
    const rest = group.filter((g) => g !== c);
    return rest.length === 0
      ? 1
      : identitySimilarity(c.face.descriptor, meanDescriptor(rest.map((g) => g.face.descriptor)));
  };
  for (;;) {
    const scored = kept.map((c) => ({ c, s: score(c, kept) })).sort((a, b) => a.s - b.s);
    const worst = scored[0];
    if (!worst || worst.s >= SAME_PERSON || kept.length <= 2) break;
    kept = kept.filter((c) => c !== worst.c);
    others.push({
      file: worst.c.file,
      reason: "other-person",
      detail: `somebody else: identity ${worst.s.toFixed(2)} against the other photos (same person from ${SAME_PERSON})`,
    });
  }
  return {
    kept: kept.map((c) => ({ ...c, identity: Math.round(score(c, kept) * 1000) / 1000 })),
    others,
  };
}

function tooFew(good: number, needed: number, dropped: readonly DroppedPhoto[]): DanluError {
  const reasons = dropped.map((d) => `  ${d.file}: ${d.detail}`).join("\n");
  return new DanluError(
    `only ${good} good photo${good === 1 ? "" : "s"} of one person; the portrait LoRA needs at least ${needed}` +
      (reasons ? `\ndropped:\n${reasons}` : ""),
    {
      code: "TOO_FEW_PHOTOS",
      hint: `add ${needed - good} or more photos of the same person: one face each, sharp, at least 512 px, different angles and light`,
    },
  );
}
