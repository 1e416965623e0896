import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Sharp } from "sharp";
import { DanluError } from "../errors.ts";
import { registerFileLoader } from "../dataset/crop/detector.ts";
import { openImage, toRaw } from "../dataset/images.ts";

/**
 * Face identity embeddings from models that ship inside the npm package @vladmandic/human (MIT):
 * MediaPipe BlazeFace + FaceMesh (Apache-2.0) find and align the face, and HSE FaceRes
 * (models/faceres.json, from av-savchenko/HSE_FaceRec_tf, Apache-2.0) turns the aligned crop into a
 * 1024-number descriptor. Nothing is downloaded. Note: FaceRes was trained on VGGFace2; its weights
 * are published under Apache-2.0, which is the licence this project relies on.
 *
 * Identity similarity is the cosine of two descriptors. On the sample photos the same face under
 * crops, flips and downscaling scores 0.90-0.97 and the astronaut against the cameraman 0.33-0.38
 * (face.test.ts), so 0.6 is a fair "same person" line for this model.
 */

/** Cosine at or above which two faces are called the same person (see above). */
export const SAME_PERSON = 0.6;

export interface FaceEmbedder {
  /** The largest face's descriptor, or null when no face is found. */
  embed(image: Sharp): Promise<Float32Array | null>;
}

/** Detection input long side (px), as the dataset detector uses. */
const DETECT_LONG_SIDE = 640;
const FACE_MIN_SCORE = 0.5;

const require = createRequire(import.meta.url);
let loaded: Promise<FaceEmbedder> | undefined;

/** Loads the face models once per process. */
export function loadFaceEmbedder(): Promise<FaceEmbedder> {
  loaded ??= createEmbedder().catch((error: unknown) => {
    loaded = undefined;
    throw new DanluError(`cannot load the face embedding model: ${String(error)}`, {
      hint: "reinstall dependencies (npm ci): @vladmandic/human ships the face models",
      cause: error,
    });
  });
  return loaded;
}

/** The largest face's descriptor in an image file (EXIF orientation applied), or null. */
export async function embedFile(embedder: FaceEmbedder, path: string): Promise<Float32Array | null> {
  return embedder.embed(openImage(path).autoOrient());
}

async function createEmbedder(): Promise<FaceEmbedder> {
  const humanMain = require.resolve("@vladmandic/human");
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
      detector: { rotation: true, maxDetected: 5, minConfidence: FACE_MIN_SCORE, return: false },
      mesh: { enabled: true },
      iris: { enabled: false },
      description: { enabled: true },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      attention: { enabled: false },
    },
  });
  registerFileLoader(human.tf);
  await human.load();
  let queue: Promise<unknown> = Promise.resolve();
  const embedOne = async (image: Sharp): Promise<Float32Array | null> => {
    const raw = await toRaw(
      image.resize(DETECT_LONG_SIDE, DETECT_LONG_SIDE, { fit: "inside", withoutEnlargement: true }),
      3,
    );
    const tensor = human.tf.tensor4d(Int32Array.from(raw.data), [1, raw.height, raw.width, 3], "int32");
    try {
      const result = await human.detect(tensor);
      const faces = result.face.filter((face) => (face.embedding?.length ?? 0) > 0);
      const area = (box: readonly number[]) => (box[2] ?? 0) * (box[3] ?? 0);
      const largest = faces.sort((a, b) => area(b.box) - area(a.box))[0];
      return largest?.embedding ? Float32Array.from(largest.embedding) : null;
    } finally {
      human.tf.dispose(tensor);
    }
  };
  return {
    // Human keeps per-call state: one call at a time
    embed: (image) => {
      const result = queue.then(() => embedOne(image));
      queue = result.catch(() => undefined);
      return result;
    },
  };
}

/** Cosine similarity of two descriptors, in [-1, 1] (FaceRes descriptors are >= 0, so in practice [0, 1]). */
export function cosineSimilarity(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}
