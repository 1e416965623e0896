import { makeBuckets } from "../buckets.ts";
import type { Box, Detection } from "./detector.ts";

/** Pure geometry of `danlu data crop`: from detections to one crop rectangle inside the image. */

export type CropMode = "face" | "upper-body" | "person";
export type MultiPolicy = "largest" | "skip";
/** `bucket`: the SD 1.5 bucket aspect nearest the subject's; otherwise a fixed width/height ratio. */
export type AspectChoice = "bucket" | number;

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface CropChoice {
  rect?: Rect;
  /** Why the image is skipped, when rect is absent. */
  reason?: string;
}

// Head-and-shoulders and whole-body extents in face heights, measured from typical portrait proportions
// (a standing adult is about 7.5 heads tall; shoulders are about 3 face widths across).
const UPPER_BODY = { width: 3.2, above: 0.6, below: 3.2 };
const WHOLE_BODY = { width: 3.6, above: 0.6, below: 7.2 };

/** Picks the subject for the mode and returns the crop rectangle, or why there is none. */
export function chooseCrop(
  detection: Detection,
  image: { width: number; height: number },
  options: { mode: CropMode; margin: number; aspect: AspectChoice; multi: MultiPolicy },
): CropChoice {
  const { faces, bodies } = detection;
  if (faces.length > 1 && options.multi === "skip") return { reason: `${faces.length} faces (--multi skip)` };
  const face = largest(faces);
  let subject: Box | undefined;
  if (options.mode === "face") subject = face;
  else if (options.mode === "upper-body") subject = face && extendFromFace(face, UPPER_BODY);
  else subject = personBox(face, largest(bodies));
  if (!subject) return { reason: options.mode === "person" ? "no person found" : "no face found" };
  const padded = pad(subject, options.margin);
  const aspect =
    options.aspect === "bucket" ? nearestBucketAspect(padded.width / padded.height) : options.aspect;
  return { rect: fitAspect(padded, aspect, image) };
}

function largest(boxes: readonly Box[]): Box | undefined {
  return [...boxes].sort((a, b) => b.width * b.height - a.width * a.height)[0];
}

function extendFromFace(face: Box, shape: { width: number; above: number; below: number }): Box {
  const centre = face.x + face.width / 2;
  const width = face.width * shape.width;
  const top = face.y - face.height * shape.above;
  return {
    x: centre - width / 2,
    y: top,
    width,
    height: face.y + face.height * shape.below - top,
    score: face.score,
  };
}

/** The body box when it holds the chosen face (or there is no face); otherwise a body estimated from the face. */
function personBox(face: Box | undefined, body: Box | undefined): Box | undefined {
  if (!face) return body;
  if (body && contains(body, face)) return body;
  return extendFromFace(face, WHOLE_BODY);
}

function contains(outer: Box, inner: Box): boolean {
  const cx = inner.x + inner.width / 2;
  const cy = inner.y + inner.height / 2;
  return cx >= outer.x && cx <= outer.x + outer.width && cy >= outer.y && cy <= outer.y + outer.height;
}

/** Grows the box by `margin` of its size on every side (0.3 = 30% more on the left, right, top, bottom). */
function pad(box: Box, margin: number): Box {
  return {
    x: box.x - box.width * margin,
    y: box.y - box.height * margin,
    width: box.width * (1 + 2 * margin),
    height: box.height * (1 + 2 * margin),
    score: box.score,
  };
}

/**
 * Widens or heightens the box (about its centre) to the aspect, shrinks it if it no longer fits the
 * image, then slides it inside the image. Whole pixels.
 */
export function fitAspect(box: Box, aspect: number, image: { width: number; height: number }): Rect {
  let width = box.width;
  let height = box.height;
  if (width / height < aspect) width = height * aspect;
  else height = width / aspect;
  const shrink = Math.min(1, image.width / width, image.height / height);
  width = Math.max(1, Math.floor(width * shrink));
  height = Math.max(1, Math.floor(height * shrink));
  const centreX = box.x + box.width / 2;
  const centreY = box.y + box.height / 2;
  const left = Math.round(Math.min(Math.max(centreX - width / 2, 0), image.width - width));
  const top = Math.round(Math.min(Math.max(centreY - height / 2, 0), image.height - height));
  return { left, top, width, height };
}

/**
 * Bucket aspects of SD 1.5 training at 512x512 (sides 256..1024 in steps of 64), from the same bucket
 * code the trainer uses. Cropping to one of them means the bucket resize will not crop the subject again.
 */
export function bucketAspects(): number[] {
  const buckets = makeBuckets({ resolution: [512, 512], minReso: 256, maxReso: 1024, step: 64 });
  return [...new Set(buckets.map(([width, height]) => width / height))].sort((a, b) => a - b);
}

export function nearestBucketAspect(aspect: number): number {
  const distance = (candidate: number): number => Math.abs(Math.log(candidate / aspect));
  return bucketAspects().reduce((best, candidate) =>
    distance(candidate) < distance(best) ? candidate : best,
  );
}

/** Parses `--aspect`: `bucket`, `1:1`, `2:3`, `3:2`, ... */
export function parseAspect(text: string): AspectChoice | undefined {
  if (text === "bucket") return "bucket";
  const match = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(text);
  if (!match) return undefined;
  const ratio = Number(match[1]) / Number(match[2]);
  return Number.isFinite(ratio) && ratio > 0 ? ratio : undefined;
}
