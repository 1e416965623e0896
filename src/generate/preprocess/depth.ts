import { existsSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import sharp from "sharp";
import { DanluError } from "../../errors.ts";
import type { RawImage } from "../../dataset/images.ts";
import { toNchw } from "../../dataset/upscale/onnx-image.ts";

/**
 * Depth maps with Depth Anything V2 (onnx-community/depth-anything-v2-small, Apache-2.0). Contract:
 * input `pixel_values` float32 [1, 3, H, W], ImageNet-normalised RGB, H and W multiples of 14 (the ViT's
 * patch size) around 518; output `predicted_depth` float32 [1, H, W], relative inverse depth (larger is
 * nearer). The map is min-max scaled to 0..255, near white, as ControlNet depth models were trained on.
 */
export const DEPTH_SIZE = 518;
const PATCH = 14;

export function depthModelFile(folder: string): string {
  return join(folder, "onnx", "model.onnx");
}

/** The model's input size for an image: the short side at DEPTH_SIZE, both sides multiples of 14. */
export function depthInputSize(width: number, height: number): [number, number] {
  const scale = DEPTH_SIZE / Math.min(width, height);
  const snap = (px: number) => Math.max(PATCH, Math.round((px * scale) / PATCH) * PATCH);
  return [snap(width), snap(height)];
}

export async function depthMap(session: ort.InferenceSession, image: RawImage): Promise<RawImage> {
  const [w, h] = depthInputSize(image.width, image.height);
  const { data } = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(w, h, { fit: "fill", kernel: "cubic" })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const input = new ort.Tensor("float32", toNchw({ data, width: w, height: h, channels: 3 }, "imagenet"), [
    1,
    3,
    h,
    w,
  ]);
  const results = await session.run({ pixel_values: input });
  const depth = results["predicted_depth"];
  if (!depth) throw new DanluError("the depth model has no predicted_depth output; is it Depth Anything V2?");
  const values = depth.data as Float32Array;
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of values) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  const range = hi - lo || 1;
  const [dh, dw] = depth.dims.slice(-2) as [number, number];
  const grey = Buffer.alloc(dw * dh);
  for (let i = 0; i < grey.length; i++) grey[i] = Math.round((((values[i] ?? lo) - lo) / range) * 255);
  const resized = await sharp(grey, { raw: { width: dw, height: dh, channels: 1 } })
    .resize(image.width, image.height, { fit: "fill" })
    .extractChannel(0) // sharp writes one-channel input back as three otherwise
    .raw()
    .toBuffer();
  return greyToRgb(resized, image.width, image.height);
}

export function greyToRgb(grey: Uint8Array, width: number, height: number): RawImage {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) data.fill(grey[i] ?? 0, i * 3, i * 3 + 3);
  return { data, width, height, channels: 3 };
}

export function checkDepthFolder(folder: string): string {
  const file = depthModelFile(folder);
  if (!existsSync(file))
    throw new DanluError(`${folder} has no onnx/model.onnx (Depth Anything V2 ONNX export)`);
  return file;
}
