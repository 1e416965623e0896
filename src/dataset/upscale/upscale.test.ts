import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { PHOTOS } from "../../../test/fixtures/bad-files/corpus.ts";
import { readManifest } from "../manifest.ts";
import { upscaleDataset } from "./index.ts";
import { matteDataset } from "./matte.ts";
import { brightnessMatteModel, nearest2xModel } from "./tiny-onnx.ts";

let work: string;
let src: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "danlu-upscale-"));
  src = join(work, "src");
  await mkdir(src);
  await sharp(join(PHOTOS, "chelsea.png")).resize(150, 100).toFile(join(src, "small.png"));
  await sharp(join(PHOTOS, "coffee.png")).resize(300, 200).toFile(join(src, "medium.png"));
  await sharp(join(PHOTOS, "astronaut.png")).toFile(join(src, "big.png"));
  await writeFile(join(src, "small.txt"), "a cat\n");
  await writeFile(join(work, "sr.onnx"), nearest2xModel());
  await writeFile(join(work, "matte.onnx"), brightnessMatteModel(64));
});

describe("upscaleDataset", () => {
  it("enlarges images under the target by at most 2x with Lanczos and warns that no model was given", async () => {
    const report = await upscaleDataset(src, { outDir: join(work, "lanczos"), target: 256 });
    expect(report.method).toBe("lanczos");
    expect(report.warnings[0]).toMatch(/no super-resolution model/);
    expect(report.warnings[1]).toMatch(/1 images stay under 256 px/);
    const sizes = async (file: string) => {
      const meta = await sharp(join(work, "lanczos", file)).metadata();
      return [meta.width, meta.height];
    };
    expect(await sizes("small.png")).toEqual([300, 200]); // 2x cap: 100 -> 200, not 256
    expect(await sizes("medium.png")).toEqual([384, 256]); // 1.28x reaches the target
    expect(await sizes("big.png")).toEqual([512, 512]); // already large enough: copied
    expect((await readdir(join(work, "lanczos"))).sort()).toContain("small.txt");
    const manifest = await readManifest(join(work, "lanczos"));
    expect(manifest.images["medium.png"]?.derived_from?.operation).toBe("upscale 1.280x lanczos");
  });

  it("runs a user-supplied ONNX model over tiles without seams", async () => {
    const report = await upscaleDataset(src, {
      outDir: join(work, "model"),
      target: 200,
      model: join(work, "sr.onnx"),
    });
    expect(report.method).toBe("model");
    expect(report.warnings).toEqual([]);
    // The tiny model is nearest-neighbour 2x, and small.png needs exactly 2x: the tiled result must
    // equal a nearest 2x of the input pixel for pixel, across every tile border.
    const got = await sharp(join(work, "model", "small.png"))
      .raw()
      .toBuffer();
    const want = await sharp(join(src, "small.png"))
      .resize(300, 200, { kernel: "nearest" })
      .removeAlpha()
      .raw()
      .toBuffer();
    expect(got.equals(want)).toBe(true);
  });

  it("rejects a file that is not an ONNX model with a readable error", async () => {
    await writeFile(join(work, "junk.onnx"), "not a model");
    await expect(
      upscaleDataset(src, { outDir: join(work, "junk"), target: 512, model: join(work, "junk.onnx") }),
    ).rejects.toThrow(/cannot load the ONNX model/);
  });
});

describe("matteDataset", () => {
  it("cuts the background out with a user-supplied ONNX model and flattens onto the chosen colour", async () => {
    const dir = join(work, "matte-src");
    await mkdir(dir);
    const white = await sharp({ create: { width: 40, height: 80, channels: 3, background: "#ffffff" } })
      .png()
      .toBuffer();
    await sharp({ create: { width: 80, height: 80, channels: 3, background: "#000000" } })
      .composite([{ input: white, left: 40, top: 0 }])
      .png()
      .toFile(join(dir, "half.png"));
    const report = await matteDataset(dir, {
      outDir: join(work, "matted"),
      model: join(work, "matte.onnx"),
      normalise: "unit",
      background: { r: 255, g: 0, b: 0 },
    });
    expect(report.entries).toEqual([{ file: "half.png", status: "matted", output: "half.png" }]);
    const pixel = async (left: number) => [
      ...(await sharp(join(work, "matted", "half.png"))
        .extract({ left, top: 40, width: 1, height: 1 })
        .raw()
        .toBuffer()),
    ];
    expect(await pixel(5)).toEqual([255, 0, 0]); // dark = background -> replaced
    expect(await pixel(75)).toEqual([255, 255, 255]); // bright = subject -> kept
  });
});
