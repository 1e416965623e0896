import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DanluError } from "../../errors.ts";
import { openImage, toRaw, type RawImage } from "../images.ts";

/**
 * Faces and people, found with models that ship inside the npm package @vladmandic/human (MIT):
 * MediaPipe BlazeFace + FaceMesh (Apache-2.0) for faces, MoveNet Lightning (Apache-2.0) for the body.
 * They run on TensorFlow.js's WebAssembly backend, whose .wasm files ship in
 * @tensorflow/tfjs-backend-wasm: nothing is downloaded at run time.
 *
 * A face counts only when the face-mesh model confirms the detector's box (it rejects the cat and the
 * rocket that BlazeFace alone mistakes for faces). MoveNet Lightning finds one body, so the people
 * count is the larger of the face count and the body count.
 */

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

export interface Detection {
  faces: Box[];
  /** Whole-body boxes (at most one: MoveNet Lightning is a single-person model). */
  bodies: Box[];
  people: number;
}

export interface Detector {
  detect(image: RawImage): Promise<Detection>;
}

/** Detection input long side (px): the face model looks at 256 px, the body model at 192; 640 keeps small faces and costs half of 1024. */
const DETECT_LONG_SIDE = 640;
/** BlazeFace score below which a box is not considered; 0.5 drops the rocket's 0.34 false face. */
const FACE_MIN_SCORE = 0.5;
/** MoveNet's own recommended keypoint/body confidence threshold. */
const BODY_MIN_SCORE = 0.3;

const require = createRequire(import.meta.url);
let loaded: Promise<Detector> | undefined;

/** Loads the models once per process. */
export function loadDetector(): Promise<Detector> {
  loaded ??= createDetector().catch((error: unknown) => {
    loaded = undefined;
    throw new DanluError(`cannot load the face/person detector: ${String(error)}`, {
      hint: "reinstall dependencies (npm ci): @vladmandic/human and @tensorflow/tfjs-backend-wasm ship the models",
      cause: error,
    });
  });
  return loaded;
}

/** Reads an image file, shrinks it for detection and returns boxes in the file's own pixels. */
export async function detectInFile(detector: Detector, path: string): Promise<Detection> {
  const raw = await toRaw(
    openImage(path)
      .autoOrient()
      .resize(DETECT_LONG_SIDE, DETECT_LONG_SIDE, { fit: "inside", withoutEnlargement: true }),
    3,
  );
  const meta = await openImage(path).autoOrient().metadata();
  const scale = (meta.autoOrient?.width ?? meta.width ?? raw.width) / raw.width;
  const found = await detector.detect(raw);
  const grow = (box: Box): Box => ({
    x: box.x * scale,
    y: box.y * scale,
    width: box.width * scale,
    height: box.height * scale,
    score: box.score,
  });
  return { faces: found.faces.map(grow), bodies: found.bodies.map(grow), people: found.people };
}

async function createDetector(): Promise<Detector> {
  const humanMain = require.resolve("@vladmandic/human"); // .../dist/human.node.js (needs tfjs-node)
  const wasmBuild = join(dirname(humanMain), "human.node-wasm.js"); // same library on the wasm backend
  const { Human } = require(wasmBuild) as typeof import("@vladmandic/human");
  const wasmDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm")) + "/";
  const human = new Human({
    backend: "wasm",
    wasmPath: wasmDir,
    modelBasePath: "file://" + join(dirname(humanMain), "..", "models") + "/",
    debug: false,
    async: true,
    warmup: "none",
    cacheSensitivity: 0, // every call is a different photo: never reuse the previous result
    filter: { enabled: false },
    gesture: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    segmentation: { enabled: false },
    face: {
      enabled: true,
      detector: { rotation: false, maxDetected: 20, minConfidence: FACE_MIN_SCORE, return: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      description: { enabled: false },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      attention: { enabled: false },
    },
    body: {
      enabled: true,
      modelPath: "movenet-lightning.json",
      minConfidence: BODY_MIN_SCORE,
      maxDetected: 1,
    },
  });
  registerFileLoader(human.tf);
  await human.load();
  // Human keeps per-call state, so calls run one at a time; decoding around them still runs in parallel.
  let queue: Promise<unknown> = Promise.resolve();
  const detectOne = async (image: RawImage): Promise<Detection> => {
    const tensor = human.tf.tensor4d(Int32Array.from(image.data), [1, image.height, image.width, 3], "int32");
    try {
      const result = await human.detect(tensor);
      const faces = result.face.map((face) => toBox(face.box, face.score));
      const bodies = result.body
        .filter((body) => body.score >= BODY_MIN_SCORE && body.box.every(Number.isFinite))
        .map((body) => toBox(body.box, body.score));
      return { faces, bodies, people: Math.max(faces.length, bodies.length) };
    } finally {
      human.tf.dispose(tensor);
    }
  };
  return {
    detect: (image) => {
      const result = queue.then(() => detectOne(image));
      queue = result.catch(() => undefined);
      return result;
    },
  };
}

function toBox(box: readonly number[], score: number): Box {
  const [x = 0, y = 0, width = 0, height = 0] = box;
  return { x, y, width, height, score };
}

export type Tf = InstanceType<typeof import("@vladmandic/human").Human>["tf"];

/** The tf.io registries the file loader is in: every Human in a process shares one tfjs-core. */
const withFileLoader = new WeakSet<object>();

/**
 * TensorFlow.js without tfjs-node cannot read file:// URLs; this loads a graph model from disk. Once per
 * tfjs-core: a second router for the same URLs makes tfjs refuse to load ("more than one load handler"),
 * which is what happened when the face analyzer and the crop detector both loaded in one process.
 */
export function registerFileLoader(tf: Tf): void {
  if (withFileLoader.has(tf.io)) return;
  withFileLoader.add(tf.io);
  tf.io.registerLoadRouter((url: string | string[]) => {
    const path = String(url);
    if (!path.startsWith("file://")) return null;
    return {
      load: async () => {
        const file = path.slice("file://".length);
        const json = JSON.parse(await readFile(file, "utf8"));
        const weightSpecs = [];
        const buffers: Buffer[] = [];
        for (const group of json.weightsManifest) {
          weightSpecs.push(...group.weights);
          for (const part of group.paths) buffers.push(await readFile(join(dirname(file), part)));
        }
        const weights = Buffer.concat(buffers);
        const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
        return { ...json, weightSpecs, weightData };
      },
    };
  });
}
