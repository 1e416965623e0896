import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preprocessForTagger } from "./preprocess.ts";
import { loadWdTagger, type WdTagger } from "./session.ts";
import { writeEchoTagger } from "./testing/tiny-tagger.ts";

/** A PNG from RGBA pixel rows. */
function png(width: number, height: number, rgba: number[]): Promise<Buffer> {
  return sharp(Buffer.from(rgba), { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

const W = [255, 255, 255];

let folder: string;
let echo: WdTagger;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "danlu-echo-"));
  await writeEchoTagger(folder, 4);
  echo = await loadWdTagger(folder, "echo", { threads: 1 });
});
afterAll(async () => {
  await echo.dispose();
  await rm(folder, { recursive: true, force: true });
});

/** Pixels as the model received them (through onnxruntime, HWC, BGR). */
async function modelInput(image: Buffer): Promise<number[][]> {
  const [row] = await echo.predict([(await preprocessForTagger(image, echo.inputSize)).pixels]);
  const values = Array.from(row ?? []);
  return Array.from({ length: values.length / 3 }, (_, i) => values.slice(i * 3, i * 3 + 3));
}

describe("WD preprocessing, read back through an echo model", () => {
  it("reads the input size from the model", () => {
    expect(echo.inputSize).toBe(4);
  });

  it("orders channels BGR with raw 0-255 values", async () => {
    const red = [255, 0, 0, 255];
    const mixed = [10, 20, 30, 255];
    const pixels = await modelInput(await png(4, 4, [...red, ...mixed, ...Array(14).fill(red).flat()]));
    expect(pixels[0]).toEqual([0, 0, 255]);
    expect(pixels[1]).toEqual([30, 20, 10]);
  });

  it("pads a wide image with white rows, the odd row at the bottom", async () => {
    // 4x1 image -> 4x4: one white row above, two below (pad_top = floor(3 / 2))
    const row = [1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, 10, 11, 12, 255];
    const pixels = await modelInput(await png(4, 1, row));
    expect(pixels.slice(0, 4)).toEqual([W, W, W, W]);
    expect(pixels.slice(4, 8)).toEqual([
      [3, 2, 1],
      [6, 5, 4],
      [9, 8, 7],
      [12, 11, 10],
    ]);
    expect(pixels.slice(8, 16)).toEqual(Array(8).fill(W));
  });

  it("pads a tall image with white columns, the odd column on the right", async () => {
    const column = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255];
    const pixels = await modelInput(await png(1, 4, column));
    for (let y = 0; y < 4; y++) {
      expect(pixels.slice(y * 4, y * 4 + 4)).toEqual([W, [0, 0, 0], W, W]);
    }
  });

  it("flattens alpha onto white", async () => {
    const half = [0, 0, 0, 128]; // black at alpha 128/255 -> 255 * 127/255 = 127
    const clear = [0, 0, 255, 0];
    const exact = await modelInput(await png(4, 4, Array(16).fill(half).flat()));
    expect(exact.every((p) => p.every((v) => v === 127))).toBe(true);
    const transparent = await modelInput(await png(4, 4, Array(16).fill(clear).flat()));
    expect(transparent.every((p) => p.every((v) => v === 255))).toBe(true);
  });

  it("resizes to the model size; a solid colour stays exact", async () => {
    const pixels = await modelInput(await png(8, 8, Array(64).fill([200, 100, 50, 255]).flat()));
    expect(pixels.every((p) => p[0] === 50 && p[1] === 100 && p[2] === 200)).toBe(true);
  });
});

// Expected values from SmilingWolf's Space preprocessing in Pillow (alpha_composite onto white, pad,
// Image.BICUBIC resize to 6x6, RGB -> BGR) of the 9x5 image built by `goldenImage`.
const PIL_BGR_6X6 = [
  255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 222, 136, 141,
  203, 106, 136, 218, 191, 225, 166, 114, 218, 165, 156, 202, 109, 122, 113, 173, 126, 49, 166, 163, 136, 105,
  146, 155, 143, 199, 224, 61, 170, 154, 137, 193, 118, 152, 131, 115, 105, 104, 133, 131, 182, 208, 35, 112,
  221, 186, 158, 105, 233, 130, 115, 134, 148, 134, 156, 178, 190, 103, 171, 221, 188, 210, 242, 238, 183,
  131, 222, 197, 181, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
  255,
];

function goldenImage(): Promise<Buffer> {
  const rgba: number[] = [];
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 9; x++) {
      const alpha = (x + y) % 3 ? 255 : x % 2 ? 0 : 128;
      rgba.push(
        (x * 40 + y * 15) % 256,
        (x * 7 + y * 90) % 256,
        (((200 - x * 20 - y * 30) % 256) + 256) % 256,
        alpha,
      );
    }
  }
  return png(9, 5, rgba);
}

describe("WD preprocessing against the reference implementation", () => {
  it("matches Pillow's pad + bicubic result within 3 levels (mean under 0.5)", async () => {
    const { pixels, width, height } = await preprocessForTagger(await goldenImage(), 6);
    expect([width, height]).toEqual([9, 5]);
    const diffs = Array.from(pixels).map((v, i) => Math.abs(v - (PIL_BGR_6X6[i] ?? -999)));
    expect(Math.max(...diffs)).toBeLessThanOrEqual(3);
    expect(diffs.reduce((a, b) => a + b, 0) / diffs.length).toBeLessThan(0.5);
  });

  it("converts 16-bit and greyscale images to 8-bit BGR", async () => {
    const grey16 = await sharp(new Uint16Array([0, 65535, 32768, 1028]), {
      raw: { width: 2, height: 2, channels: 1 },
    })
      .toColourspace("grey16")
      .png()
      .toBuffer();
    const { pixels } = await preprocessForTagger(grey16, 2);
    expect(Array.from(pixels)).toEqual([0, 0, 0, 255, 255, 255, 128, 128, 128, 4, 4, 4]);
  });
});
