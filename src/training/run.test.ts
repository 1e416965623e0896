import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, test } from "vitest";
import { loadKohyaConfig, loadKohyaDatasetConfig, resolveTrainConfig } from "../config/index.ts";
import { prepareRun } from "./run.ts";

// A kohya sd-scripts config whose dataset_config lists two subsets (one is_reg), planned as
// `danlu train --kohya-config X --dry-run` plans it: nothing here starts the engine.
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-run-"));
  const png = (path: string, width: number, height: number) =>
    sharp({ create: { width, height, channels: 3, background: "#406080" } })
      .png()
      .toFile(path);
  for (const dir of ["char", "women", "model/unet"]) await mkdir(join(root, dir), { recursive: true });
  await writeFile(join(root, "model", "unet", "config.json"), "{}"); // a diffusers-folder stand-in (SD1.5)
  await png(join(root, "char", "a.png"), 512, 512);
  await png(join(root, "char", "b.png"), 512, 512);
  await png(join(root, "char", "c.png"), 768, 512);
  await writeFile(join(root, "char", "a.txt"), "sks girl, smiling\n");
  await png(join(root, "women", "w1.png"), 512, 512);
  await png(join(root, "women", "w2.png"), 512, 512);
  await writeFile(
    join(root, "dataset.toml"),
    `[general]
caption_extension = ".txt"
enable_bucket = true

[[datasets]]
resolution = 512
batch_size = 2

  [[datasets.subsets]]
  image_dir = "${join(root, "char")}"
  num_repeats = 5
  class_tokens = "sks girl"

  [[datasets.subsets]]
  image_dir = "${join(root, "women")}"
  is_reg = true
  class_tokens = "girl"
`,
  );
  await writeFile(
    join(root, "config.toml"),
    `pretrained_model_name_or_path = "${join(root, "model")}"
train_data_dir = "${join(root, "not-used")}"
output_dir = "${join(root, "out")}"
output_name = "sks"
max_train_epochs = 2
save_every_n_epochs = 1
dataset_config = "${join(root, "dataset.toml")}"
`,
  );
});
afterAll(() => rm(root, { recursive: true, force: true }));

test("a kohya dataset config's subsets are the dataset: repeats, class tokens, is_reg, steps", async () => {
  const kohya = await loadKohyaConfig(join(root, "config.toml"));
  const dataset = await loadKohyaDatasetConfig(kohya.datasetConfig ?? "");
  const config = resolveTrainConfig([kohya.config, dataset.config], { subsetsGiven: true });
  const prepared = await prepareRun(config, { subsets: dataset.subsets });

  expect(prepared.arch).toBe("sd15");
  const { plan } = prepared;
  expect(plan.subsets.map((s) => [s.dir, s.name, s.isReg, s.repeats, s.imageCount, s.perEpoch])).toEqual([
    [join(root, "char"), "sks girl", false, 5, 3, 15],
    [join(root, "women"), "girl", true, 1, 2, 15], // 2 reg images cycled to the 15 training samples
  ]);
  // 512x512: 2 x 5 + 15 reg = 25 -> 13 batches of 2; 640x384: 1 x 5 = 5 -> 3 batches. 16 per epoch, 2 epochs.
  expect(plan.buckets).toEqual([
    { size: [512, 512], count: 25 },
    { size: [640, 384], count: 5 },
  ]);
  expect([plan.numTrainImages, plan.numRegImages, plan.stepsPerEpoch, plan.totalSteps]).toEqual([
    15, 2, 16, 32,
  ]);
  const captions = new Set(plan.epochs.flat().flatMap((batch) => batch.captions));
  expect(captions).toEqual(new Set(["sks girl, smiling", "sks girl", "girl"]));

  expect(prepared.report).toMatch(/char +3 +5 +15/u);
  expect(prepared.report).toMatch(/women +2 +1 +15 +regularization/u);
  expect(prepared.report).toContain("total: 16 steps x 2 epochs = 32 steps");
  expect(prepared.dataset.warnings[0]).toBe(
    `train_data_dir '${join(root, "not-used")}' ignored: the dataset config's [[datasets.subsets]] list the images (as in sd-scripts)`,
  );
});

test("without subsets, train_data_dir is read as before", async () => {
  const kohya = await loadKohyaConfig(join(root, "config.toml"));
  const config = resolveTrainConfig([kohya.config]);
  await expect(prepareRun(config)).rejects.toThrow(/train_data_dir '.*not-used' does not exist/u);
});
