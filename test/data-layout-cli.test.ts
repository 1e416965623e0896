import { spawnSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";

// End-to-end: `node bin/danlu.js data layout` on copies of the sample photos.
let root: string;
const danlu = (...args: string[]) =>
  spawnSync(process.execPath, ["bin/danlu.js", "data", "layout", ...args], { encoding: "utf8" });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "danlu-layout-cli-"));
  await mkdir(join(root, "alice"));
  await mkdir(join(root, "women"));
  for (const photo of ["astronaut.png", "camera.png"])
    await copyFile(join("fixtures", "photos", photo), join(root, "alice", photo));
  await writeFile(join(root, "alice", "astronaut.txt"), "alice, space suit");
  await copyFile(join("fixtures", "photos", "coffee.png"), join(root, "women", "w1.png"));
});
afterAll(() => rm(root, { recursive: true, force: true }));

it("writes the layout and prints steps, each image's bucket and the matching danlu train flags", async () => {
  const out = join(root, "train");
  const regOut = join(root, "reg");
  const run = danlu(
    "--concept",
    `alice=${join(root, "alice")}`,
    "--reg",
    join(root, "women"),
    "--reg-class",
    "woman",
    "--out",
    out,
    "--reg-out",
    regOut,
    "--epochs",
    "4",
    "--batch-size",
    "2",
  );
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  // 2 images x 100 repeats = 200 per epoch, all 512x512 -> 100 batches; reg: 200 more in 640x384 -> 100.
  expect(run.stdout).toContain(
    "steps: 4 epochs x 200 steps per epoch (batch size 2, batches within buckets) = 800 steps",
  );
  expect(run.stdout).toMatch(/100_alice\/astronaut\.png +512x512 -> 512x512 +scale 1\.000 as is, no crop/u);
  expect(run.stdout).toMatch(
    /\n {2}1_woman\/w1\.png +600x400 -> 640x384 +scale 1\.067 enlarged, crop 0x43 px \(10\.1%\)/u,
  );
  expect(run.stdout).toContain(`wrote ${regOut}  (reg_data_dir`);
  expect((await readdir(out)).sort()).toEqual([".danlu-layout.json", "100_alice"]);
  expect((await readdir(regOut)).sort()).toEqual([".danlu-layout.json", "1_woman"]);
  const flags = `--train-data-dir ${out} --reg-data-dir ${regOut} --max-train-epochs 4 --train-batch-size 2 --resolution 512`;
  expect(run.stdout).toContain(flags);

  // The printed flags plan the same steps in `danlu train` (a diffusers-folder stand-in for the model).
  await mkdir(join(root, "model", "unet"), { recursive: true });
  await writeFile(join(root, "model", "unet", "config.json"), "{}");
  const train = spawnSync(
    process.execPath,
    ["bin/danlu.js", "train", "--dry-run", "--pretrained-model-name-or-path", join(root, "model")].concat([
      "--output-dir",
      join(root, "lora"),
      ...flags.split(" "),
    ]),
    { encoding: "utf8" },
  );
  expect(train.status).toBe(0);
  expect(train.stderr).not.toMatch(/warning: ignoring/u);
  expect(train.stderr).toContain("total: 200 steps x 4 epochs = 800 steps");

  const json = JSON.parse(
    danlu(
      "--concept",
      `alice=${join(root, "alice")}`,
      "--repeats",
      "alice=5",
      "--out",
      out,
      "--replace",
      "--json",
    ).stdout,
  );
  expect(json.folders).toEqual([
    { folder: "5_alice", name: "alice", isReg: false, images: 2, repeats: 5, perEpoch: 10 },
  ]);
  expect(json.plan.totalSteps).toBe(100); // 10 samples, batch size 1, 10 epochs
});

it("explains bad input without a stack trace", () => {
  const run = danlu(
    "--concept",
    `alice=${join(root, "alice")}`,
    "--reg",
    join(root, "women"),
    "--out",
    join(root, "x"),
  );
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("error: --reg");
  expect(run.stderr).toContain("hint:");

  const inside = danlu(
    "--concept",
    `alice=${join(root, "alice")}`,
    "--reg",
    `woman=${join(root, "women")}`,
    "--out",
    join(root, "y"),
    "--reg-out",
    join(root, "y", "reg"),
  );
  expect(inside.status).toBe(1);
  expect(inside.stderr).toMatch(
    /^error: --reg-out .* must be separate folders, neither inside the other\nhint: /u,
  );
  expect(inside.stderr).not.toMatch(/\bat \S+:\d+/u); // no stack trace
});
