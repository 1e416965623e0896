import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { registerFileLoader } from "../dataset/crop/detector.ts";

/**
 * The models behind src/faces, all from npm packages, nothing downloaded at run time:
 * - MediaPipe BlazeFace + FaceMesh (Apache-2.0) from @vladmandic/human (MIT) find each face and its
 *   468 landmarks (the same detector the dataset check uses);
 * - dlib's ResNet face descriptor (Davis King, weights released into the public domain / CC0), as the
 *   TensorFlow.js model model/face_recognition_model* of @vladmandic/face-api (MIT).
 * Both libraries run on one @tensorflow/tfjs-core and its WebAssembly backend: each requires the
 * packages by name, and npm installs a single copy of each.
 * Human's own face descriptor (HSE FaceRes, trained on data for non-commercial research) stays off.
 */

const require = createRequire(import.meta.url);

export type Human = InstanceType<typeof import("@vladmandic/human").Human>;
export type FaceApi = typeof import("@vladmandic/face-api");
export type DlibNet = InstanceType<FaceApi["FaceRecognitionNet"]>;

/** BlazeFace score below which a box is not considered (as in the dataset detector). */
export const FACE_MIN_SCORE = 0.5;
/** Faces looked for per image: a portrait dataset has one, a group photo a few. */
const MAX_FACES = 10;

export async function loadHuman(): Promise<Human> {
  const humanMain = require.resolve("@vladmandic/human"); // dist/human.node.js needs tfjs-node: use the wasm build
  const { Human } = require(
    join(dirname(humanMain), "human.node-wasm.js"),
  ) as typeof import("@vladmandic/human");
  const human = new Human({
    backend: "wasm",
    wasmPath: dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + "/",
    modelBasePath: "file://" + join(dirname(humanMain), "..", "models") + "/",
    debug: false,
    async: true,
    warmup: "none",
    cacheSensitivity: 0, // each call is a different image: never reuse a previous result
    filter: { enabled: false },
    gesture: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    segmentation: { enabled: false },
    body: { enabled: false },
    face: {
      enabled: true,
      // rotation: the mesh is fitted on an upright crop, so tilted heads get good landmarks
      detector: { rotation: true, maxDetected: MAX_FACES, minConfidence: FACE_MIN_SCORE, return: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      description: { enabled: false }, // HSE FaceRes: not licensed for the product (docs/MODELS.md)
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      attention: { enabled: false },
    },
  });
  registerFileLoader(human.tf);
  await human.load();
  return human;
}

/** dlib's descriptor network, on the tfjs-core instance Human already set to the wasm backend. */
export async function loadDlibNet(human: Human): Promise<DlibNet> {
  const faceApi = require("@vladmandic/face-api/dist/face-api.node-wasm.js") as FaceApi;
  // one engine means one tfjs-core: the weights below land on the backend Human initialised
  if ((faceApi.tf as unknown as Human["tf"]).engine() !== human.tf.engine()) {
    throw new Error("@vladmandic/face-api and @vladmandic/human loaded two copies of @tensorflow/tfjs-core");
  }
  const modelDir = join(dirname(require.resolve("@vladmandic/face-api/package.json")), "model");
  const manifest = JSON.parse(
    await readFile(join(modelDir, "face_recognition_model-weights_manifest.json"), "utf8"),
  ) as { paths: string[]; weights: Parameters<FaceApi["tf"]["io"]["decodeWeights"]>[1] }[];
  const buffers: Buffer[] = [];
  for (const group of manifest)
    for (const part of group.paths) buffers.push(await readFile(join(modelDir, part)));
  const weights = Buffer.concat(buffers);
  const weightMap = faceApi.tf.io.decodeWeights(
    weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    manifest.flatMap((group) => group.weights),
  );
  const net = new faceApi.FaceRecognitionNet();
  net.loadFromWeightMap(weightMap);
  return net;
}
