import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { trainConfig } from "../config/index.ts";
import type { KohyaDataset } from "../dataset/kohya/index.ts";
import { runEngine } from "../engine/driver.ts";
import type { GenerateSpec } from "../engine/spec.ts";
import { addClassImages, classImageFile, modelFingerprint } from "./class-images.ts";

let root = "";
let model = "";

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-class-"));
  model = join(root, "sd15.safetensors");
  const made = await runEngine("make-tiny", {
    version: 1,
    arch: "sd15",
    out: model,
    single_file: true,
    inpainting: false,
    seed: 0,
  });
  expect(made.status).toBe("done");
}, 300_000);

function config(extra: Record<string, unknown>) {
  return trainConfig.parse({
    pretrained_model_name_or_path: model,
    train_data_dir: "/d",
    output_dir: join(root, "out"),
    resolution: [64, 64],
    device: "cpu",
    class_prompt: "a photo of a cat",
    class_images_steps: 2,
    class_images_sampler: "Euler a",
    ...extra,
  });
}

function dataset(regImages: number): KohyaDataset {
  const image = { path: "/r/a.png", width: 64, height: 64, caption: null };
  const reg = {
    dir: "/r",
    name: "cat",
    repeats: 1,
    isReg: true,
    images: Array.from({ length: regImages }, () => image),
  };
  const train = { dir: "/t", name: "sks", repeats: 1, isReg: false, images: [image] };
  return { subsets: [train, reg], captionExtension: ".txt", warnings: [] };
}

/** A stand-in for the engine that writes each job's file, recording the specs it got. */
function fakeGenerate(seen: GenerateSpec[]) {
  return async (spec: GenerateSpec) => {
    seen.push(spec);
    mkdirSync(spec.output.dir, { recursive: true });
    for (const job of spec.jobs)
      writeFileSync(join(spec.output.dir, `${job.file_prefix}-${job.seed}.png`), "x");
  };
}

describe("generated class images", () => {
  it("does nothing when off or when reg_data_dir already has enough", async () => {
    const d = dataset(2);
    expect(await addClassImages(config({}), "sd15", d, fakeGenerate([]))).toBe(d);
    expect(await addClassImages(config({ class_images_target: 2 }), "sd15", d, fakeGenerate([]))).toBe(d);
  });

  it("generates only the missing images, once, into a folder keyed by prompt and seed", async () => {
    const seen: GenerateSpec[] = [];
    const c = config({ class_images_target: 3, output_dir: join(root, "fake") });
    const out = await addClassImages(c, "sd15", dataset(1), fakeGenerate(seen));
    expect(seen[0]?.jobs.map((j) => [j.seed, j.file_prefix])).toEqual([
      [42, "class-00000"],
      [43, "class-00001"],
    ]);
    const added = out.subsets.at(-1);
    expect(added?.isReg && added.images.map((i) => i.caption)).toEqual([
      "a photo of a cat",
      "a photo of a cat",
    ]);
    await addClassImages(c, "sd15", dataset(1), fakeGenerate(seen));
    expect(seen).toHaveLength(1); // cached
    await addClassImages(c, "sd15", dataset(0), fakeGenerate(seen)); // one more wanted: only it is made
    expect(seen[1]?.jobs.map((j) => j.file_prefix)).toEqual(["class-00002"]);
    await addClassImages({ ...c, class_prompt: "a photo of a dog" }, "sd15", dataset(1), fakeGenerate(seen));
    expect(seen[2]?.output.dir).not.toBe(seen[0]?.output.dir);
  });

  it("says what is missing without a class prompt", async () => {
    const c = config({ class_images_target: 2, class_prompt: null });
    await expect(addClassImages(c, "sd15", dataset(0), fakeGenerate([]))).rejects.toThrow(/class_prompt/);
  });

  it("tells models apart by their bytes", () => {
    const other = join(root, "other.safetensors");
    writeFileSync(other, readFileSync(model).subarray(0, 1000));
    expect(modelFingerprint(model)).not.toBe(modelFingerprint(other));
    expect(modelFingerprint(model)).toBe(modelFingerprint(model));
  });

  it("generates real 64 px images with the tiny model through the engine", async () => {
    const out = await addClassImages(config({ class_images_target: 2 }), "sd15", dataset(0));
    const added = out.subsets.at(-1)!;
    expect(added.images.map((i) => i.path.split("/").at(-1))).toEqual([
      classImageFile(0, 42),
      classImageFile(1, 42),
    ]);
    for (const image of added.images) {
      const meta = await sharp(image.path).metadata();
      expect([meta.width, meta.height]).toEqual([64, 64]);
    }
  }, 300_000);
});
