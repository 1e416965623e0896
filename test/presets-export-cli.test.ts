import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { afterAll, beforeAll, expect, it } from "vitest";

// `danlu presets show`, `danlu train --preset ... --export-kohya FILE`, and reading FILE back.
let root: string;

function danlu(...args: string[]) {
  return spawnSync(process.execPath, ["bin/danlu.js", ...args], { encoding: "utf8" });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-presets-cli-"));
  await mkdir(join(root, "model", "unet"), { recursive: true });
  await writeFile(join(root, "model", "unet", "config.json"), "{}"); // a diffusers-folder stand-in (SD1.5)
  await mkdir(join(root, "train", "10_alice"), { recursive: true });
  await copyFile(join("fixtures", "photos", "astronaut.png"), join(root, "train", "10_alice", "a.png"));
  await copyFile(join("fixtures", "photos", "camera.png"), join(root, "train", "10_alice", "b.png"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

it("shows a preset's settings with their reasons", () => {
  const run = danlu("presets", "show", "person");
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toMatch(/clip_skip\s+= 2\s+guide 000/);
});

it("exports the preset's resolved settings (a flag overriding one) and reads them back", async () => {
  const file = join(root, "exported.toml");
  const common = ["--pretrained-model-name-or-path", join(root, "model"), "--output-dir", join(root, "out")];
  const run = danlu(
    "train",
    "--preset",
    "person",
    ...common,
    "--train-data-dir",
    join(root, "train"),
    "--network-dim",
    "16",
    "--export-kohya",
    file,
  );
  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain(`wrote ${file}`);
  const data = parse(await readFile(file, "utf8")) as Record<string, unknown>;
  // person: alpha 128, 50 steps per image (2 images: 100 steps); the flag's dim 16 wins over the preset's 128.
  expect([data.network_dim, data.network_alpha, data.max_train_steps, data.clip_skip]).toEqual([
    16, 128, 100, 2,
  ]);
  const back = danlu("train", "--kohya-config", file, "--dry-run");
  expect(back.status, back.stderr).toBe(0);
  expect(back.stderr).toMatch(/total: .*= 100 steps/);
});
