import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  floatInitializer,
  int64Initializer,
  model,
  node,
  tensorValue,
} from "../../../dataset/upscale/tiny-onnx.ts";

/**
 * Tiny ONNX stand-ins for the ControlNet preprocessors' models, with the real names, shapes and value
 * conventions (see depth.ts and openpose/*.ts), written into model folders laid out as
 * `danlu models pull` leaves them. Their outputs are fixed, so tests know the map to expect.
 */

/** Depth Anything V2's contract; depth = the mean of the normalised channels (brighter is "nearer"). */
export function tinyDepthModel(): Uint8Array {
  return model([
    node(
      "ReduceMean",
      ["pixel_values"],
      ["predicted_depth"],
      [
        { name: "axes", ints: [1] },
        { name: "keepdims", int: 0 },
      ],
    ),
    tensorValue(11, "pixel_values", [1, 3, "height", "width"]),
    tensorValue(12, "predicted_depth", [1, "height", "width"]),
  ]);
}

/** input x 0, broadcastable to anything: keeps the graph's input in use. */
function zeroFrom(input: string): Uint8Array[] {
  return [
    node(
      "ReduceMean",
      [input],
      [`${input}_mean`],
      [
        { name: "axes", ints: [1, 2, 3] },
        { name: "keepdims", int: 0 },
      ],
    ),
    node("Mul", [`${input}_mean`, "zero"], [`${input}_zero`]),
    floatInitializer("zero", [1], [0]),
  ];
}

/** One person box, centred, 320x480 px of the 640 input (anchor 0, stride 8); every other anchor empty. */
export const TINY_PERSON = { cx: 320, cy: 320, w: 320, h: 480 };

export function tinyDetectorModel(): Uint8Array {
  const person = new Array<number>(85).fill(0);
  [person[0], person[1]] = [TINY_PERSON.cx / 8, TINY_PERSON.cy / 8];
  [person[2], person[3]] = [Math.log(TINY_PERSON.w / 8), Math.log(TINY_PERSON.h / 8)];
  [person[4], person[5]] = [1, 0.9]; // objectness, person
  return model([
    ...zeroFrom("images"),
    floatInitializer("person", [1, 1, 85], person),
    floatInitializer("empty", [1, 1, 85], new Array<number>(85).fill(0)),
    int64Initializer("rest_shape", [1, 8399, 85]),
    node("Expand", ["empty", "rest_shape"], ["rest"]),
    node("Concat", ["person", "rest"], ["rows"], [{ name: "axis", int: 1 }]),
    node("Add", ["rows", "images_zero"], ["output"]),
    tensorValue(11, "images", [1, 3, 640, 640]),
    tensorValue(12, "output", [1, 8400, 85]),
  ]);
}

/** COCO body keypoints of a standing figure in the pose model's 288x384 input (nose first). */
// prettier-ignore
export const TINY_BODY: [number, number][] = [
  [144, 60], [134, 50], [154, 50], [124, 56], [164, 56], [104, 110], [184, 110], [90, 170], [198, 170],
  [80, 225], [208, 225], [116, 220], [172, 220], [112, 290], [176, 290], [110, 350], [178, 350],
];

/** Where tiny keypoint k sits: body above, feet at the ankles, face round the nose, hands at the wrists. */
export function tinyKeypoint(k: number): [number, number] {
  if (k < 17) return TINY_BODY[k]!;
  if (k < 23) return k < 20 ? [110, 360] : [178, 360];
  if (k < 91) {
    const a = ((k - 23) / 68) * 2 * Math.PI;
    return [144 + Math.round(18 * Math.cos(a)), 60 + Math.round(22 * Math.sin(a))];
  }
  const [wx, wy] = k < 112 ? [80, 225] : [208, 225];
  const i = (k - 91) % 21;
  return [wx + (i % 5) * 3 - 6, wy + Math.floor(i / 5) * 5 + 4];
}

export function tinyPoseModel(): Uint8Array {
  const [xs, ys] = [new Array<number>(133 * 576).fill(0), new Array<number>(133 * 768).fill(0)];
  for (let k = 0; k < 133; k++) {
    const [x, y] = tinyKeypoint(k);
    xs[k * 576 + x * 2] = 1; // SimCC bins are half pixels
    ys[k * 768 + y * 2] = 1;
  }
  return model([
    ...zeroFrom("input"),
    floatInitializer("xs", [1, 133, 576], xs),
    floatInitializer("ys", [1, 133, 768], ys),
    node("Add", ["xs", "input_zero"], ["simcc_x"]),
    node("Add", ["ys", "input_zero"], ["simcc_y"]),
    tensorValue(11, "input", [1, 3, 384, 288]),
    tensorValue(12, "simcc_x", [1, 133, 576]),
    tensorValue(12, "simcc_y", [1, 133, 768]),
  ]);
}

/** Writes `dwpose/` and `depth-anything-v2-small/` under a models folder. */
export function writeTinyPreprocessors(modelsDir: string): void {
  mkdirSync(join(modelsDir, "dwpose"), { recursive: true });
  writeFileSync(join(modelsDir, "dwpose", "yolox_l.onnx"), tinyDetectorModel());
  writeFileSync(join(modelsDir, "dwpose", "dw-ll_ucoco_384.onnx"), tinyPoseModel());
  mkdirSync(join(modelsDir, "depth-anything-v2-small", "onnx"), { recursive: true });
  writeFileSync(join(modelsDir, "depth-anything-v2-small", "onnx", "model.onnx"), tinyDepthModel());
}
