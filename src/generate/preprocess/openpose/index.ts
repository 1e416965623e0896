import { existsSync } from "node:fs";
import { join } from "node:path";
import type ort from "onnxruntime-node";
import { DanluError } from "../../../errors.ts";
import type { RawImage } from "../../../dataset/images.ts";
import { detectPersons } from "./detect.ts";
import { drawPoses, openposeParts } from "./draw.ts";
import { estimatePose } from "./pose.ts";

/**
 * The openpose preprocessor (sd-webui-controlnet's dw_openpose_full): DWPose (IDEA-Research, Apache-2.0)
 * finds people with YOLOX-L, estimates 133 whole-body keypoints per person, and draws body, hands and
 * face in the OpenPose format. The model folder (`danlu models pull dwpose`) holds both ONNX files.
 */
export const DETECTOR_FILE = "yolox_l.onnx";
export const POSE_FILE = "dw-ll_ucoco_384.onnx";

export function checkPoseFolder(folder: string): [string, string] {
  const files = [join(folder, DETECTOR_FILE), join(folder, POSE_FILE)] as [string, string];
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0)
    throw new DanluError(`the DWPose folder ${folder} lacks ${missing.join(", ")}`, {
      code: "MODEL_MISSING",
      hint: "run: danlu models pull dwpose",
    });
  return files;
}

/** The OpenPose map of an RGB image, its size (black where no one was found). */
export async function poseMap(
  detector: ort.InferenceSession,
  pose: ort.InferenceSession,
  image: RawImage,
): Promise<RawImage> {
  const people = [];
  for (const box of await detectPersons(detector, image))
    people.push(openposeParts(await estimatePose(pose, image, box)));
  return {
    data: drawPoses(people, image.width, image.height),
    width: image.width,
    height: image.height,
    channels: 3,
  };
}
