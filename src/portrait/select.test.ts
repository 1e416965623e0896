import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DanluError } from "../errors.ts";
import { loadFaceAnalyzer, type Face, type FaceAnalyzer } from "../faces/index.ts";
import { judgeFaces, SELECT_DEFAULTS, selectPhotos } from "./select.ts";
import { SELFIE_FILES, writeSelfies } from "./testing/selfies.ts";

let dir = "";
let analyzer: FaceAnalyzer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "danlu-select-"));
  await writeSelfies(dir);
  // a near-copy (the same photo re-encoded) and a photo too small to upscale 2x to the training size
  await sharp(join(dir, SELFIE_FILES.good[0])).jpeg({ quality: 80 }).toFile(join(dir, "me-1-again.jpg"));
  await sharp(join(dir, SELFIE_FILES.good[1])).resize(200, 200).toFile(join(dir, "tiny.png"));
  analyzer = await loadFaceAnalyzer();
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const face = (width: number): Face => ({
  box: { x: 0, y: 0, width, height: width },
  score: 0.9,
  descriptor: new Float32Array(128),
  sharpness: 10,
});

describe("selectPhotos", () => {
  it("keeps one person's good photos and names every dropped one with its reason", async () => {
    const selection = await selectPhotos(dir, analyzer);
    const reasons = Object.fromEntries(selection.dropped.map((d) => [d.file, d.reason]));
    expect(reasons).toEqual({
      [SELFIE_FILES.blurry]: "blurry",
      [SELFIE_FILES.group]: "several-faces",
      [SELFIE_FILES.intruder]: "other-person",
      "me-1-again.jpg": "duplicate",
      "tiny.png": "small",
    });
    expect(selection.kept.map((k) => k.file).sort()).toEqual([...SELFIE_FILES.good].sort());
    expect(selection.identity).toHaveLength(128);
  }, 60_000);

  it("says how many more photos it needs, listing what it dropped", async () => {
    const error = await selectPhotos(dir, analyzer, { minPhotos: 9 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DanluError);
    expect((error as DanluError).message).toContain("only 6 good photos");
    expect((error as DanluError).message).toContain(`${SELFIE_FILES.group}: 2 faces of similar size`);
    expect((error as DanluError).hint).toContain("add 3 or more photos");
  }, 60_000);
});

describe("judgeFaces", () => {
  const o = { dominance: SELECT_DEFAULTS.dominance, minFaceShare: SELECT_DEFAULTS.minFaceShare };
  it("keeps the largest face when it clearly dominates, and says so", () => {
    const verdict = judgeFaces([face(200), face(100)], 800, o); // 4x the area
    expect(verdict).toMatchObject({ note: expect.stringContaining("largest of 2 faces") });
  });
  it("drops a photo whose faces are of similar size, with no face, or with a tiny face", () => {
    expect(judgeFaces([face(200), face(150)], 800, o)).toMatchObject({ reason: "several-faces" });
    expect(judgeFaces([], 800, o)).toMatchObject({ reason: "no-face" });
    expect(judgeFaces([face(40)], 800, o)).toMatchObject({ reason: "small-face" });
  });
});
