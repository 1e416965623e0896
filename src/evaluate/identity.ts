import { embedFile, cosineSimilarity, SAME_PERSON, type FaceEmbedder } from "./face.ts";

/** How well a set of generated images keeps the trained face. */
export interface IdentityScores {
  images: number;
  /** Images where a face was found. */
  withFace: number;
  /** withFace / images (0 when there are no images). */
  faceRate: number;
  /** Mean over images with a face of the mean cosine to every training face; null when none has a face. */
  meanSimilarity: number | null;
  /** Share of the images with a face whose similarity reaches SAME_PERSON; null when none has a face. */
  sameShare: number | null;
}

/** Descriptors of the training faces (images without a face are left out). */
export async function trainingFaces(
  embedder: FaceEmbedder,
  files: readonly string[],
): Promise<Float32Array[]> {
  const found: Float32Array[] = [];
  for (const file of files) {
    const descriptor = await embedFile(embedder, file);
    if (descriptor) found.push(descriptor);
  }
  return found;
}

/** Scores generated images against the training faces (`reference` must not be empty). */
export async function identityScores(
  embedder: FaceEmbedder,
  reference: readonly Float32Array[],
  generated: readonly string[],
): Promise<IdentityScores> {
  const similarities: number[] = [];
  for (const file of generated) {
    const descriptor = await embedFile(embedder, file);
    if (!descriptor) continue;
    const sum = reference.reduce((total, face) => total + cosineSimilarity(descriptor, face), 0);
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
