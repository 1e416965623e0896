// `danlu gen` end to end: a tiny SD1.5, a LoRA from `danlu train`, then a 64 px image with the LoRA named
// in the prompt; the PNG carries A1111's parameters text; an unknown LoRA name lists what is there.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { runCli } from "./cli.ts";

let root = "";

/** The tEXt chunks of a PNG file (keyword -> text). */
function pngText(path: string): Map<string, string> {
  const bytes = readFileSync(path);
  const texts = new Map<string, string>();
  for (let at = 8; at < bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString("latin1", at + 4, at + 8);
    if (type === "tEXt") {
      const data = bytes.subarray(at + 8, at + 8 + length);
      const zero = data.indexOf(0);
      texts.set(data.toString("latin1", 0, zero), data.toString("latin1", zero + 1));
    }
    at += 12 + length;
  }
  return texts;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-gen-"));
  const model = join(root, "sd15.safetensors");
  const made = await runCli(["model", "make-tiny", "--arch", "sd15", "--single-file", "--out", model]);
  expect(made.code, made.stderr).toBe(0);
  const data = join(root, "train", "1_dlnsample");
  mkdirSync(data, { recursive: true });
  for (const photo of ["astronaut.png", "chelsea.png"]) {
    copyFileSync(join(REPO_ROOT, "fixtures", "photos", photo), join(data, photo));
    writeFileSync(join(data, photo.replace(".png", ".txt")), "dlnsample, photo\n");
  }
  const trained = await runCli([
    "train",
    ...["--pretrained-model-name-or-path", model, "--train-data-dir", join(root, "train")],
    ...["--output-dir", join(root, "lora"), "--output-name", "dln", "--resolution", "64"],
    ...["--min-bucket-reso", "64", "--max-bucket-reso", "64", "--network-dim", "4", "--network-alpha", "2"],
    ...["--train-batch-size", "2", "--max-train-epochs", "1", "--learning-rate", "1e-2", "--device", "cpu"],
  ]);
  expect(trained.code, trained.stderr).toBe(0);
}, 300_000);

it("generates with <lora:name:w> from --lora-dir and writes A1111 parameters", async () => {
  const out = join(root, "gen");
  const args = ["gen", "--model", join(root, "sd15.safetensors"), "--lora-dir", join(root, "lora")];
  args.push("--prompt", "dlnsample, (photo:1.2) <lora:dln:0.8>", "--negative", "blurry", "--out", out);
  args.push(
    "--width",
    "64",
    "--height",
    "64",
    "--steps",
    "2",
    "--seed",
    "11",
    "--sampler",
    "DPM++ 2M Karras",
  );
  args.push("--clip-skip", "2", "--device", "cpu");
  const run = await runCli(args);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toMatch(/LoRA dln \(lora\): \d+ modules matched/);
  const image = join(out, "00000-11.png");
  expect(run.stdout.trim()).toBe(image);
  expect(existsSync(image)).toBe(true);
  const parameters = pngText(image).get("parameters") ?? "";
  expect(parameters).toMatch(
    /^dlnsample, \(photo:1\.2\) <lora:dln:0\.8>\nNegative prompt: blurry\nSteps: 2, Sampler: DPM\+\+ 2M Karras, CFG scale: 7, Seed: 11, Size: 64x64, Model hash: [0-9a-f]{10}, Model: sd15, Clip skip: 2, Lora hashes: "dln: [0-9a-f]{12}"$/,
  );
}, 300_000);

it("an unknown LoRA name is an error that lists the LoRAs in --lora-dir", async () => {
  const args = ["gen", "--model", join(root, "sd15.safetensors"), "--lora-dir", join(root, "lora")];
  const run = await runCli([...args, "--prompt", "x <lora:nope:1>", "--out", join(root, "gen2")]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain("no nope.safetensors in");
  expect(run.stderr).toContain("LoRAs there: dln");
});
