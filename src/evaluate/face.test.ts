import { join } from "node:path";
import sharp, { type Sharp } from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../engine/python.ts";
import { openImage } from "../dataset/images.ts";
import { cosineSimilarity, loadFaceEmbedder, SAME_PERSON, type FaceEmbedder } from "./face.ts";
import { identityScores } from "./identity.ts";

const photo = (name: string) => join(REPO_ROOT, "fixtures", "photos", name);

/** Materializes an edited image (sharp keeps only the last resize of a pipeline). */
async function edited(file: string, edit: (image: Sharp) => Sharp): Promise<Sharp> {
  return sharp(await edit(openImage(file)).png().toBuffer());
}

let embedder: FaceEmbedder;
let astronaut: Float32Array;
let cameraman: Float32Array;

beforeAll(async () => {
  embedder = await loadFaceEmbedder();
  astronaut = (await embedder.embed(openImage(photo("astronaut.png"))))!;
  cameraman = (await embedder.embed(openImage(photo("camera.png"))))!;
  expect(astronaut).toHaveLength(1024);
  expect(cameraman).toHaveLength(1024);
}, 60_000);

describe("face identity similarity (HSE FaceRes from @vladmandic/human)", () => {
  it("scores the same face under crops, flips and downscaling high", async () => {
    const variants = [
      [photo("astronaut.png"), (i: Sharp) => i.extract({ left: 100, top: 0, width: 300, height: 300 }), "a"],
      [photo("astronaut.png"), (i: Sharp) => i.flop(), "a"],
      [photo("astronaut.png"), (i: Sharp) => i.resize(200), "a"],
      [photo("camera.png"), (i: Sharp) => i.extract({ left: 100, top: 0, width: 350, height: 350 }), "c"],
      [photo("camera.png"), (i: Sharp) => i.flop(), "c"],
      [photo("camera.png"), (i: Sharp) => i.resize(256), "c"],
    ] as const;
    for (const [file, edit, who] of variants) {
      const descriptor = await embedder.embed(await edited(file, edit));
      expect(descriptor, `${file} ${String(edit)}`).not.toBeNull();
      const same = who === "a" ? astronaut : cameraman;
      const other = who === "a" ? cameraman : astronaut;
      expect(cosineSimilarity(descriptor!, same)).toBeGreaterThan(0.85);
      expect(cosineSimilarity(descriptor!, other)).toBeLessThan(0.5);
    }
  });

  it("scores two different people low and finds no face in a cat or a cup", async () => {
    expect(cosineSimilarity(astronaut, cameraman)).toBeLessThan(SAME_PERSON);
    expect(await embedder.embed(openImage(photo("chelsea.png")))).toBeNull();
    expect(await embedder.embed(openImage(photo("coffee.png")))).toBeNull();
  });

  it("reports the share of images with a face and their similarity to the training faces", async () => {
    const scores = await identityScores(
      embedder,
      [astronaut],
      [photo("astronaut.png"), photo("camera.png"), photo("coffee.png")],
    );
    expect(scores.images).toBe(3);
    expect(scores.withFace).toBe(2);
    expect(scores.faceRate).toBeCloseTo(2 / 3, 6);
    // mean of 1.0 (the same photo) and ~0.35 (another person)
    expect(scores.meanSimilarity).toBeGreaterThan(0.6);
    expect(scores.meanSimilarity).toBeLessThan(0.75);
    expect(scores.sameShare).toBeCloseTo(0.5, 6);
  });
});
