import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";

// `danlu train --kohya-config X --dry-run` on an sd-scripts config whose dataset_config lists subsets.
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-kohya-"));
  await mkdir(join(root, "model", "unet"), { recursive: true });
  await writeFile(join(root, "model", "unet", "config.json"), "{}"); // a diffusers-folder stand-in (SD1.5)
  await mkdir(join(root, "alice"));
  await mkdir(join(root, "women"));
  await copyFile(join("fixtures", "photos", "astronaut.png"), join(root, "alice", "astronaut.png"));
  await copyFile(join("fixtures", "photos", "camera.png"), join(root, "alice", "camera.png"));
  await writeFile(join(root, "alice", "astronaut.caption"), "ohwx woman, space suit");
  await copyFile(join("fixtures", "photos", "coffee.png"), join(root, "women", "w1.png"));
  await writeFile(
    join(root, "dataset.toml"),
    [
      "[general]",
      "enable_bucket = true",
      "[[datasets]]",
      "resolution = 512",
      "batch_size = 1",
      "  [[datasets.subsets]]",
      `  image_dir = "${join(root, "alice")}"`,
      "  num_repeats = 4",
      '  class_tokens = "ohwx woman"',
      "  [[datasets.subsets]]",
      `  image_dir = "${join(root, "women")}"`,
      "  is_reg = true",
      '  class_tokens = "woman"',
    ].join("\n") + "\n",
  );
  await writeFile(
    join(root, "config.toml"),
    [
      "[model_arguments]",
      `pretrained_model_name_or_path = "${join(root, "model")}"`,
      "[saving_arguments]",
      `output_dir = "${join(root, "out")}"`,
      'output_name = "alice"',
      "[training_arguments]",
      "max_train_epochs = 3",
      `dataset_config = "${join(root, "dataset.toml")}"`,
    ].join("\n") + "\n",
  );
});
afterAll(() => rm(root, { recursive: true, force: true }));

it("prints the plan of the dataset config's subsets and stops before training", () => {
  const run = spawnSync(
    process.execPath,
    ["bin/danlu.js", "train", "--kohya-config", join(root, "config.toml"), "--dry-run"],
    { encoding: "utf8" },
  );
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toBe("");
  // alice: 2 images x 4 repeats = 8; the reg image cycled to 8; batch size 1 -> 16 steps per epoch.
  expect(run.stderr).toMatch(/\n {2}alice +2 +4 +8\n/u);
  expect(run.stderr).toMatch(/\n {2}women +1 +1 +8 +regularization/u);
  expect(run.stderr).toContain("total: 16 steps x 3 epochs = 48 steps");
  // sd-scripts' caption_extension default is .caption: the astronaut's caption is read, the camera has none.
  expect(run.stderr).toContain(
    `warning: '${join(root, "alice")}': 1 image(s) have no '.caption' file and train with the class tokens 'ohwx woman'`,
  );
  expect(run.stderr).not.toMatch(/^error/mu);
  expect(run.stderr).not.toContain("KOHYA_DATASET");
});
