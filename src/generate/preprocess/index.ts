import { basename } from "node:path";
import ort from "onnxruntime-node";
import { DanluError } from "../../errors.ts";
import type { RawImage } from "../../dataset/images.ts";
import { resolveModel } from "../../models-store/store.ts";
import { canny, CANNY_DEFAULTS } from "./canny.ts";
import { checkDepthFolder, depthMap, DEPTH_SIZE, greyToRgb } from "./depth.ts";
import { checkPoseFolder, poseMap } from "./openpose/index.ts";

/**
 * The ControlNet preprocessors: image -> control map, run in Node before the engine starts. `none`
 * passes the image as the map (one that already is a map). ONNX ones take their model from the model
 * folder (`danlu models pull NAME`); a missing model is an error naming that command.
 */
export const PREPROCESSORS = ["none", "canny", "depth", "openpose"] as const;
export type PreprocessorName = (typeof PREPROCESSORS)[number];

interface PreprocessorInfo {
  module: string; // sd-webui-controlnet's name, for the PNG text
  model?: string; // the catalogue model it runs (src/models-store/registry-controlnet.ts)
  thresholds: [number, number]; // PNG "Threshold A/B" (canny: low, high; others: A1111's unused 0.5)
}

export const PREPROCESSOR_INFO: Record<PreprocessorName, PreprocessorInfo> = {
  none: { module: "none", thresholds: [0.5, 0.5] },
  canny: { module: "canny", thresholds: [CANNY_DEFAULTS.low, CANNY_DEFAULTS.high] },
  depth: { module: "depth_anything_v2", model: "depth-anything-v2-small", thresholds: [0.5, 0.5] },
  openpose: { module: "dw_openpose_full", model: "dwpose", thresholds: [0.5, 0.5] },
};

/** The resolution each preprocessor works at (PNG "Processor Res"): depth's model size, else the map's short side. */
export function processorRes(name: PreprocessorName, width: number, height: number): number {
  if (name === "depth") return DEPTH_SIZE;
  return Math.min(width, height);
}

/**
 * What A1111 picks from a ControlNet model's file name: openpose, depth, canny; soft edge, lineart and
 * the rest have no preprocessor in danlu, so they get none (the image must already be the map).
 */
export function inferPreprocessor(modelPath: string): PreprocessorName {
  const name = basename(modelPath).toLowerCase();
  if (name.includes("openpose") || name.includes("pose")) return "openpose";
  if (name.includes("depth")) return "depth";
  if (name.includes("canny")) return "canny";
  return "none";
}

export function checkPreprocessor(name: string, flag: string): PreprocessorName {
  if ((PREPROCESSORS as readonly string[]).includes(name)) return name as PreprocessorName;
  const softEdge = /soft|hed|pidi/i.test(name) ? " Soft edge (HED/PiDiNet) is not available yet." : "";
  throw new DanluError(`${flag} ${name} is not a preprocessor danlu has.${softEdge}`, {
    code: "BAD_ARGUMENT",
    exitCode: 2,
    hint: `Use one of: ${PREPROCESSORS.join(", ")} (none: the image is already the map).`,
  });
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();

function session(file: string): Promise<ort.InferenceSession> {
  let s = sessions.get(file);
  if (!s) {
    s = ort.InferenceSession.create(file, { graphOptimizationLevel: "all" });
    sessions.set(file, s);
  }
  return s;
}

/** The preprocessor's model folder, or MODEL_MISSING naming `danlu models pull NAME`. */
export async function preprocessorFolder(
  name: PreprocessorName,
  modelsDir?: string,
): Promise<string | undefined> {
  const model = PREPROCESSOR_INFO[name].model;
  if (!model) return undefined;
  return (await resolveModel(model, "preprocessor", modelsDir)).folder;
}

/** The control map of an RGB image (already at the job's size). */
export async function runPreprocessor(
  name: PreprocessorName,
  image: RawImage,
  modelsDir?: string,
): Promise<RawImage> {
  if (name === "none") return image;
  if (name === "canny") {
    const grey = Buffer.alloc(image.width * image.height);
    for (let i = 0; i < grey.length; i++) {
      const [r, g, b] = [image.data[i * 3] ?? 0, image.data[i * 3 + 1] ?? 0, image.data[i * 3 + 2] ?? 0];
      grey[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b); // OpenCV's RGB -> grey
    }
    return greyToRgb(
      canny({ data: grey, width: image.width, height: image.height }),
      image.width,
      image.height,
    );
  }
  const folder = (await preprocessorFolder(name, modelsDir))!;
  if (name === "depth") return depthMap(await session(checkDepthFolder(folder)), image);
  const [detector, pose] = checkPoseFolder(folder);
  return poseMap(await session(detector), await session(pose), image);
}
