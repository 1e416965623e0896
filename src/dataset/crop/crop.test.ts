import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { PHOTOS } from "../../../test/fixtures/bad-files/corpus.ts";
import { readManifest } from "../manifest.ts";
import { detectInFile, loadDetector, type Box } from "./detector.ts";
import { cropDataset } from "./index.ts";
import { bucketAspects, chooseCrop, fitAspect, nearestBucketAspect, parseAspect } from "./region.ts";

const box = (x: number, y: number, width: number, height: number): Box => ({ x, y, width, height, score: 1 });

describe("detector (models shipped in @vladmandic/human)", () => {
  it.each([
    ["astronaut.png", 1],
    ["camera.png", 1],
    ["coffee.png", 0],
    ["chelsea.png", 0],
    ["rocket.jpg", 0],
  ])("%s has %i face(s)", async (file, faces) => {
    const found = await detectInFile(await loadDetector(), join(PHOTOS, file));
    expect(found.faces).toHaveLength(faces);
    expect(found.people).toBe(faces);
  });

  it("finds the astronaut's face in the upper middle and two faces side by side", async () => {
    const detector = await loadDetector();
    const [face] = (await detectInFile(detector, join(PHOTOS, "astronaut.png"))).faces;
    expect(face?.x).toBeGreaterThan(100);
    expect((face?.x ?? 0) + (face?.width ?? 0)).toBeLessThan(350);
    expect(face?.y).toBeLessThan(150);
    const half = await sharp(join(PHOTOS, "astronaut.png")).resize(256, 256).toBuffer();
    const two = join(await mkdtemp(join(tmpdir(), "danlu-two-")), "two.png");
    await sharp({ create: { width: 512, height: 256, channels: 3, background: "#fff" } })
      .composite([
        { input: half, left: 0, top: 0 },
        { input: half, left: 256, top: 0 },
      ])
      .toFile(two);
    const found = await detectInFile(detector, two);
    expect(found.faces).toHaveLength(2);
    expect(found.people).toBe(2);
  });
});

describe("crop geometry", () => {
  it("lists the 17 SD 1.5 bucket aspects and picks the nearest", () => {
    expect(bucketAspects()).toHaveLength(17);
    expect(nearestBucketAspect(0.7)).toBeCloseTo(448 / 576); // 384x640 (0.6) is further in log ratio
    expect(nearestBucketAspect(5)).toBe(4);
  });

  it("fits a box to an aspect and keeps it inside the image", () => {
    // 100x100 at (10,10) becomes 100x150 about the same centre; its top (-15) slides to 0
    expect(fitAspect(box(10, 10, 100, 100), 2 / 3, { width: 500, height: 500 })).toEqual({
      left: 10,
      top: 0,
      width: 100,
      height: 150,
    });
  });

  it("slides and shrinks a crop that would leave the image", () => {
    const rect = fitAspect(box(-50, 0, 200, 400), 1, { width: 300, height: 300 });
    expect(rect).toEqual({ left: 0, top: 0, width: 300, height: 300 });
  });

  it("skips or takes the largest of several faces, and says why there is no crop", () => {
    const detection = { faces: [box(0, 0, 10, 10), box(100, 100, 40, 40)], bodies: [], people: 2 };
    const size = { width: 400, height: 400 };
    const base = { mode: "face" as const, margin: 0, aspect: 1 };
    expect(chooseCrop(detection, size, { ...base, multi: "skip" }).reason).toBe("2 faces (--multi skip)");
    expect(chooseCrop(detection, size, { ...base, multi: "largest" }).rect).toEqual({
      left: 100,
      top: 100,
      width: 40,
      height: 40,
    });
    const none = { faces: [], bodies: [], people: 0 };
    expect(chooseCrop(none, size, { ...base, multi: "largest" }).reason).toBe("no face found");
  });

  it("person mode takes the body box holding the face, else estimates a body from the face", () => {
    const face = box(100, 50, 40, 40);
    const options = { mode: "person" as const, margin: 0, aspect: 0.5, multi: "largest" as const };
    const size = { width: 1000, height: 1000 };
    const body = box(60, 30, 120, 400);
    expect(chooseCrop({ faces: [face], bodies: [body], people: 1 }, size, options).rect).toEqual({
      left: 20,
      top: 30,
      width: 200,
      height: 400,
    });
    const elsewhere = box(600, 30, 120, 400);
    const estimated = chooseCrop({ faces: [face], bodies: [elsewhere], people: 1 }, size, options).rect;
    expect(estimated?.top).toBe(26); // 0.6 face heights above the face
    expect(estimated?.height).toBe(312); // down to 7.2 face heights below the face's top
  });

  it("parses --aspect", () => {
    expect(parseAspect("2:3")).toBeCloseTo(2 / 3);
    expect(parseAspect("bucket")).toBe("bucket");
    expect(parseAspect("wide")).toBeUndefined();
  });
});

describe("cropDataset", () => {
  it("crops the people around their faces, skips the photos without one, copies captions", async () => {
    const work = await mkdtemp(join(tmpdir(), "danlu-crop-"));
    const src = join(work, "src");
    await mkdir(src);
    for (const file of ["astronaut.png", "camera.png", "coffee.png"])
      await copyFile(join(PHOTOS, file), join(src, file));
    await writeFile(join(src, "astronaut.txt"), "woman, spacesuit\n");
    const report = await cropDataset(src, {
      outDir: join(work, "out"),
      mode: "upper-body",
      margin: 0.1,
      aspect: 2 / 3,
      multi: "largest",
    });
    const byFile = Object.fromEntries(report.entries.map((entry) => [entry.file, entry]));
    expect(byFile["coffee.png"]).toMatchObject({ status: "skipped", reason: "no face found" });
    expect(byFile["astronaut.png"]?.status).toBe("cropped");
    const rect = byFile["astronaut.png"]?.rect;
    expect((rect?.width ?? 0) / (rect?.height ?? 1)).toBeCloseTo(2 / 3, 1);
    expect((await readdir(join(work, "out"))).sort()).toEqual([
      "astronaut.png",
      "astronaut.txt",
      "camera.png",
      "manifest.json",
    ]);
    expect(await readFile(join(work, "out", "astronaut.txt"), "utf8")).toBe("woman, spacesuit\n");
    const meta = await sharp(join(work, "out", "astronaut.png")).metadata();
    expect([meta.width, meta.height]).toEqual([rect?.width, rect?.height]);
    const manifest = await readManifest(join(work, "out"));
    expect(manifest.images["camera.png"]?.derived_from).toMatchObject({
      file: "camera.png",
      operation: "crop upper-body",
    });
  });
});
