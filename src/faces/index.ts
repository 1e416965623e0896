import sharp, { type Sharp } from "sharp";
import { DanluError } from "../errors.ts";
import { openImage, toRaw, type RawImage } from "../dataset/images.ts";
import { laplacianVariance, normalisedGrey } from "../dataset/check/sharpness.ts";
import { CHIP_SIZE, faceChip, MESH_ALIGNMENT_POINTS, type Point } from "./align.ts";
import { FACE_MIN_SCORE, loadDlibNet, loadHuman, type DlibNet, type Human } from "./models.ts";

export {
  descriptorDistance,
  identitySimilarity,
  meanDescriptor,
  SAME_PERSON,
  SAME_PERSON_DISTANCE,
} from "./identity.ts";

/**
 * Faces in a photo: where they are, who they are (dlib's 128-number ResNet descriptor, compared with
 * identitySimilarity / SAME_PERSON) and how sharp they are. Models and licences: models.ts and
 * docs/MODELS.md.
 */

export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Face {
  /** In the analysed image's pixels (for analyzeFile: the file's pixels after EXIF orientation). */
  box: FaceBox;
  /** Detector confidence, 0-1. */
  score: number;
  /** dlib ResNet descriptor: 128 numbers, compared by euclidean distance (identity.ts). */
  descriptor: Float32Array;
  /**
   * Variance of the Laplacian of the face box in grey, its long side scaled to 512 px: the dataset
   * check's blur measure (src/dataset/check/sharpness.ts) on the face alone, so a small face enlarged
   * to training size scores low, as it will look in training.
   */
  sharpness: number;
}

export interface AnalyzeOptions {
  /** BlazeFace score (0-1) a face needs; default FACE_MIN_SCORE (0.5). Face detailing asks for 0.3. */
  minScore?: number;
}

export interface FaceAnalyzer {
  /** Every face found, largest first (empty when none). Runs the image's pipeline to the end. */
  analyze(image: Sharp, options?: AnalyzeOptions): Promise<Face[]>;
}

/** Detection input long side (px): BlazeFace looks at 256 px; 640 keeps small faces (as the dataset detector). */
const DETECT_LONG_SIDE = 640;

let loaded: Promise<FaceAnalyzer> | undefined;

/** Loads the face models once per process. */
export function loadFaceAnalyzer(): Promise<FaceAnalyzer> {
  loaded ??= createAnalyzer().catch((error: unknown) => {
    loaded = undefined;
    throw new DanluError(`cannot load the face models: ${String(error)}`, {
      hint: "reinstall dependencies (npm ci): @vladmandic/human, @vladmandic/face-api and @tensorflow/tfjs ship the models",
      cause: error,
    });
  });
  return loaded;
}

/** Every face in an image file, EXIF orientation applied, largest first. */
export function analyzeFile(analyzer: FaceAnalyzer, path: string, options?: AnalyzeOptions): Promise<Face[]> {
  return analyzer.analyze(openImage(path).autoOrient(), options);
}

async function createAnalyzer(): Promise<FaceAnalyzer> {
  const human = await loadHuman();
  const net = await loadDlibNet(human);
  // Human keeps per-call state: one image at a time
  let queue: Promise<unknown> = Promise.resolve();
  return {
    analyze: (image, options = {}) => {
      const minScore = options.minScore ?? FACE_MIN_SCORE;
      const result = queue.then(async () => analyzeRaw(human, net, await toRaw(image, 3), minScore));
      queue = result.catch(() => undefined);
      return result;
    },
  };
}

async function analyzeRaw(human: Human, net: DlibNet, image: RawImage, minScore: number): Promise<Face[]> {
  const small = await toRaw(
    sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(
      DETECT_LONG_SIDE,
      DETECT_LONG_SIDE,
      { fit: "inside", withoutEnlargement: true },
    ),
    3,
  );
  const scale = image.width / small.width;
  const input = human.tf.tensor4d(Int32Array.from(small.data), [1, small.height, small.width, 3], "int32");
  let found;
  try {
    // Human keeps a config given to detect(): every call says its threshold, so one caller's stays its own
    found = (await human.detect(input, { face: { detector: { minConfidence: minScore } } })).face;
  } finally {
    human.tf.dispose(input);
  }
  const faces: Face[] = [];
  for (const face of found) {
    const landmarks = MESH_ALIGNMENT_POINTS.map((i) => face.mesh[i]);
    if (!landmarks.every((p) => p !== undefined)) continue; // not confirmed by the mesh
    const [x = 0, y = 0, width = 0, height = 0] = face.box.map((v) => v * scale);
    const box = { x, y, width, height };
    const points = landmarks.map(([px, py]) => [px * scale, py * scale] as Point);
    faces.push({
      box,
      score: face.score,
      descriptor: await describe(human, net, faceChip(image, points)),
      sharpness: await boxSharpness(image, box),
    });
  }
  return faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
}

async function describe(human: Human, net: DlibNet, chip: Float32Array): Promise<Float32Array> {
  const tensor = human.tf.tensor3d(chip, [CHIP_SIZE, CHIP_SIZE, 3], "float32");
  try {
    const descriptor = await net.computeFaceDescriptor(tensor as never);
    return descriptor instanceof Float32Array ? descriptor : (descriptor[0] ?? new Float32Array(128));
  } finally {
    human.tf.dispose(tensor);
  }
}

async function boxSharpness(image: RawImage, box: FaceBox): Promise<number> {
  const left = Math.max(0, Math.floor(box.x));
  const top = Math.max(0, Math.floor(box.y));
  const width = Math.min(image.width, Math.ceil(box.x + box.width)) - left;
  const height = Math.min(image.height, Math.ceil(box.y + box.height)) - top;
  if (width < 3 || height < 3) return 0;
  const crop = await toRaw(
    sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).extract({
      left,
      top,
      width,
      height,
    }),
    3,
  );
  return Math.round(laplacianVariance(await normalisedGrey(crop)) * 10) / 10;
}
