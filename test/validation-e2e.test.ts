// The validation loss end to end: `danlu train --validation-split` on a tiny model writes val_loss.csv and
// validation events (step 0, every N steps, epoch ends), and the held-out photos never train.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { engineEvent, type EngineEvent } from "../src/engine/protocol.ts";
import { REPO_ROOT } from "../src/engine/python.ts";
import { runCli } from "./cli.ts";

const PHOTOS = ["astronaut.png", "camera.png", "chelsea.png"];
let root = "";

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-validation-e2e-"));
  const made = await runCli(["model", "make-tiny", "--arch", "sd15", "--out", join(root, "sd15")]);
  expect(made.code, made.stderr).toBe(0);
  const folder = join(root, "train", "1_dlnsample");
  mkdirSync(folder, { recursive: true });
  for (const photo of PHOTOS) {
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", photo), join(folder, photo));
    writeFileSync(join(folder, photo.replace(/\.\w+$/, ".txt")), `dlnsample, ${photo.split(".")[0]}\n`);
  }
}, 120_000);

it("reports a validation loss at step 0, every 3 steps and each epoch end, into val_loss.csv", async () => {
  const out = join(root, "out");
  const run = await runCli([
    "train",
    ...["--pretrained-model-name-or-path", join(root, "sd15"), "--train-data-dir", join(root, "train")],
    ...["--output-dir", out, "--output-name", "t", "--resolution", "64", "--min-bucket-reso", "64"],
    ...["--max-bucket-reso", "128", "--network-dim", "4", "--train-batch-size", "1", "--device", "cpu"],
    ...[
      "--cache-latents",
      "--learning-rate",
      "1e-2",
      "--max-train-epochs",
      "2",
      "--save-every-n-epochs",
      "0",
    ],
    ...["--validation-split", "0.34", "--validate-every-n-steps", "3", "--json"],
  ]);
  expect(run.code, run.stderr).toBe(0);
  const events = run.stdout
    .trim()
    .split("\n")
    .map((line) => engineEvent.parse(JSON.parse(line)) as EngineEvent);
  const validations = events.flatMap((e) => (e.event === "validation" ? [e] : []));
  // 2 training photos (1 held out), batch 1: 2 steps per epoch, 4 in all; every 3 steps plus epoch ends
  expect(validations.map((e) => [e.step, e.epoch, e.images])).toEqual([
    [0, 0, 1],
    [2, 1, 1],
    [3, 2, 1],
    [4, 2, 1],
  ]);
  const rows = readFileSync(join(out, "logs", "t", "val_loss.csv"), "utf8")
    .trim()
    .split("\n");
  expect(rows[0]).toBe("step,epoch,val_loss,images");
  expect(rows.slice(1).map((row) => Number(row.split(",")[2]))).toEqual(validations.map((e) => e.loss));
  expect(validations.at(-1)?.loss).not.toBe(validations[0]?.loss);
  const spec = JSON.parse(readFileSync(join(out, "logs", "t", "spec.json"), "utf8"));
  const trained = new Set(spec.epochs.flat().flatMap((batch: { images: number[] }) => batch.images));
  for (const entry of spec.validation.images) expect(trained.has(entry.image)).toBe(false);
}, 300_000);
