import { mkdtemp, mkdir, readdir, readFile, writeFile, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import {
  PHOTOS,
  smallPng,
  writeBadCorpus,
  zipWithNames,
  type Corpus,
} from "../../../test/fixtures/bad-files/corpus.ts";
import { readManifest } from "../manifest.ts";
import { importImages, type ImportReport } from "./index.ts";

let work: string;
let corpus: Corpus;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "danlu-import-"));
  corpus = await writeBadCorpus(work);
});

function entryFor(report: ImportReport, suffix: string) {
  return report.entries.find((entry) => entry.source.endsWith(suffix));
}

describe("importImages with bad input", () => {
  it("refuses a path that does not exist, before writing anything", async () => {
    const out = join(work, "out-missing");
    const missing = join(work, "no-such-folder");
    await expect(importImages([missing], { outDir: out })).rejects.toThrow(
      `no such file or folder: ${missing}`,
    );
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it("rejects every bad file with its reason, imports the good zip entry, writes nothing outside DIR", async () => {
    const out = join(work, "out-bad");
    const report = await importImages([corpus.dir], { outDir: out });
    for (const [name, reason] of Object.entries(corpus.bad)) {
      const entry = entryFor(report, name);
      expect(entry, name).toBeDefined();
      expect(entry?.status, name).toBe("rejected");
      expect(entry?.reason, name).toMatch(reason);
    }
    expect(entryFor(report, "slip.zip:inside/fine.png")?.status).toBe("imported");
    expect((await readdir(out)).sort()).toEqual(["fine.png", "fine.txt", "manifest.json"]);
    expect(await readFile(join(out, "fine.txt"), "utf8")).toBe("green square\n"); // .caption from the zip
    expect((await readdir(work)).sort()).toEqual(["bad", "out-bad"]); // no ../evil.png beside DIR
  });

  it("rejects a whole archive over the total-size or entry-count limit", async () => {
    const dir = join(work, "zips");
    await mkdir(dir, { recursive: true });
    const png = await smallPng();
    const many = Array.from({ length: 5 }, (_, i) => ({ name: `p${i}.png`, data: png }));
    await writeFile(join(dir, "many.zip"), await zipWithNames(many));
    const limits = { maxEntries: 4, maxTotalBytes: png.length * 3, maxEntryBytes: 1e9, maxRatio: 100 };
    const report = await importImages([join(dir, "many.zip")], {
      outDir: join(work, "out-zips"),
      zipLimits: limits,
    });
    expect(report.entries).toHaveLength(1);
    expect(report.entries[0]?.reason).toMatch(/zip bomb guard: 5 entries \(limit 4\)/);
    const sized = await importImages([join(dir, "many.zip")], {
      outDir: join(work, "out-zips"),
      zipLimits: { ...limits, maxEntries: 100 },
    });
    expect(sized.entries[0]?.reason).toMatch(/zip bomb guard: \d+ bytes uncompressed/);
  });

  it("applies a configurable pixel limit", async () => {
    const report = await importImages([join(PHOTOS, "astronaut.png")], {
      outDir: join(work, "out-limit"),
      maxPixels: 512 * 511,
    });
    expect(report.entries[0]?.reason).toMatch(/decompression bomb guard: more than 261632 pixels/);
  });
});

describe("importImages with good input", () => {
  let src: string;
  beforeAll(async () => {
    src = join(work, "good");
    await mkdir(join(src, "sub"), { recursive: true });
    await copyFile(join(PHOTOS, "rocket.jpg"), join(src, "rocket.jpg"));
    await copyFile(join(PHOTOS, "camera.png"), join(src, "sub", "camera man (2).JPG")); // PNG bytes, wrong extension
    const rgba = {
      width: 40,
      height: 30,
      channels: 4 as const,
      background: { r: 255, g: 0, b: 0, alpha: 0 },
    };
    await sharp({ create: rgba })
      .png()
      .toFile(join(src, "sub", "transparent.png"));
    await sharp({ create: { width: 40, height: 20, channels: 3, background: "#00ff00" } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toFile(join(src, "rotated.jpg"));
    await sharp(join(PHOTOS, "chelsea.png")).toColourspace("cmyk").jpeg().toFile(join(src, "cmyk.jpg"));
    await sharp(join(PHOTOS, "coffee.png")).toColourspace("rgb16").png().toFile(join(src, "deep.png"));
    for (const [format, ext] of [
      ["webp", "webp"],
      ["avif", "avif"],
      ["tiff", "tif"],
      ["gif", "gif"],
    ] as const) {
      await sharp(await smallPng(24, 16, "#123456"))
        .toFormat(format)
        .toFile(join(src, `small.${ext}`));
    }
    await writeFile(
      join(src, "rocket.txt"),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("ロケット, sky\r\n")]),
    );
    await writeFile(
      join(src, "rotated.caption"),
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("green, 緑", "utf16le")]),
    );
    const be = Buffer.from("café", "utf16le").swap16();
    await writeFile(join(src, "cmyk.txt"), Buffer.concat([Buffer.from([0xfe, 0xff]), be]));
  });

  it("converts every format to 8-bit sRGB PNG with orientation, alpha and captions handled", async () => {
    const out = join(work, "out-good");
    const report = await importImages([src], { outDir: out, background: { r: 0, g: 0, b: 255 } });
    expect(report.counts).toMatchObject({ imported: 10, rejected: 0 });
    const files = (await readdir(out)).sort();
    expect(files).toContain("camera_man_2.png");
    const rotated = await sharp(join(out, "rotated.png")).metadata();
    expect([rotated.width, rotated.height]).toEqual([20, 40]);
    for (const name of ["cmyk.png", "deep.png", "camera_man_2.png"]) {
      const meta = await sharp(join(out, name)).metadata();
      expect([meta.space, meta.depth, meta.channels], name).toEqual(["srgb", "uchar", 3]);
    }
    const flat = await sharp(join(out, "transparent.png")).raw().toBuffer();
    expect([...flat.subarray(0, 3)]).toEqual([0, 0, 255]); // flattened onto the chosen background
    expect(await readFile(join(out, "rocket.txt"), "utf8")).toBe("ロケット, sky\n");
    expect(await readFile(join(out, "rotated.txt"), "utf8")).toBe("green, 緑\n");
    expect(await readFile(join(out, "cmyk.txt"), "utf8")).toBe("café\n");
    const manifest = await readManifest(out);
    const rocket = manifest.images["rocket.png"];
    expect(rocket?.source).toBe(join(src, "rocket.jpg"));
    expect(rocket?.source_bytes).toBe(112525);
    expect(rocket?.source_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("does not read its own output folder when it lies inside the source folder", async () => {
    const nested = join(work, "nested");
    await mkdir(nested, { recursive: true });
    await copyFile(join(PHOTOS, "rocket.jpg"), join(nested, "rocket.jpg"));
    await importImages([nested], { outDir: join(nested, "dataset") });
    const again = await importImages([nested], { outDir: join(nested, "dataset") });
    expect(again.entries.map((entry) => entry.status)).toEqual(["duplicate"]);
  });

  it("a second import adds new images, skips exact duplicates and never overwrites", async () => {
    const out = join(work, "out-again");
    await importImages([src], { outDir: out });
    const before = await readFile(join(out, "rocket.png"));
    const extra = join(work, "extra");
    await mkdir(extra, { recursive: true });
    await copyFile(join(PHOTOS, "rocket.jpg"), join(extra, "rocket-copy.jpg")); // same bytes
    await sharp(join(PHOTOS, "rocket.jpg")).flop().toFile(join(extra, "rocket.jpg")); // same name, new image
    const report = await importImages([extra], { outDir: out });
    expect(entryFor(report, "rocket-copy.jpg")).toMatchObject({ status: "duplicate", file: "rocket.png" });
    expect(entryFor(report, "extra/rocket.jpg")).toMatchObject({ status: "imported", file: "rocket-2.png" });
    expect(await readFile(join(out, "rocket.png"))).toEqual(before);
    expect(Object.keys((await readManifest(out)).images)).toHaveLength(11);
  });
});
