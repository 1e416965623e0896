// `danlu gen --detail-faces` end to end on a tiny SD1.5: an image without a face (a tiny random model draws
// noise) is left as it is and the run says "no face found"; a photo with a face (fixtures/photos/
// astronaut.png, kept by inpainting only a corner) gets its face repainted: pixels change inside the face
// box, pixels outside the dilated and blurred box (and the corner) are the photo's exactly, and the PNG
// text gains ADetailer's keys, which parse back.
import { copyFileSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { beforeAll, expect, it } from "vitest";
import { REPO_ROOT } from "../src/engine/python.ts";
import { analyzeFile, loadFaceAnalyzer } from "../src/faces/index.ts";
import { maskBox } from "../src/generate/detailer.ts";
import { parseParameters } from "../src/generate/parameters.ts";
import { readPngText } from "../src/generate/png-text.ts";
import { makeTinySd15, runCli } from "./cli.ts";

let root = "";
const PHOTO = join(REPO_ROOT, "fixtures", "photos", "astronaut.png");
const CORNER = 24; // the inpainted top-left square, px

const parameters = (path: string) => readPngText(readFileSync(path)).get("parameters") ?? "";

async function rgb(path: string): Promise<Buffer> {
  return sharp(path).removeAlpha().raw().toBuffer();
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "danlu-gen-detail-"));
  await makeTinySd15(join(root, "sd15.safetensors"));
  const mask = Buffer.alloc(512 * 512);
  for (let y = 0; y < CORNER; y++) mask.fill(255, y * 512, y * 512 + CORNER);
  await sharp(mask, { raw: { width: 512, height: 512, channels: 1 } })
    .png()
    .toFile(join(root, "corner.png"));
}, 300_000);

const COMMON = [
  "--prompt",
  "a portrait",
  "--negative",
  "blurry",
  "--steps",
  "2",
  "--seed",
  "7",
  "--device",
  "cpu",
];

it("leaves an image without a face as it is and says so", async () => {
  const out = join(root, "noface");
  const args = [
    "gen",
    "--model",
    join(root, "sd15.safetensors"),
    ...COMMON,
    "--width",
    "64",
    "--height",
    "64",
  ];
  const run = await runCli([...args, "--detail-faces", "--detail-size", "64", "--out", out]);
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toContain("face detail: 00000-7.png: no face found");
  const text = parameters(join(out, "00000-7.png"));
  expect(text).toContain("Steps: 2");
  expect(text).not.toContain("ADetailer");
  const stray = await runCli([...args, "--detail-denoising", "0.3", "--out", out]);
  expect(stray.code).toBe(2);
  expect(stray.stderr).toContain("--detail-denoising given without --detail-faces");
}, 300_000);

it("repaints a face only inside its dilated, blurred box and records ADetailer's keys", async () => {
  const out = join(root, "face");
  copyFileSync(PHOTO, join(root, "photo.png"));
  const args = [
    "gen",
    "--model",
    join(root, "sd15.safetensors"),
    ...COMMON,
    "--width",
    "512",
    "--height",
    "512",
  ];
  args.push("--init-image", join(root, "photo.png"), "--mask", join(root, "corner.png"), "--mask-blur", "0");
  args.push("--detail-faces", "--detail-prompt", "detailed face, sharp eyes", "--detail-size", "128");
  args.push("--detail-denoising", "0.5", "--json", "--out", out);
  const run = await runCli(args);
  expect(run.code, run.stderr).toBe(0);
  const image = join(out, "00000-7.png");
  const text = parameters(image);
  const result = JSON.parse(run.stdout) as { images: { path: string; parameters: string }[] };
  expect(result.images[0]).toMatchObject({ path: image, parameters: text });
  expect(parseParameters(text)).toMatchObject({
    prompt: "a portrait",
    seed: 7,
    strength: 0.75,
    inpaint: { maskBlur: 0, area: "whole" },
    detail: {
      model: "blazeface",
      prompt: "detailed face, sharp eyes",
      denoising: 0.5,
      confidence: 0.3,
      onlyMasked: true,
      padding: 32,
      width: 128,
      height: 128,
    },
  });

  const [face] = await analyzeFile(await loadFaceAnalyzer(), PHOTO, { minScore: 0.3 });
  const box = maskBox(face!.box, 4 + 10, 512, 512)!; // dilate 4, then the blur's reach int(2.5 * 4 + 0.5)
  const [after, before] = [await rgb(image), await rgb(PHOTO)];
  let inside = 0;
  const outside: [number, number][] = [];
  for (let i = 0; i < 512 * 512; i++) {
    const [x, y] = [i % 512, Math.floor(i / 512)];
    if (after.compare(before, i * 3, i * 3 + 3, i * 3, i * 3 + 3) === 0) continue;
    if (x >= box.left && x < box.right && y >= box.top && y < box.bottom) inside++;
    else if (x >= CORNER || y >= CORNER) outside.push([x, y]);
  }
  expect(inside).toBeGreaterThan(0.5 * (face!.box.width * face!.box.height));
  expect(outside).toEqual([]);
}, 300_000);
