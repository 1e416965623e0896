// `danlu gen --controlnet` end to end on tiny models: `danlu model make-tiny --controlnet` writes random-weight
// ControlNets with the real architecture (an A1111-keyed single file and a diffusers folder), the tiny ONNX
// preprocessors have DWPose's and Depth Anything V2's contracts. Two units change the image and their maps
// are saved next to it; weight 0 gives the image without ControlNet pixel for pixel; the PNG text carries the
// units in sd-webui-controlnet's wording and still parses; an SDXL ControlNet on an SD1.5 model and a missing
// preprocessor model are refused with what to do.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseParameters } from "../src/generate/parameters.ts";
import { writeTinyPreprocessors } from "../src/generate/preprocess/testing/tiny-preprocessors.ts";
import { runCli } from "./cli.ts";

let root = "";
const previousModels = process.env.DANLU_MODELS_DIR;

async function parameters(path: string): Promise<string> {
  const meta = await sharp(path).metadata();
  return (meta.comments ?? []).find((c) => c.keyword === "parameters")?.text ?? "";
}

async function pixels(path: string): Promise<Buffer> {
  return sharp(path).removeAlpha().raw().toBuffer();
}

async function makeTiny(args: string[]): Promise<void> {
  const run = await runCli(["model", "make-tiny", "--arch", ...args]);
  expect(run.code, run.stderr).toBe(0);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-gen-controlnet-"));
  await makeTiny(["sd15", "--single-file", "--out", join(root, "sd15.safetensors")]);
  await makeTiny([
    "sd15",
    "--controlnet",
    "--single-file",
    "--out",
    join(root, "control_sd15_openpose.safetensors"),
  ]);
  await makeTiny(["sd15", "--controlnet", "--seed", "1", "--out", join(root, "control_sd15_depth")]);
  await makeTiny([
    "sdxl",
    "--controlnet",
    "--single-file",
    "--out",
    join(root, "controlnet-sdxl-canny.safetensors"),
  ]);
  writeTinyPreprocessors(join(root, "models"));
  process.env.DANLU_MODELS_DIR = join(root, "models");
  const noise = Buffer.from(Array.from({ length: 96 * 96 * 3 }, (_, i) => (i * 7919) % 251));
  await sharp(noise, { raw: { width: 96, height: 96, channels: 3 } })
    .png()
    .toFile(join(root, "photo.png"));
}, 300_000);

afterAll(() => {
  if (previousModels === undefined) delete process.env.DANLU_MODELS_DIR;
  else process.env.DANLU_MODELS_DIR = previousModels;
});

const COMMON = ["--prompt", "a dancer", "--steps", "3", "--seed", "5", "--width", "64", "--height", "64"];

function gen(out: string, ...extra: string[]) {
  return runCli([
    "gen",
    "--model",
    join(root, "sd15.safetensors"),
    ...COMMON,
    "--device",
    "cpu",
    "--out",
    out,
    ...extra,
  ]);
}

it("two units change the image, save their maps and are written in the PNG text", async () => {
  const out = join(root, "two");
  const plain = await gen(out);
  expect(plain.code, plain.stderr).toBe(0);
  const photo = join(root, "photo.png");
  const run = await gen(
    out,
    "--controlnet",
    `${join(root, "control_sd15_openpose.safetensors")}:${photo}`,
    "--controlnet",
    `${join(root, "control_sd15_depth")}:${photo}:0.8:0:0.9`,
  );
  expect(run.code, run.stderr).toBe(0);
  const [before, after] = [join(out, "00000-5.png"), join(out, "00001-5.png")];
  expect((await pixels(before)).equals(await pixels(after))).toBe(false);
  for (const map of ["00001-5-control0-openpose.png", "00001-5-control1-depth.png"]) {
    expect(existsSync(join(out, map)), map).toBe(true);
    expect((await sharp(join(out, map)).metadata()).width).toBe(64);
  }
  const text = await parameters(after);
  expect(text).toMatch(
    /ControlNet 0: "Module: dw_openpose_full, Model: control_sd15_openpose \[[0-9a-f]{8}\], Weight: 1\.0, Resize Mode: Crop and Resize, Processor Res: 64, Threshold A: 0\.5, Threshold B: 0\.5, Guidance Start: 0\.0, Guidance End: 1\.0, Pixel Perfect: False, Control Mode: Balanced"/,
  );
  expect(text).toContain('ControlNet 1: "Module: depth_anything_v2, Model: control_sd15_depth [');
  expect(text).toContain("Weight: 0.8, Resize Mode: Crop and Resize, Processor Res: 518");
  expect(text).toContain("Guidance Start: 0.0, Guidance End: 0.9");
  expect(parseParameters(text)).toMatchObject({
    prompt: "a dancer",
    steps: 3,
    seed: 5,
    width: 64,
    height: 64,
  });
  expect(parseParameters(text).controlnets).toMatchObject([
    { module: "dw_openpose_full", model: "control_sd15_openpose", weight: 1, start: 0, end: 1 },
    { module: "depth_anything_v2", model: "control_sd15_depth", weight: 0.8, start: 0, end: 0.9 },
  ]);
}, 300_000);

it("weight 0 gives the image without ControlNet, pixel for pixel (canny on the photo)", async () => {
  const out = join(root, "zero");
  expect((await gen(out)).code).toBe(0);
  const unit = `${join(root, "control_sd15_openpose.safetensors")}:${join(root, "photo.png")}:0`;
  const run = await gen(out, "--controlnet", unit, "--control-preprocessor", "canny");
  expect(run.code, run.stderr).toBe(0);
  expect((await pixels(join(out, "00000-5.png"))).equals(await pixels(join(out, "00001-5.png")))).toBe(true);
  expect(existsSync(join(out, "00001-5-control0-canny.png"))).toBe(true);
  expect(await parameters(join(out, "00001-5.png"))).toContain("Module: canny");
}, 300_000);

it("refuses an SDXL ControlNet on an SD1.5 model, naming both", async () => {
  const unit = `${join(root, "controlnet-sdxl-canny.safetensors")}:${join(root, "photo.png")}`;
  const run = await gen(join(root, "sdxl"), "--controlnet", unit, "--control-preprocessor", "none");
  expect(run.code).not.toBe(0);
  expect(run.stderr).toContain("ControlNet controlnet-sdxl-canny is for SDXL; the model is SD1.5");
}, 300_000);

it("names the pull command when a preprocessor model is missing, before the engine starts", async () => {
  process.env.DANLU_MODELS_DIR = mkdtempSync(join(tmpdir(), "danlu-no-models-"));
  try {
    const unit = `${join(root, "control_sd15_openpose.safetensors")}:${join(root, "photo.png")}`;
    const run = await gen(join(root, "missing"), "--controlnet", unit);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("dwpose is not installed");
    expect(run.stderr).toContain("danlu models pull dwpose");
  } finally {
    process.env.DANLU_MODELS_DIR = join(root, "models");
  }
});
