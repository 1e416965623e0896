import { analyzeFile, identitySimilarity, SAME_PERSON, type FaceAnalyzer } from "../faces/index.ts";

/** How well a set of generated images keeps the trained face. */
export interface IdentityScores {
  images: number;
  /** Images where a face was found. */
  withFace: number;
  /** withFace / images (0 when there are no images). */
  faceRate: number;
  /** Mean over images with a face (the largest one) of the mean identitySimilarity (0-1) to every training face; null when none has a face. */
  meanSimilarity: number | null;
  /** Share of the images with a face whose similarity reaches SAME_PERSON; null when none has a face. */
  sameShare: number | null;
}

/** The largest face's dlib descriptor in an image file, or null when it has no face. */
async function largestFace(analyzer: FaceAnalyzer, file: string): Promise<Float32Array | null> {
  return (await analyzeFile(analyzer, file))[0]?.descriptor ?? null;
}

/** Descriptors of the training faces, the largest per image (images without a face are left out). */
export async function trainingFaces(
  analyzer: FaceAnalyzer,
  files: readonly string[],
): Promise<Float32Array[]> {
  const found: Float32Array[] = [];
  for (const file of files) {
    const descriptor = await largestFace(analyzer, file);
    if (descriptor) found.push(descriptor);
  }
  return found;
}

/** Scores generated images against the training faces (`reference` must not be empty). */
export async function identityScores(
  analyzer: FaceAnalyzer,
  reference: readonly Float32Array[],
  generated: readonly string[],
): Promise<IdentityScores> {
  const similarities: number[] = [];
  for (const file of generated) {
    const descriptor = await largestFace(analyzer, file);
    if (!descriptor) continue;
    const sum = reference.reduce((total, face) => total + identitySimilarity(descriptor, face), 0);
    similarities.push(sum / reference.length);
  }
  const withFace = similarities.length;
  return {
    images: generated.length,
    withFace,
    faceRate: generated.length === 0 ? 0 : withFace / generated.length,
    meanSimilarity: withFace === 0 ? null : similarities.reduce((a, b) => a + b, 0) / withFace,
    sameShare: withFace === 0 ? null : similarities.filter((s) => s >= SAME_PERSON).length / withFace,
  };
}
