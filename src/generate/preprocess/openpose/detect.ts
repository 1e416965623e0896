import ort from "onnxruntime-node";
import type { RawImage } from "../../../dataset/images.ts";

/**
 * Person boxes with DWPose's YOLOX-L (yolox_l.onnx). Contract: input [1, 3, 640, 640] float32 RGB 0..255,
 * the image scaled to fit and padded with 114 at the right and bottom; output [1, 8400, 85]: per anchor
 * (strides 8, 16, 32) cx, cy, log w, log h on the grid, objectness, 80 class scores (already sigmoid).
 * Kept: class 0 (person), score objectness x person > 0.3 after NMS at IoU 0.45 (DWPose's values; its
 * NMS is per class, so only the person scores matter here).
 */
export const DETECT_SIZE = 640;
const STRIDES = [8, 16, 32];
const SCORE_MIN = 0.3;
const NMS_IOU = 0.45;

export type Box = [number, number, number, number]; // x1, y1, x2, y2 in image pixels

/** Bilinear sample of channel c at (x, y); outside the image: `fill`. */
export function sample(image: RawImage, x: number, y: number, c: number, fill: number): number {
  const { width: w, height: h, data } = image;
  if (x < -1 || y < -1 || x > w || y > h) return fill;
  const [x0, y0] = [Math.floor(x), Math.floor(y)];
  const [fx, fy] = [x - x0, y - y0];
  const at = (px: number, py: number) =>
    px < 0 || py < 0 || px >= w || py >= h ? fill : (data[(py * w + px) * 3 + c] ?? fill);
  const top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
  const bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

function detectorInput(image: RawImage): { input: Float32Array; ratio: number } {
  const ratio = Math.min(DETECT_SIZE / image.width, DETECT_SIZE / image.height);
  const plane = DETECT_SIZE * DETECT_SIZE;
  const input = new Float32Array(3 * plane).fill(114);
  const [rw, rh] = [Math.floor(image.width * ratio), Math.floor(image.height * ratio)];
  for (let y = 0; y < rh; y++)
    for (let x = 0; x < rw; x++)
      for (let c = 0; c < 3; c++)
        input[c * plane + y * DETECT_SIZE + x] = sample(
          image,
          (x + 0.5) / ratio - 0.5,
          (y + 0.5) / ratio - 0.5,
          c,
          114,
        );
  return { input, ratio };
}

function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const area = (r: Box) => (r[2] - r[0]) * (r[3] - r[1]);
  return (w * h) / (area(a) + area(b) - w * h || 1);
}

/** Decodes YOLOX rows (anchor-relative) into scored person boxes in image pixels. */
export function decodePersons(rows: Float32Array, ratio: number): { box: Box; score: number }[] {
  const found: { box: Box; score: number }[] = [];
  let anchor = 0;
  for (const stride of STRIDES) {
    const cells = DETECT_SIZE / stride;
    for (let gy = 0; gy < cells; gy++)
      for (let gx = 0; gx < cells; gx++, anchor++) {
        const r = anchor * 85;
        const score = (rows[r + 4] ?? 0) * (rows[r + 5] ?? 0);
        if (score <= SCORE_MIN) continue;
        const cx = ((rows[r] ?? 0) + gx) * stride;
        const cy = ((rows[r + 1] ?? 0) + gy) * stride;
        const w = Math.exp(rows[r + 2] ?? 0) * stride;
        const h = Math.exp(rows[r + 3] ?? 0) * stride;
        const box: Box = [
          (cx - w / 2) / ratio,
          (cy - h / 2) / ratio,
          (cx + w / 2) / ratio,
          (cy + h / 2) / ratio,
        ];
        found.push({ box, score });
      }
  }
  found.sort((a, b) => b.score - a.score);
  const kept: typeof found = [];
  for (const f of found) if (kept.every((k) => iou(k.box, f.box) <= NMS_IOU)) kept.push(f);
  return kept;
}

export async function detectPersons(session: ort.InferenceSession, image: RawImage): Promise<Box[]> {
  const { input, ratio } = detectorInput(image);
  const feeds = {
    [session.inputNames[0] ?? "images"]: new ort.Tensor("float32", input, [1, 3, DETECT_SIZE, DETECT_SIZE]),
  };
  const out = (await session.run(feeds))[session.outputNames[0] ?? ""];
  if (!out) return [];
  return decodePersons(out.data as Float32Array, ratio).map((p) => p.box);
}
