// `danlu gen` inpainting and hires fix end to end on tiny SD1.5 models (an ordinary single file and a
// 9-channel inpainting folder from `danlu model make-tiny --inpainting`): an inpainted image differs only
// inside the mask (pixel-identical outside), only-masked keeps the init image's size, hires writes the larger
// size, and each PNG's parameters text parses back to the settings given; a mask of another size is refused.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, expect, it } from "vitest";
import { parseParameters } from "../src/generate/parameters.ts";
import { makeTinySd15, runCli } from "./cli.ts";

let root = "";
const [W, H] = [96, 64];
const BOX = { left: 40, top: 20, width: 20, height: 16 }; // the mask's white rectangle

async function rgb(path: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Pixels (x, y) that differ between two same-size RGB images. */
async function changedPixels(a: string, b: string): Promise<[number, number][]> {
  const [x, y] = [await rgb(a), await rgb(b)];
  expect([x.width, x.height]).toEqual([y.width, y.height]);
  const out: [number, number][] = [];
  for (let i = 0; i < x.width * x.height; i++) {
    if (x.data.compare(y.data, i * 3, i * 3 + 3, i * 3, i * 3 + 3) !== 0)
      out.push([i % x.width, Math.floor(i / x.width)]);
  }
  return out;
}

async function parameters(path: string): Promise<string> {
  const meta = await sharp(path).metadata();
  const chunk = (meta.comments ?? []).find((c) => c.keyword === "parameters");
  return chunk?.text ?? "";
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-gen-modes-"));
  await makeTinySd15(join(root, "sd15.safetensors"));
  const inpainting = await runCli([
    "model",
    "make-tiny",
    "--arch",
    "sd15",
    "--inpainting",
    "--out",
    join(root, "inpaint"),
  ]);
  expect(inpainting.code, inpainting.stderr).toBe(0);
  expect(inpainting.stdout).toContain("tiny sd15 inpainting model");
  const noise = Buffer.from(Array.from({ length: W * H * 3 }, (_, i) => (i * 7919) % 251));
  await sharp(noise, { raw: { width: W, height: H, channels: 3 } })
    .png()
    .toFile(join(root, "init.png"));
  const mask = Buffer.alloc(W * H);
  for (let y = BOX.top; y < BOX.top + BOX.height; y++)
    mask.fill(255, y * W + BOX.left, y * W + BOX.left + BOX.width);
  await sharp(mask, { raw: { width: W, height: H, channels: 1 } })
    .png()
    .toFile(join(root, "mask.png"));
  await sharp({ create: { width: 32, height: 32, channels: 3, background: "#fff" } })
    .png()
    .toFile(join(root, "small.png"));
}, 300_000);

const COMMON = [
  "--prompt",
  "a red scarf",
  "--negative",
  "blurry",
  "--steps",
  "3",
  "--seed",
  "5",
  "--device",
  "cpu",
];

it("inpaints only inside the mask (whole picture, ordinary checkpoint) and the PNG text parses back", async () => {
  const out = join(root, "whole");
  const args = [
    "gen",
    "--model",
    join(root, "sd15.safetensors"),
    ...COMMON,
    "--sampler",
    "Euler a",
    "--cfg",
    "6",
  ];
  args.push("--init-image", join(root, "init.png"), "--mask", join(root, "mask.png"), "--strength", "0.8");
  args.push(
    "--mask-blur",
    "0",
    "--masked-content",
    "fill",
    "--width",
    String(W),
    "--height",
    String(H),
    "--out",
    out,
  );
  const run = await runCli(args);
  expect(run.code, run.stderr).toBe(0);
  const image = join(out, "00000-5.png");
  const changed = await changedPixels(image, join(root, "init.png"));
  expect(changed.length).toBeGreaterThan(0);
  const outside = changed.filter(
    ([x, y]) => x < BOX.left || x >= BOX.left + BOX.width || y < BOX.top || y >= BOX.top + BOX.height,
  );
  expect(outside).toEqual([]); // pixel-identical outside the mask
  expect(parseParameters(await parameters(image))).toMatchObject({
    prompt: "a red scarf",
    negative: "blurry",
    steps: 3,
    sampler: "Euler a",
    cfg: 6,
    seed: 5,
    width: W,
    height: H,
    strength: 0.8,
    inpaint: { maskBlur: 0, maskedContent: "fill", area: "whole", padding: 32 },
  });
}, 300_000);

it("inpaints only the masked box on an inpainting checkpoint, keeping the init image's size", async () => {
  const out = join(root, "masked");
  const args = ["gen", "--model", join(root, "inpaint"), ...COMMON, "--init-image", join(root, "init.png")];
  args.push("--mask", join(root, "mask.png"), "--inpaint-area", "masked", "--mask-padding", "8");
  args.push("--width", "64", "--height", "64", "--out", out);
  const run = await runCli(args);
  expect(run.code, run.stderr).toBe(0);
  const image = join(out, "00000-5.png");
  const { width, height } = await rgb(image);
  expect([width, height]).toEqual([W, H]);
  const reach = 10; // the mask blur 4 reaches int(2.5 * 4 + 0.5) = 10 px past the mask
  const changed = await changedPixels(image, join(root, "init.png"));
  expect(changed.length).toBeGreaterThan(0);
  const far = changed.filter(
    ([x, y]) =>
      x < BOX.left - reach ||
      x >= BOX.left + BOX.width + reach ||
      y < BOX.top - reach ||
      y >= BOX.top + BOX.height + reach,
  );
  expect(far).toEqual([]);
  expect(parseParameters(await parameters(image))).toMatchObject({
    width: 64,
    height: 64,
    strength: 0.75,
    inpaint: { maskBlur: 4, maskedContent: "original", area: "masked", padding: 8 },
  });
}, 300_000);

it("hires fix writes the larger size; the text has the first pass's Size and the hires settings", async () => {
  const out = join(root, "hires");
  const args = [
    "gen",
    "--model",
    join(root, "sd15.safetensors"),
    ...COMMON,
    "--width",
    "64",
    "--height",
    "48",
  ];
  args.push(
    "--hr-scale",
    "1.5",
    "--hr-steps",
    "2",
    "--hr-denoising",
    "0.55",
    "--hr-upscaler",
    "latent (nearest)",
  );
  const run = await runCli([...args, "--out", out]);
  expect(run.code, run.stderr).toBe(0);
  const image = join(out, "00000-5.png");
  const { width, height } = await rgb(image);
  expect([width, height]).toEqual([96, 72]);
  const settings = parseParameters(await parameters(image));
  expect(settings).toMatchObject({
    steps: 3,
    width: 64,
    height: 48,
    hires: { scale: 1.5, steps: 2, denoising: 0.55, upscaler: "Latent (nearest)" },
  });
  // the final size follows from Size x Hires upscale, as A1111 reads it
  expect([settings.width! * settings.hires!.scale, settings.height! * settings.hires!.scale]).toEqual([
    width,
    height,
  ]);
  expect(settings.strength).toBeUndefined();
}, 300_000);

it("refuses a mask of another size, --mask without --init-image and hires flags without --hr-scale", async () => {
  const base = [
    "gen",
    "--model",
    join(root, "sd15.safetensors"),
    "--prompt",
    "x",
    "--out",
    join(root, "bad"),
  ];
  const size = await runCli([
    ...base,
    "--init-image",
    join(root, "init.png"),
    "--mask",
    join(root, "small.png"),
  ]);
  expect(size.code).toBe(2);
  expect(size.stderr).toMatch(/--mask .*small\.png is 32x32 but --init-image .*init\.png is 96x64/);
  expect(size.stderr).toContain("resize it to 96x64");
  const noInit = await runCli([...base, "--mask", join(root, "mask.png")]);
  expect(noInit.code).toBe(2);
  expect(noInit.stderr).toContain("--mask needs --init-image");
  const stray = await runCli([...base, "--hr-steps", "5"]);
  expect(stray.code).toBe(2);
  expect(stray.stderr).toContain("--hr-steps given without --hr-scale");
}, 300_000);
