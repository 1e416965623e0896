import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp, { type Sharp } from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../engine/python.ts";
import { openImage } from "../dataset/images.ts";
import {
  analyzeFile,
  descriptorDistance,
  identitySimilarity,
  loadFaceAnalyzer,
  meanDescriptor,
  SAME_PERSON,
  SAME_PERSON_DISTANCE,
  type Face,
  type FaceAnalyzer,
} from "./index.ts";

const photo = (name: string) => join(REPO_ROOT, "fixtures", "photos", name);

/** Materializes an edit (sharp keeps only the last resize of a pipeline; JPEG stays a JPEG round trip). */
async function edited(file: string, edit: (image: Sharp) => Sharp): Promise<Sharp> {
  return sharp(
    await sharp(await edit(openImage(file)).toBuffer())
      .png()
      .toBuffer(),
  );
}

let analyzer: FaceAnalyzer;
let astronaut: Face;
let cameraman: Face;
const dir = mkdtempSync(join(tmpdir(), "danlu-faces-"));

beforeAll(async () => {
  analyzer = await loadFaceAnalyzer();
  [astronaut] = (await analyzeFile(analyzer, photo("astronaut.png"))) as [Face];
  [cameraman] = (await analyzeFile(analyzer, photo("camera.png"))) as [Face];
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("identity similarity", () => {
  it("maps dlib's 0.6 distance onto SAME_PERSON and stays in [0, 1]", () => {
    const zero = new Float32Array(128);
    const at = (distance: number) => Float32Array.from({ length: 128 }, (_, i) => (i === 0 ? distance : 0));
    expect(identitySimilarity(zero, zero)).toBe(1);
    expect(identitySimilarity(zero, at(SAME_PERSON_DISTANCE))).toBeCloseTo(SAME_PERSON, 6);
    expect(identitySimilarity(zero, at(3))).toBe(0);
    expect(descriptorDistance(zero, at(0.25))).toBeCloseTo(0.25, 6);
    expect(Array.from(meanDescriptor([at(1), at(3)]).slice(0, 2))).toEqual([2, 0]);
    expect(() => meanDescriptor([])).toThrow();
  });
});

describe("face analyzer (BlazeFace + FaceMesh from human, dlib ResNet from face-api)", () => {
  it("finds one face per portrait with a 128-number descriptor, a box and a sharpness", () => {
    for (const face of [astronaut, cameraman]) {
      expect(face.descriptor).toHaveLength(128);
      expect(face.score).toBeGreaterThan(0.5);
      expect(face.sharpness).toBeGreaterThan(0);
    }
    // the astronaut's face is in the upper middle of the 512 px photo
    expect(astronaut.box.x).toBeGreaterThan(100);
    expect(astronaut.box.x + astronaut.box.width).toBeLessThan(350);
    expect(astronaut.box.width).toBeGreaterThan(100);
  });

  it("finds no face in a cat or a cup", async () => {
    expect(await analyzeFile(analyzer, photo("chelsea.png"))).toEqual([]);
    expect(await analyzeFile(analyzer, photo("coffee.png"))).toEqual([]);
  });

  it("scores the same person above SAME_PERSON and two people below it, under edits", async () => {
    const edits: [string, (image: Sharp) => Sharp][] = [
      ["crop", (i) => i.extract({ left: 77, top: 0, width: 358, height: 358 })],
      ["flip", (i) => i.flop()],
      ["scale 50%", (i) => i.resize(256)],
      ["JPEG q30", (i) => i.jpeg({ quality: 30 })],
      ["blur", (i) => i.blur(1.5)],
    ];
    const people = [
      { file: "astronaut.png", original: astronaut, other: cameraman },
      { file: "camera.png", original: cameraman, other: astronaut },
    ];
    expect(identitySimilarity(astronaut.descriptor, cameraman.descriptor)).toBeLessThan(SAME_PERSON);
    for (const { file, original, other } of people) {
      for (const [name, edit] of edits) {
        if (file === "camera.png" && name === "crop") continue; // BlazeFace loses the half-hidden face when cropped
        const [face] = await analyzer.analyze(await edited(photo(file), edit));
        expect(face, `${file} ${name}`).toBeDefined();
        expect(identitySimilarity(face!.descriptor, original.descriptor), `${file} ${name}`).toBeGreaterThan(
          SAME_PERSON,
        );
        expect(identitySimilarity(face!.descriptor, other.descriptor), `${file} ${name}`).toBeLessThan(
          SAME_PERSON,
        );
      }
    }
  });

  it("gives boxes in the file's pixels after EXIF orientation, at any image size", async () => {
    // stored on its side, EXIF orientation 6 (rotate 90° clockwise to display): displays upright
    const sideways = join(dir, "sideways.jpg");
    await openImage(photo("astronaut.png"))
      .rotate(-90)
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toFile(sideways);
    const [upright] = await analyzeFile(analyzer, sideways);
    expect(upright!.box.x).toBeCloseTo(astronaut.box.x, -1);
    expect(upright!.box.y).toBeCloseTo(astronaut.box.y, -1);

    const [large] = await analyzer.analyze(await edited(photo("astronaut.png"), (i) => i.resize(1024)));
    expect(large!.box.x / 2).toBeCloseTo(astronaut.box.x, -1);
    expect(large!.box.width / 2).toBeCloseTo(astronaut.box.width, -1);
    expect(identitySimilarity(large!.descriptor, astronaut.descriptor)).toBeGreaterThan(0.8);
  });

  it("measures a blurred face as less sharp", async () => {
    const [blurred] = await analyzer.analyze(await edited(photo("astronaut.png"), (i) => i.blur(2)));
    expect(blurred!.sharpness).toBeLessThan(astronaut.sharpness / 2);
  });
});
