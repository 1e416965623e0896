/**
 * Comparing dlib ResNet face descriptors. dlib's model was trained so that the euclidean distance of two
 * descriptors is below 0.6 for the same person (99.38% on LFW at that threshold, per dlib's release
 * notes), so distance is the primary measure here. For reports and averages it is also mapped onto
 * [0, 1]: identitySimilarity = 1 - distance / (2 * SAME_PERSON_DISTANCE), clamped, so the same-person
 * line sits at exactly 0.5, identical descriptors score 1 and distance 1.2 or more scores 0.
 */

/** dlib's own same-person threshold on the euclidean distance of two descriptors. */
export const SAME_PERSON_DISTANCE = 0.6;

/** identitySimilarity at or above which two faces are called the same person (distance <= 0.6). */
export const SAME_PERSON = 0.5;

/** Euclidean distance of two descriptors (0 = identical; below SAME_PERSON_DISTANCE = same person). */
export function descriptorDistance(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`descriptor lengths differ: ${a.length} and ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/** Identity similarity in [0, 1]; SAME_PERSON (0.5) corresponds to dlib's 0.6 distance. */
export function identitySimilarity(a: Float32Array, b: Float32Array): number {
  const similarity = 1 - descriptorDistance(a, b) / (2 * SAME_PERSON_DISTANCE);
  return Math.min(1, Math.max(0, similarity));
}

/** Element-wise mean of descriptors: one descriptor standing for a set of photos of one person. */
export function meanDescriptor(list: readonly Float32Array[]): Float32Array {
  const first = list[0];
  if (!first) throw new Error("meanDescriptor needs at least one descriptor");
  const mean = new Float32Array(first.length);
  for (const descriptor of list) {
    if (descriptor.length !== mean.length) throw new Error("descriptor lengths differ");
    for (let i = 0; i < mean.length; i++) mean[i] = (mean[i] ?? 0) + (descriptor[i] ?? 0) / list.length;
  }
  return mean;
}
