import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp, { type Sharp } from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { PHOTOS } from "../../../test/fixtures/bad-files/corpus.ts";
import { canonicalPixels, toRaw } from "../images.ts";
import { importImages } from "../import/index.ts";
import { readManifest } from "../manifest.ts";
import { findDuplicates } from "./duplicates.ts";
import { applyFixes } from "./fix.ts";
import { checkDataset, type CheckReport } from "./index.ts";
import { formatCheckReport } from "./report.ts";
import { sheetLabel, writeContactSheet } from "./sheet.ts";
import { hammingDistance, hashFromPixels } from "./phash.ts";
import { DEFAULT_BLUR_THRESHOLD, laplacianVariance, normalisedGrey } from "./sharpness.ts";

const WHITE = { r: 255, g: 255, b: 255 };
const sharpness = async (image: Sharp): Promise<number> =>
  laplacianVariance(await normalisedGrey(await toRaw(image, 3)));

describe("sharpness calibration", () => {
  it.each(["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg"])(
    "%s is sharp and its sigma-2 blurred copy is blurry",
    async (file) => {
      expect(await sharpness(canonicalPixels(join(PHOTOS, file), WHITE))).toBeGreaterThan(
        DEFAULT_BLUR_THRESHOLD * 3,
      );
      const blurred = await sharpness(canonicalPixels(join(PHOTOS, file), WHITE).blur(2));
      expect(blurred).toBeLessThan(DEFAULT_BLUR_THRESHOLD / 3);
    },
  );
});

describe("perceptual hash", () => {
  it("is 0 bits apart for the same pixels and about half apart for unrelated noise", () => {
    const a = Uint8Array.from({ length: 1024 }, (_, i) => (i * 37) % 251);
    const b = Uint8Array.from({ length: 1024 }, (_, i) => (i * 91 + 13) % 241);
    expect(hammingDistance(hashFromPixels(a), hashFromPixels(a))).toBe(0);
    expect(hammingDistance(hashFromPixels(a), hashFromPixels(b))).toBeGreaterThan(16);
  });

  it("pairs near-duplicates and keeps the larger, then the sharper", () => {
    const m = (file: string, phash: string, width: number, s: number) => ({
      file,
      phash,
      width,
      height: width,
      sharpness: s,
    });
    const pairs = findDuplicates(
      [
        m("a.png", "ffff0000ffff0000", 512, 100),
        m("b.png", "ffff0000ffff0001", 1024, 50),
        m("c.png", "0000ffff0000ffff", 512, 1),
      ],
      12,
    );
    expect(pairs).toEqual([{ keep: "b.png", drop: "a.png", distance: 1 }]);
  });
});

describe("checkDataset", () => {
  it("says so when DIR is not a folder", async () => {
    await expect(
      checkDataset(join(tmpdir(), "danlu-no-such-folder"), { detectPeople: false }),
    ).rejects.toThrow(/is not a folder/);
  });

  let dir: string;
  let report: CheckReport;
  beforeAll(async () => {
    const work = await mkdtemp(join(tmpdir(), "danlu-check-"));
    const src = join(work, "src");
    await importImages([PHOTOS], { outDir: join(work, "tmp") }); // warms nothing; proves import -> check works
    dir = join(work, "tmp");
    await sharp(join(PHOTOS, "coffee.png"))
      .resize(300)
      .jpeg({ quality: 60 })
      .toFile(join(src + "-dup.jpg"));
    await sharp(join(PHOTOS, "rocket.jpg")).blur(3).png().toFile(join(dir, "rocket-blurred.png"));
    await sharp(join(PHOTOS, "camera.png"))
      .extract({ left: 0, top: 150, width: 512, height: 200 })
      .toFile(join(dir, "strip.png"));
    const half = await sharp(join(PHOTOS, "astronaut.png")).resize(256, 256).toBuffer();
    await sharp({ create: { width: 512, height: 256, channels: 3, background: "#fff" } })
      .composite([
        { input: half, left: 0, top: 0 },
        { input: half, left: 256, top: 0 },
      ])
      .png()
      .toFile(join(dir, "two-people.png"));
    await importImages([src + "-dup.jpg"], { outDir: dir });
    await writeFile(join(dir, "coffee-dup.txt"), "a cup\n");
    await writeFile(join(dir, "broken.png"), "not a png");
    report = await checkDataset(dir);
  });

  const flagsOf = (file: string) => report.images.find((image) => image.file === file)?.flags;

  it("flags small, wide, blurry, duplicate, several people and unreadable images", () => {
    expect(flagsOf("astronaut.png")).toEqual([]);
    expect(flagsOf("chelsea.png")).toEqual(["small"]);
    expect(flagsOf("strip.png")).toEqual(["small", "aspect"]);
    expect(flagsOf("rocket-blurred.png")).toContain("blurry");
    expect(flagsOf("src-dup.png")).toEqual(["small", "duplicate"]);
    expect(flagsOf("two-people.png")).toContain("several-people");
    expect(flagsOf("broken.png")).toEqual(["unreadable"]);
    expect(report.duplicates).toContainEqual(
      expect.objectContaining({ keep: "coffee.png", drop: "src-dup.png" }),
    );
    expect(report.images.find((image) => image.file === "camera.png")).toMatchObject({ faces: 1, people: 1 });
    expect(formatCheckReport(report)).toMatch(/near-duplicates of a better image/);
  });

  it("draws a contact sheet with one tile per image", async () => {
    const sheet = join(dir, "..", "sheet.png");
    expect(await writeContactSheet(report, sheet)).toBe(report.images.length);
    const meta = await sharp(sheet).metadata();
    expect(meta.width).toBe(8 * 198 + 6);
    // Tile 0 (astronaut.png) has a thin green frame; tile 1 (broken.png) a thick red one.
    const at = async (left: number, top: number) => [
      ...(await sharp(sheet).extract({ left, top, width: 1, height: 1 }).raw().toBuffer()),
    ];
    const [r0, g0] = await at(6 + 1, 6 + 100);
    expect(g0).toBeGreaterThan(150);
    expect(r0).toBeLessThan(100);
    const [r1, g1] = await at(6 + 198 + 1, 6 + 100);
    expect(r1).toBeGreaterThan(200);
    expect(g1).toBeLessThan(100);
    // Under each tile: the name, then size, sharpness and the face count, spelled out.
    const camera = report.images.find((image) => image.file === "camera.png");
    expect(camera && sheetLabel(camera)).toEqual([
      "camera.png",
      `512x512 · sharpness ${Math.round(camera?.sharpness ?? 0)} · 1 face`,
    ]);
    expect(
      sheetLabel({ file: "x.png", width: 64, height: 32, sharpness: 12.4, phash: "0", flags: [] }),
    ).toEqual(["x.png", "64x32 · sharpness 12"]);
  });

  it("--fix moves the worse duplicate, the blurry and the unreadable into _rejected/ with captions", async () => {
    const actions = await applyFixes(report);
    expect(actions.map((action) => action.file).sort()).toEqual([
      "broken.png",
      "rocket-blurred.png",
      "src-dup.png",
    ]);
    const rejected = (await readdir(join(dir, "_rejected"))).sort();
    expect(rejected).toEqual(["broken.png", "manifest.json", "rocket-blurred.png", "src-dup.png"]);
    const manifest = await readManifest(dir);
    expect(manifest.images["src-dup.png"]).toBeUndefined();
    expect(manifest.images["astronaut.png"]?.check?.faces).toBe(1);
    const aside = await readManifest(join(dir, "_rejected"));
    expect(aside.images["src-dup.png"]?.rejected?.reason).toMatch(/near-duplicate of coffee.png/);
    expect(await readFile(join(dir, "coffee-dup.txt"), "utf8")).toBe("a cup\n"); // not this image's caption
  });
});
