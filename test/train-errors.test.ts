import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";

// The mistakes users make most, through the real CLI: each is one error + hint, exit 1, no stack trace.
let root: string;
let model: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-train-errors-"));
  model = join(root, "model");
  await mkdir(join(model, "unet"), { recursive: true });
  await writeFile(join(model, "unet", "config.json"), "{}"); // a diffusers-folder stand-in (SD1.5)
  for (const folder of ["train/10_alice", "plain/alice"])
    await mkdir(join(root, folder), { recursive: true });
  await copyFile(join("fixtures", "photos", "astronaut.png"), join(root, "train", "10_alice", "a.png"));
  await copyFile(join("fixtures", "photos", "camera.png"), join(root, "train", "10_alice", "b.png"));
  await copyFile(join("fixtures", "photos", "coffee.png"), join(root, "plain", "alice", "c.png"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

function dryRun(modelPath: string, trainDataDir: string) {
  const args = ["train", "--dry-run", "--pretrained-model-name-or-path", modelPath];
  args.push("--output-dir", join(root, "out"), "--train-data-dir", trainDataDir);
  return spawnSync(process.execPath, ["bin/danlu.js", ...args], { encoding: "utf8" });
}

/** stderr is exactly "error: ...\nhint: ...\n": one paragraph, nothing else, no stack trace. */
function expectOneError(run: ReturnType<typeof dryRun>): { error: string; hint: string } {
  expect(run.status).toBe(1);
  expect(run.stdout).toBe("");
  const match = /^error: ([^\n]+)\nhint: ([^\n]+)\n$/u.exec(run.stderr);
  expect(match, run.stderr).not.toBeNull();
  return { error: match?.[1] ?? "", hint: match?.[2] ?? "" };
}

it("train_data_dir pointing at the image folder itself", () => {
  const folder = join(root, "train", "10_alice");
  const { error, hint } = expectOneError(dryRun(model, folder));
  expect(error).toBe(
    `train_data_dir '${folder}' holds 2 image(s) directly and no {repeats}_{name} subfolders: it looks like the image folder itself`,
  );
  expect(hint).toBe(
    `'10_alice' is itself a {repeats}_{name} folder: set train_data_dir to its parent folder '${join(root, "train")}'`,
  );
});

it("a subfolder without the repeat count", () => {
  const { error, hint } = expectOneError(dryRun(model, join(root, "plain")));
  expect(error).toBe(`no subfolder of train_data_dir '${join(root, "plain")}' starts with a repeat count`);
  expect(hint).toContain("rename 'alice' to '10_alice'");
});

it("a missing model file", () => {
  const missing = join(root, "no-such-model.safetensors");
  const { error, hint } = expectOneError(dryRun(missing, join(root, "train")));
  expect(error).toBe(`the base model '${missing}' does not exist`);
  expect(hint).toContain("--pretrained-model-name-or-path");
});

it("and the same folders, laid out right, give the plan", () => {
  const run = dryRun(model, join(root, "train"));
  expect(run.status).toBe(0);
  // 2 images x 10 repeats, batch 1: 20 steps per epoch; the default max_train_steps 1600 makes 80 epochs.
  expect(run.stderr).toContain("total: 20 steps x 80 epochs = 1600 steps");
});
