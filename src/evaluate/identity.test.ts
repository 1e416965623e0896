import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../engine/python.ts";
import { loadFaceAnalyzer, SAME_PERSON, type FaceAnalyzer } from "../faces/index.ts";
import { identityScores, trainingFaces } from "./identity.ts";

const photo = (name: string) => join(REPO_ROOT, "fixtures", "photos", name);

let analyzer: FaceAnalyzer;

beforeAll(async () => {
  analyzer = await loadFaceAnalyzer();
}, 60_000);

describe("identity scores (dlib ResNet descriptors via src/faces)", () => {
  it("keeps only the training images with a face", async () => {
    const faces = await trainingFaces(analyzer, [
      photo("astronaut.png"),
      photo("coffee.png"),
      photo("chelsea.png"),
    ]);
    expect(faces).toHaveLength(1);
    expect(faces[0]).toHaveLength(128);
  });

  it("reports the share of images with a face and their similarity to the training faces", async () => {
    const reference = await trainingFaces(analyzer, [photo("astronaut.png")]);
    const scores = await identityScores(analyzer, reference, [
      photo("astronaut.png"),
      photo("camera.png"),
      photo("coffee.png"),
    ]);
    expect(scores.images).toBe(3);
    expect(scores.withFace).toBe(2);
    expect(scores.faceRate).toBeCloseTo(2 / 3, 6);
    // mean of 1.0 (the same photo) and ~0.32 (another person: dlib distance ~0.82)
    expect(scores.meanSimilarity).toBeGreaterThan(SAME_PERSON);
    expect(scores.meanSimilarity).toBeLessThan(0.75);
    expect(scores.sameShare).toBeCloseTo(0.5, 6);
  });
});
