import ort from "onnxruntime-node";
import sharp from "sharp";
import { DanluError } from "../../errors.ts";
import type { RawImage } from "../images.ts";

/**
 * User-supplied ONNX image models (super-resolution, matting) through onnxruntime-node. Contract:
 * one float32 NCHW RGB input; SR outputs NCHW RGB at an integer scale, values 0..1; matting outputs
 * one alpha channel at the input size.
 */

export async function loadOnnxModel(path: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(path, { graphOptimizationLevel: "all" });
  } catch (error) {
    throw new DanluError(`cannot load the ONNX model ${path}: ${String(error).split("\n")[0]}`, {
      hint: "give a .onnx file exported with one NCHW float32 image input",
      cause: error,
    });
  }
}

/** The model's fixed input [height, width], or undefined when the spatial dims are symbolic. */
export function fixedInputSize(session: ort.InferenceSession): [number, number] | undefined {
  const meta = session.inputMetadata[0];
  const shape = meta && "shape" in meta ? meta.shape : [];
  const [, , height, width] = shape;
  return typeof height === "number" && typeof width === "number" && height > 0 ? [height, width] : undefined;
}

type Normalisation = "unit" | "imagenet" | "symmetric";
const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** HWC uint8 -> NCHW float32, normalised as the model was trained. */
export function toNchw(image: RawImage, normalise: Normalisation = "unit"): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = normalise === "imagenet" ? (IMAGENET.mean[c] ?? 0) : normalise === "symmetric" ? 0.5 : 0;
    const std = normalise === "imagenet" ? (IMAGENET.std[c] ?? 1) : normalise === "symmetric" ? 0.5 : 1;
    for (let i = 0; i < plane; i++) out[c * plane + i] = ((data[i * 3 + c] ?? 0) / 255 - mean) / std;
  }
  return out;
}

async function runImage(session: ort.InferenceSession, input: Float32Array, height: number, width: number) {
  const feeds = {
    [session.inputNames[0] ?? "input"]: new ort.Tensor("float32", input, [1, 3, height, width]),
  };
  const results = await session.run(feeds);
  const output = results[session.outputNames[0] ?? ""];
  if (!output) throw new DanluError("the ONNX model returned no output");
  return { data: output.data as Float32Array, dims: output.dims };
}

/**
 * Runs an SR model over tiles (bounded memory whatever the image size) with OVERLAP px of context on
 * every side, keeping only each tile's centre so seams do not show. Returns the image at the model's scale.
 */
export async function superResolve(
  session: ort.InferenceSession,
  image: RawImage,
  tile = 128,
): Promise<RawImage> {
  const OVERLAP = 8;
  const [fixedH, fixedW] = fixedInputSize(session) ?? [tile, tile];
  const step = { x: fixedW - 2 * OVERLAP, y: fixedH - 2 * OVERLAP };
  const padded = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extend({
      top: OVERLAP,
      left: OVERLAP,
      bottom: OVERLAP + Math.ceil(image.height / step.y) * step.y - image.height,
      right: OVERLAP + Math.ceil(image.width / step.x) * step.x - image.width,
      extendWith: "copy", // edge pixels repeated: context for the border tiles that copies no real content
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  let scale = 0;
  let out: Uint8Array = new Uint8Array(0);
  const outWidth = (): number => Math.ceil(image.width / step.x) * step.x * scale;
  for (let y = 0; y < image.height; y += step.y) {
    for (let x = 0; x < image.width; x += step.x) {
      const crop = await sharp(padded.data, {
        raw: { width: padded.info.width, height: padded.info.height, channels: 3 },
      })
        .extract({ left: x, top: y, width: fixedW, height: fixedH })
        .raw()
        .toBuffer();
      const result = await runImage(
        session,
        toNchw({ data: crop, width: fixedW, height: fixedH, channels: 3 }),
        fixedH,
        fixedW,
      );
      if (scale === 0) {
        scale = Math.round(Number(result.dims[3]) / fixedW);
        if (scale < 1 || result.dims[1] !== 3)
          throw new DanluError(`unexpected SR output shape [${result.dims.join(",")}]`);
        out = new Uint8Array(outWidth() * Math.ceil(image.height / step.y) * step.y * scale * 3);
      }
      pasteCentre(
        result.data,
        fixedW * scale,
        fixedH * scale,
        OVERLAP * scale,
        out,
        outWidth(),
        x * scale,
        y * scale,
      );
    }
  }
  const stitched = sharp(out, {
    raw: { width: outWidth(), height: out.length / 3 / outWidth(), channels: 3 },
  });
  const width = image.width * scale;
  const height = image.height * scale;
  const data = await stitched.extract({ left: 0, top: 0, width, height }).raw().toBuffer();
  return { data, width, height, channels: 3 };
}

/** Copies the centre of an NCHW 0..1 tile into an HWC uint8 canvas. */
function pasteCentre(
  tile: Float32Array,
  tileW: number,
  tileH: number,
  margin: number,
  canvas: Uint8Array,
  canvasW: number,
  left: number,
  top: number,
): void {
  const plane = tileW * tileH;
  for (let ty = margin; ty < tileH - margin; ty++) {
    for (let tx = margin; tx < tileW - margin; tx++) {
      const target = ((top + ty - margin) * canvasW + (left + tx - margin)) * 3;
      for (let c = 0; c < 3; c++) {
        const value = tile[c * plane + ty * tileW + tx] ?? 0;
        canvas[target + c] = Math.max(0, Math.min(255, Math.round(value * 255)));
      }
    }
  }
}

/** A matting model's alpha for the image at the model's input size, stretched to 0..255 (min-max). */
export async function predictAlpha(
  session: ort.InferenceSession,
  image: RawImage,
  size: [number, number],
  normalise: Normalisation,
): Promise<RawImage> {
  const [height, width] = size;
  const resized = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: "fill", kernel: "lanczos3" })
    .raw()
    .toBuffer();
  const { data } = await runImage(
    session,
    toNchw({ data: resized, width, height, channels: 3 }, normalise),
    height,
    width,
  );
  const plane = data.subarray(0, width * height);
  let min = Infinity;
  let max = -Infinity;
  for (const value of plane) {
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  const range = max - min > 1e-6 ? max - min : 1;
  const alpha = Buffer.alloc(width * height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = Math.round((((plane[i] ?? 0) - min) / range) * 255);
  return { data: alpha, width, height, channels: 1 };
}

export type { Normalisation };
