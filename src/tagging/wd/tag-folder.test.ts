import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readManifest, writeManifest } from "../../dataset/manifest.ts";
import { loadCaptioner } from "../caption/captioner.ts";
import { writeTinyCaptioner } from "../caption/testing/tiny-captioner.ts";
import { DEFAULT_FORMAT } from "./select.ts";
import { tagFolder, type TagFolderOptions } from "./tag-folder.ts";
import { writeTinyTagger } from "./testing/tiny-tagger.ts";

const fixtures = join(import.meta.dirname, "../../../fixtures/photos");
let models: string;
let dir: string;

beforeAll(async () => {
  models = await mkdtemp(join(tmpdir(), "danlu-tag-models-"));
  // Named like the real model, so its default general threshold (0.2614) applies.
  await writeTinyTagger(join(models, "wd-vit-tagger-v3"), { inputSize: 16 });
  await writeTinyTagger(join(models, "tiny-b"), {
    inputSize: 8,
    tags: [
      { name: "general", category: 9, weights: [0, 0, 0], bias: -3 },
      { name: "sensitive", category: 9, weights: [0, 0, 0], bias: 3 },
      { name: "questionable", category: 9, weights: [0, 0, 0], bias: -3 },
      { name: "explicit", category: 9, weights: [0, 0, 0], bias: -3 },
      { name: "blue_theme", category: 0, weights: [0, 0, 0], bias: 0.4 },
      { name: "solo", category: 0, weights: [0, 0, 0], bias: 2.2 },
    ],
  });
  await writeTinyCaptioner(join(models, "captioner"));
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-tag-"));
  // Square solid colours keep the tiny model's probabilities exact (padding would add white).
  const solid = (background: { r: number; g: number; b: number; alpha: number }, width = 32, height = 32) =>
    sharp({ create: { width, height, channels: 4, background } });
  await solid({ r: 0, g: 0, b: 255, alpha: 1 }).png().toFile(join(dir, "blue.png"));
  await solid({ r: 255, g: 0, b: 0, alpha: 1 }).jpeg({ quality: 100 }).toFile(join(dir, "red.jpg"));
  await solid({ r: 0, g: 0, b: 0, alpha: 0 }, 40, 30).png().toFile(join(dir, "clear.png")); // flattened: white
  await copyFile(join(fixtures, "truncated.jpg"), join(dir, "truncated.jpg"));
  await mkdir(join(dir, "sub"));
  await solid({ r: 0, g: 0, b: 255, alpha: 1 })
    .png()
    .toFile(join(dir, "sub", "nested.png"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(overrides: Partial<TagFolderOptions> = {}): TagFolderOptions {
  return {
    dir,
    taggers: [{ name: "wd-vit-tagger-v3", folder: join(models, "wd-vit-tagger-v3") }],
    format: DEFAULT_FORMAT,
    separator: ", ",
    existing: "overwrite",
    captionExtension: ".txt",
    batchSize: 2,
    recursive: false,
    reuseProbabilities: false,
    threads: 1,
    ...overrides,
  };
}

const caption = (name: string) => readFile(join(dir, name), "utf8");

describe("tagFolder", () => {
  it("writes captions beside the images and probabilities into the manifest", async () => {
    const progress: number[] = [];
    const report = await tagFolder(options({ onProgress: (done) => progress.push(done) }));
    expect(await caption("blue.txt")).toBe("blue theme, ^_^, long hair\n");
    expect(await caption("red.txt")).toBe("red theme, hatsune miku (vocaloid), long hair\n");
    expect(await caption("clear.txt")).toBe("white background, long hair\n");
    expect(report).toMatchObject({ images: 4, written: 3, reused: 0 });
    expect(report.failed.map((f) => f.name)).toEqual(["truncated.jpg"]);
    expect(progress.at(-1)).toBe(4);
    expect(report.tagCounts.get("long hair")).toBe(3);

    const manifest = await readManifest(dir);
    const blue = manifest.images["blue.png"];
    expect(blue).toMatchObject({ width: 32, height: 32, source: join(dir, "blue.png") });
    expect(manifest.images["clear.png"]).toMatchObject({ width: 40, height: 30 });
    const probs = blue?.tags?.["wd-vit-tagger-v3"] ?? {};
    expect(probs.blue_theme).toBeCloseTo(0.9975, 4);
    expect(probs.long_hair).toBeCloseTo(0.3, 4);
    expect(Object.keys(probs)).toContain("explicit"); // ratings are always kept
    expect(Object.keys(probs)).not.toContain("red_theme"); // 0.0025 is under the floor
    expect(manifest.images["sub/nested.png"]).toBeUndefined();
  });

  it("applies threshold overrides, rating and expansion options", async () => {
    const format = {
      ...DEFAULT_FORMAT,
      rating: "first" as const,
      expandCharacters: true,
      characterFirst: true,
    };
    const taggers = [{ name: "wd-vit-tagger-v3", folder: join(models, "wd-vit-tagger-v3"), general: 0.35 }];
    await tagFolder(options({ taggers, format }));
    expect(await caption("red.txt")).toBe("general, hatsune miku, vocaloid, red theme\n");
  });

  it("re-captions from stored probabilities for the same file content", async () => {
    await tagFolder(options());
    const manifest = await readManifest(dir);
    // A stored value the model would never produce proves the model was not asked again.
    manifest.images["blue.png"]!.tags!["wd-vit-tagger-v3"]!.white_background = 0.95;
    await writeManifest(dir, manifest);
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "#ff0000" } })
      .jpeg()
      .toFile(join(dir, "red.jpg")); // changed content: tagged again
    const taggers = [{ name: "wd-vit-tagger-v3", folder: join(models, "wd-vit-tagger-v3"), general: 0.5 }];
    const report = await tagFolder(options({ taggers, reuseProbabilities: true }));
    expect(report.reused).toBe(2); // blue.png and clear.png
    expect(await caption("blue.txt")).toBe("blue theme, white background, ^_^\n");
    expect(await caption("red.txt")).toBe("red theme, hatsune miku (vocaloid)\n");
  });

  it("refuses to reuse stored probabilities below the floor they were kept from", async () => {
    const taggers = [{ name: "wd-vit-tagger-v3", folder: join(models, "wd-vit-tagger-v3"), general: 0.01 }];
    await expect(tagFolder(options({ taggers, reuseProbabilities: true }))).rejects.toThrow(/below 0.05/);
  });

  it("appends to existing captions instead of overwriting when asked", async () => {
    await writeFile(join(dir, "blue.txt"), "mytrigger, blue theme\n");
    await tagFolder(options({ existing: "append" }));
    expect(await caption("blue.txt")).toBe("mytrigger, blue theme, ^_^, long hair\n");
  });

  it("merges several taggers: union of tags, highest probability, highest rating", async () => {
    const taggers = [
      { name: "wd-vit-tagger-v3", folder: join(models, "wd-vit-tagger-v3") },
      { name: "tiny-b", folder: join(models, "tiny-b") },
    ];
    const format = { ...DEFAULT_FORMAT, rating: "last" as const };
    await tagFolder(options({ taggers, format }));
    // solo 0.90 from tiny-b; blue theme keeps 0.9975 (tiny-b says 0.60); rating: sensitive 0.95 from tiny-b
    expect(await caption("blue.txt")).toBe("blue theme, solo, ^_^, long hair, sensitive\n");
    const stored = (await readManifest(dir)).images["blue.png"]?.tags ?? {};
    expect(Object.keys(stored).sort()).toEqual(["tiny-b", "wd-vit-tagger-v3"]);
  });

  it("puts a captioner's sentence first, then the tags, and walks subfolders when recursive", async () => {
    const captioner = await loadCaptioner(join(models, "captioner"), "captioner", { threads: 1 });
    const report = await tagFolder(options({ captioner, recursive: true }));
    await captioner.dispose();
    expect(await caption("clear.txt")).toBe("a bright photo, white background, long hair\n");
    expect(await caption("sub/nested.txt")).toBe("a dark photo, blue theme, ^_^, long hair\n");
    expect(report.written).toBe(4);
    expect((await readManifest(dir)).images["sub/nested.png"]).toBeDefined();
  });

  it("writes captions alone when no tagger is given, skipping a broken file", async () => {
    const captioner = await loadCaptioner(join(models, "captioner"), "captioner", { threads: 1 });
    const report = await tagFolder(options({ taggers: [], captioner }));
    await captioner.dispose();
    expect(await caption("blue.txt")).toBe("a dark photo\n");
    expect(report.failed.map((f) => f.name)).toEqual(["truncated.jpg"]);
    expect((await readManifest(dir)).images["blue.png"]?.tags).toBeUndefined();
  });
});
