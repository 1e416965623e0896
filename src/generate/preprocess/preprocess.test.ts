import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canny } from "./canny.ts";
import { depthInputSize } from "./depth.ts";
import { inferPreprocessor, runPreprocessor } from "./index.ts";
import { TINY_BODY, writeTinyPreprocessors } from "./testing/tiny-preprocessors.ts";

function square(size: number, inner: [number, number, number, number], level = 200): Buffer {
  const grey = Buffer.alloc(size * size, 20);
  for (let y = inner[1]; y < inner[3]; y++)
    for (let x = inner[0]; x < inner[2]; x++) grey[y * size + x] = level;
  return grey;
}

function rgb(grey: Buffer, size: number) {
  const data = Buffer.alloc(size * size * 3);
  for (let i = 0; i < size * size; i++) data.fill(grey[i] ?? 0, i * 3, i * 3 + 3);
  return { data, width: size, height: size, channels: 3 };
}

describe("canny", () => {
  it("finds a square's outline, one pixel thin, and nothing inside or outside", () => {
    const edges = canny({ data: square(48, [12, 12, 36, 36]), width: 48, height: 48 });
    const at = (x: number, y: number) => edges[y * 48 + x];
    expect(at(24, 24)).toBe(0); // inside
    expect(at(3, 3)).toBe(0); // outside
    for (const y of [16, 24, 30]) {
      const row = [...Array(48).keys()].filter((x) => at(x, y) === 255);
      expect(row.length).toBe(2); // the left and right edges, thinned to one pixel each
      expect(Math.abs(row[0]! - 11.5)).toBeLessThanOrEqual(1);
      expect(Math.abs(row[1]! - 35.5)).toBeLessThanOrEqual(1);
    }
  });

  it("keeps a weak edge only when it touches a strong one (hysteresis) and drops faint ones", () => {
    const faint = canny({ data: square(48, [12, 12, 36, 36], 40), width: 48, height: 48 });
    expect(faint.some((v) => v === 255)).toBe(false); // a step of 20 grey levels: under the low threshold
    const grey = square(48, [12, 12, 36, 36], 200);
    for (let y = 12; y < 36; y++) for (let x = 36; x < 44; x++) grey[y * 48 + x] = 60; // a weak step beside it
    const strong = canny({ data: grey, width: 48, height: 48 }, 100, 200);
    const low = canny({ data: grey, width: 48, height: 48 }, 10, 1000);
    expect(strong.filter((v) => v === 255).length).toBeGreaterThan(60);
    expect(low.some((v) => v === 255)).toBe(false); // nothing reaches high=1000: no seeds, no edges
  });
});

describe("ONNX preprocessors on tiny models with the real contracts", () => {
  const models = mkdtempSync(join(tmpdir(), "danlu-pre-"));
  writeTinyPreprocessors(models);

  it("depth: a map of the image's size, min-max scaled, brighter where the tiny model says nearer", async () => {
    expect(depthInputSize(512, 768)).toEqual([518, 784]); // 777 px snapped to 56 patches of 14
    const grey = square(64, [0, 0, 32, 64], 250); // left half bright
    const map = await runPreprocessor("depth", rgb(grey, 64), models);
    expect([map.width, map.height, map.channels]).toEqual([64, 64, 3]);
    expect(map.data[(32 * 64 + 4) * 3]).toBeGreaterThan(200);
    expect(map.data[(32 * 64 + 60) * 3]).toBeLessThan(50);
  });

  it("openpose: one person found, limbs in the OpenPose colours on black, hands and face drawn", async () => {
    const image = rgb(Buffer.alloc(256 * 256, 90), 256);
    const map = await runPreprocessor("openpose", image, models);
    expect([map.width, map.height]).toEqual([256, 256]);
    const colours = new Set<string>();
    for (let i = 0; i < 256 * 256; i++) colours.add([...map.data.subarray(i * 3, i * 3 + 3)].join(","));
    expect(colours.has("0,0,0")).toBe(true); // background
    expect(colours.has("255,0,0")).toBe(true); // nose dot, colour 0
    expect(colours.has("0,0,255")).toBe(true); // hand joints
    expect(colours.has("255,255,255")).toBe(true); // face dots
    expect(colours.has("153,0,0")).toBe(true); // limb 0 (neck-right shoulder) at 60%
    // the nose lands where the tiny pose model put it, mapped back through the person box: the detector's
    // 128x192 px box at the centre, grown 1.25x and widened to 3:4 (180x240); (144, 60) of 288x384 -> (128, 45.5)
    expect(TINY_BODY[0]).toEqual([144, 60]);
    expect([...map.data.subarray((45 * 256 + 128) * 3, (45 * 256 + 128) * 3 + 3)]).toEqual([255, 0, 0]);
  });

  it("names the model to pull when a preprocessor model is missing", async () => {
    const empty = mkdtempSync(join(tmpdir(), "danlu-nomodels-"));
    await expect(runPreprocessor("openpose", rgb(Buffer.alloc(16), 4), empty)).rejects.toMatchObject({
      code: "MODEL_MISSING",
      hint: expect.stringContaining("danlu models pull dwpose"),
    });
  });

  it("infers the preprocessor from the ControlNet's file name as A1111 does", () => {
    expect(inferPreprocessor("control_v11p_sd15_openpose_fp16.safetensors")).toBe("openpose");
    expect(inferPreprocessor("/m/control_v11f1p_sd15_depth")).toBe("depth");
    expect(inferPreprocessor("controlnet-canny-sdxl-1.0")).toBe("canny");
    expect(inferPreprocessor("control_v11p_sd15_lineart.safetensors")).toBe("none");
  });
});
