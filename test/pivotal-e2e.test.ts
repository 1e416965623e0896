// Pivotal tuning through the real CLI and engine on a tiny SD1.5: the trigger becomes <s0><s1> in the spec's
// captions and sample prompts, and an embeddings file lands beside each LoRA file.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { readSafetensorsHeader } from "../src/lora/index.ts";
import { runCli } from "./cli.ts";

it("trains new tokens for the trigger word and saves them beside the LoRA", async () => {
  const root = mkdtempSync(join(tmpdir(), "danlu-pivotal-"));
  const model = join(root, "sd15.safetensors");
  const made = await runCli(["model", "make-tiny", "--arch", "sd15", "--single-file", "--out", model]);
  expect(made.code, made.stderr).toBe(0);
  const folder = join(root, "train", "1_tok");
  mkdirSync(folder, { recursive: true });
  for (const photo of ["astronaut.png", "chelsea.png"]) {
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", photo), join(folder, photo));
    writeFileSync(join(folder, photo.replace(".png", ".txt")), "TOK, photo\n");
  }
  const prompts = join(root, "prompts.txt");
  writeFileSync(prompts, "TOK on a beach --w 64 --h 64 --s 2 --d 3\n");
  const out = join(root, "out");
  const trained = await runCli([
    "train",
    ...[
      "--pretrained-model-name-or-path",
      model,
      "--train-data-dir",
      join(root, "train"),
      "--output-dir",
      out,
    ],
    ...["--output-name", "t", "--resolution", "64", "--min-bucket-reso", "64", "--max-bucket-reso", "128"],
    ...["--network-dim", "4", "--train-batch-size", "1"],
    ...["--device", "cpu", "--max-train-epochs", "2", "--save-every-n-epochs", "1", "--json"],
    ...[
      "--pivotal-tuning",
      "--pivotal-token",
      "TOK",
      "--sample-prompts",
      prompts,
      "--sample-every-n-epochs",
      "2",
    ],
  ]);
  expect(trained.code, trained.stderr).toBe(0);
  const spec = JSON.parse(readFileSync(join(out, "logs", "t", "spec.json"), "utf8"));
  expect(spec.pivotal).toMatchObject({ tokens: ["<s0>", "<s1>"], train_steps: 2 }); // half of 4 steps
  expect(spec.epochs[0][0].captions[0]).toMatch(/^<s0><s1>, photo/);
  expect(spec.sample.prompts[0].prompt).toBe("<s0><s1> on a beach");
  for (const file of ["t-000001_emb.safetensors", "t_emb.safetensors"]) {
    const header = await readSafetensorsHeader(join(out, file));
    expect(header.tensors.clip_l?.shape).toEqual([2, 32]);
  }
}, 300_000);
