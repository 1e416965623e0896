import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { layoutDataset, type LayoutOptions } from "./index.ts";

let root: string;
const png = (path: string, width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: "#808080" } })
    .png()
    .toFile(path);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-layout-"));
  for (const dir of ["a", "b", "r"]) await mkdir(join(root, dir));
  await png(join(root, "a", "a1.png"), 512, 512);
  await png(join(root, "a", "a2.png"), 512, 512);
  await png(join(root, "a", "a3.png"), 768, 512);
  await writeFile(join(root, "a", "a1.txt"), "ohwx, smile");
  await writeFile(join(root, "a", "a4.heic"), "a format danlu does not train on");
  await png(join(root, "b", "b1.png"), 512, 768);
  await png(join(root, "r", "r1.png"), 512, 512);
  await png(join(root, "r", "r2.png"), 512, 512);
});
afterEach(() => rm(root, { recursive: true, force: true }));

function options(overrides: Partial<LayoutOptions> = {}): LayoutOptions {
  return {
    concepts: [
      { name: "ohwx", dir: join(root, "a") },
      { name: "style b", dir: join(root, "b") },
    ],
    repeats: new Map([["ohwx", 2]]),
    reg: { name: "woman", dir: join(root, "r") },
    out: join(root, "out"),
    regOut: join(root, "reg"),
    captionExtension: ".txt",
    replace: false,
    training: {
      arch: "sd15",
      epochs: 3,
      batchSize: 4,
      resolution: [512, 512],
      minBucketReso: 256,
      maxBucketReso: 1024,
      bucketResoSteps: 64,
      bucketNoUpscale: false,
    },
    ...overrides,
  };
}

describe("layoutDataset", () => {
  it("writes {repeats}_{name} folders with hard links and caption copies, and plans steps and buckets", async () => {
    const result = await layoutDataset(options());
    expect(result.folders.map((f) => [f.folder, f.images, f.repeats, f.perEpoch])).toEqual([
      ["2_ohwx", 3, 2, 6],
      ["6_style b", 1, 6, 6], // balanced: 1 image x 6 = ohwx's 3 x 2
      ["1_woman", 2, 1, 12], // cycled to the 12 training samples
    ]);
    expect(result.folders.map((f) => f.isReg)).toEqual([false, false, true]);
    expect((await readdir(root)).sort()).toEqual(["a", "b", "out", "r", "reg"]);
    expect((await readdir(join(root, "out"))).sort()).toEqual([".danlu-layout.json", "2_ohwx", "6_style b"]);
    expect((await readdir(join(root, "reg"))).sort()).toEqual([".danlu-layout.json", "1_woman"]);
    expect((await readdir(join(root, "out", "2_ohwx"))).sort()).toEqual([
      "a1.png",
      "a1.txt",
      "a2.png",
      "a3.png",
    ]);
    expect(result.skipped).toEqual([join(root, "a", "a4.heic")]);

    const [source, linked] = await Promise.all([
      stat(join(root, "a", "a1.png")),
      stat(join(root, "out", "2_ohwx", "a1.png")),
    ]);
    expect(linked.ino).toBe(source.ino);
    const [caption, copied] = await Promise.all([
      stat(join(root, "a", "a1.txt")),
      stat(join(root, "out", "2_ohwx", "a1.txt")),
    ]);
    expect(copied.ino).not.toBe(caption.ino);
    expect(await readFile(join(root, "out", "2_ohwx", "a1.txt"), "utf8")).toBe("ohwx, smile");
    expect([result.written.linked, result.written.copied, result.written.captions]).toEqual([6, 0, 1]);

    // 512x512: 2x2 ohwx + 12 reg = 16 -> 4 batches of 4; 640x384: 2 -> 1; 384x640: 6 -> 2. 7 x 3 epochs.
    expect(result.plan.buckets).toEqual([
      { size: [384, 640], count: 6 },
      { size: [512, 512], count: 16 },
      { size: [640, 384], count: 2 },
    ]);
    expect([result.plan.stepsPerEpoch, result.plan.totalSteps]).toEqual([7, 21]);
    const a3 = result.images.find((image) => image.file === "2_ohwx/a3.png");
    expect(a3).toMatchObject({ size: [768, 512], bucket: [640, 384], resized: [640, 427], cropped: [0, 43] });
    expect(a3?.scale).toBeCloseTo(640 / 768);
    expect(a3?.croppedShare).toBeCloseTo(43 / 427);
    expect(result.images.find((image) => image.isReg)?.file).toBe("1_woman/r1.png");
    expect(result.warnings.filter((w) => !w.includes("have no '.txt' file"))).toEqual([]);
    expect(result.trainFlags).toEqual([
      "--train-data-dir",
      join(root, "out"),
      "--reg-data-dir",
      join(root, "reg"),
      "--max-train-epochs",
      "3",
      "--train-batch-size",
      "4",
      "--resolution",
      "512",
    ]);
  });

  it("refuses a non-empty folder it did not write, and replaces its own layout only with replace", async () => {
    await mkdir(join(root, "out"));
    await writeFile(join(root, "out", "notes.txt"), "mine");
    await expect(layoutDataset(options())).rejects.toThrow(/not empty and was not written by danlu/u);
    await rm(join(root, "out", "notes.txt"));

    await layoutDataset(options());
    await expect(layoutDataset(options())).rejects.toThrow(/already holds a layout/u);
    const again = await layoutDataset(
      options({ replace: true, repeats: new Map(), reg: null, regOut: null }),
    );
    expect(again.folders.map((f) => f.folder)).toEqual(["200_style b", "67_ohwx"]); // in folder-name order, as kohya reads them
    expect((await readdir(join(root, "out"))).sort()).toEqual([
      ".danlu-layout.json",
      "200_style b",
      "67_ohwx",
    ]);
    expect((await readdir(join(root, "a"))).length).toBe(5); // the sources are untouched
  });

  it("writes the reg images to their own reg_data_dir, never inside the train_data_dir", async () => {
    await expect(layoutDataset(options({ regOut: null }))).rejects.toThrow(/--reg needs --reg-out/u);
    await expect(layoutDataset(options({ regOut: join(root, "out", "reg") }))).rejects.toThrow(
      /must be separate folders, neither inside the other/u,
    );
    await expect(layoutDataset(options({ out: join(root, "reg", "img") }))).rejects.toThrow(
      /separate folders/u,
    );
    await expect(layoutDataset(options({ reg: null }))).rejects.toThrow(/--reg-out is given without --reg/u);
    await mkdir(join(root, "reg"));
    await writeFile(join(root, "reg", "mine.txt"), "x");
    await expect(layoutDataset(options())).rejects.toThrow(/--reg-out .* is not empty/u);
    await expect(stat(join(root, "out"))).rejects.toThrow(); // refused before the train_data_dir was written
  });

  it("checks the bucket settings before writing anything", async () => {
    const bad = options({ training: { ...options().training, resolution: [500, 500] } });
    await expect(layoutDataset(bad)).rejects.toThrow(/not a multiple of 64/u);
    await expect(stat(join(root, "out"))).rejects.toThrow();
  });

  it("says which concept folder has no images", async () => {
    await mkdir(join(root, "empty"));
    const empty = options({ concepts: [{ name: "x", dir: join(root, "empty") }], repeats: new Map() });
    await expect(layoutDataset(empty)).rejects.toThrow(/--concept x=.*no images/u);
  });
});
