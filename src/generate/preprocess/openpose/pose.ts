import ort from "onnxruntime-node";
import type { RawImage } from "../../../dataset/images.ts";
import { sample, type Box } from "./detect.ts";

/**
 * Whole-body keypoints with DWPose (dw-ll_ucoco_384.onnx, RTMPose-style SimCC head). Contract: input
 * [1, 3, 384, 288] float32 RGB normalised by mean (123.675, 116.28, 103.53) and std (58.395, 57.12,
 * 57.375), the person's box grown 1.25x to the 288:384 aspect and warped to that size; outputs simcc_x
 * [1, 133, 576] and simcc_y [1, 133, 768]: per COCO-WholeBody keypoint a 1-D score over x and y at twice
 * the input resolution. A keypoint is at the arg-maxes; its score is the smaller of the two maxima.
 */
export const POSE_W = 288;
export const POSE_H = 384;
const SIMCC_SPLIT = 2;
const BOX_PADDING = 1.25;
const MEAN = [123.675, 116.28, 103.53];
const STD = [58.395, 57.12, 57.375];

export interface Keypoint {
  x: number;
  y: number;
  score: number;
}

/** DWPose's crop: the box's centre and size, grown by BOX_PADDING, then widened to the model's aspect. */
export function cropOf(box: Box): { cx: number; cy: number; w: number; h: number } {
  const [cx, cy] = [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
  let [w, h] = [(box[2] - box[0]) * BOX_PADDING, (box[3] - box[1]) * BOX_PADDING];
  const aspect = POSE_W / POSE_H;
  if (w > h * aspect) h = w / aspect;
  else w = h * aspect;
  return { cx, cy, w, h };
}

function poseInput(image: RawImage, crop: ReturnType<typeof cropOf>): Float32Array {
  const plane = POSE_W * POSE_H;
  const out = new Float32Array(3 * plane);
  const [x0, y0] = [crop.cx - crop.w / 2, crop.cy - crop.h / 2];
  for (let y = 0; y < POSE_H; y++)
    for (let x = 0; x < POSE_W; x++) {
      const [sx, sy] = [x0 + (x * crop.w) / POSE_W, y0 + (y * crop.h) / POSE_H];
      for (let c = 0; c < 3; c++)
        out[c * plane + y * POSE_W + x] = (sample(image, sx, sy, c, 0) - (MEAN[c] ?? 0)) / (STD[c] ?? 1);
    }
  return out;
}

function argmax(values: Float32Array, start: number, length: number): [number, number] {
  let [best, value] = [0, -Infinity];
  for (let i = 0; i < length; i++) {
    const v = values[start + i] ?? -Infinity;
    if (v > value) [best, value] = [i, v];
  }
  return [best, value];
}

/** SimCC outputs -> keypoints in image pixels (score <= 0: not found). */
export function decodeSimcc(
  xs: Float32Array,
  ys: Float32Array,
  count: number,
  crop: ReturnType<typeof cropOf>,
): Keypoint[] {
  const [wx, wy] = [xs.length / count, ys.length / count];
  const points: Keypoint[] = [];
  for (let k = 0; k < count; k++) {
    const [bx, vx] = argmax(xs, k * wx, wx);
    const [by, vy] = argmax(ys, k * wy, wy);
    const score = Math.min(vx, vy);
    const [px, py] = [bx / SIMCC_SPLIT, by / SIMCC_SPLIT]; // model-input pixels
    points.push({
      x: (px / POSE_W) * crop.w + crop.cx - crop.w / 2,
      y: (py / POSE_H) * crop.h + crop.cy - crop.h / 2,
      score: score > 0 ? score : 0,
    });
  }
  return points;
}

/** The 133 COCO-WholeBody keypoints of the person in `box`. */
export async function estimatePose(
  session: ort.InferenceSession,
  image: RawImage,
  box: Box,
): Promise<Keypoint[]> {
  const crop = cropOf(box);
  const feeds = {
    [session.inputNames[0] ?? "input"]: new ort.Tensor("float32", poseInput(image, crop), [
      1,
      3,
      POSE_H,
      POSE_W,
    ]),
  };
  const results = await session.run(feeds);
  const [xs, ys] = [results["simcc_x"], results["simcc_y"]];
  if (!xs || !ys) throw new Error("the pose model has no simcc_x/simcc_y outputs; is it DWPose?");
  return decodeSimcc(xs.data as Float32Array, ys.data as Float32Array, xs.dims[1] ?? 133, crop);
}
