import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DanluError } from "../../errors.ts";
import { cleanCaption, loadCaptioner } from "./captioner.ts";
import { writeTinyCaptioner } from "./testing/tiny-captioner.ts";
import { writeTinyFlorence } from "./testing/tiny-florence.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "danlu-captioner-"));
  await writeTinyCaptioner(join(dir, "tiny-captioner"));
  const solid = (hex: string, file: string) =>
    sharp({ create: { width: 24, height: 16, channels: 3, background: hex } })
      .png()
      .toFile(join(dir, file));
  await solid("#f0f0f0", "bright.png");
  await solid("#101010", "dark.png");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadCaptioner (transformers.js, local folder only)", () => {
  it("captions through the image-to-text pipeline with greedy decoding and a key/value cache", async () => {
    const captioner = await loadCaptioner(join(dir, "tiny-captioner"), "tiny", { threads: 1 });
    const captions = await captioner.caption([join(dir, "bright.png"), join(dir, "dark.png")]);
    expect(captions).toEqual(["a bright photo", "a dark photo"]);
    await captioner.dispose();
  });

  it("captions with Florence-2 (vision encoder, embeddings, encoder, decoder with cache) for each task", async () => {
    await writeTinyFlorence(join(dir, "tiny-florence"));
    for (const task of ["<CAPTION>", "<MORE_DETAILED_CAPTION>"] as const) {
      const captioner = await loadCaptioner(join(dir, "tiny-florence"), "florence", { threads: 1, task });
      const captions = await captioner.caption([join(dir, "bright.png"), join(dir, "dark.png")]);
      expect(captions).toEqual(["a bright photo", "a dark photo"]);
      await captioner.dispose();
    }
  });

  it("falls back to the 8-bit files when only those are present", async () => {
    const quantized = join(dir, "quantized");
    await writeTinyCaptioner(quantized);
    for (const name of ["encoder_model", "decoder_model_merged"]) {
      await rename(
        join(quantized, "onnx", `${name}.onnx`),
        join(quantized, "onnx", `${name}_quantized.onnx`),
      );
    }
    const captioner = await loadCaptioner(quantized, "q8", { threads: 1 });
    expect(await captioner.caption([join(dir, "dark.png")])).toEqual(["a dark photo"]);
    await captioner.dispose();
  });

  it("explains a folder that is not a captioning model", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty, { recursive: true });
    await expect(loadCaptioner(empty, "empty")).rejects.toThrow(/has no config.json/);
    await writeFile(join(empty, "config.json"), "{}");
    await expect(loadCaptioner(empty, "empty")).rejects.toThrow(/no fp32 or _quantized .onnx files/);
  });

  it("wraps a model type transformers.js cannot caption with in a DanluError", async () => {
    const other = join(dir, "other");
    await writeTinyCaptioner(other);
    await writeFile(join(other, "config.json"), JSON.stringify({ model_type: "bert" }));
    await expect(loadCaptioner(other, "other")).rejects.toBeInstanceOf(DanluError);
  });
});

describe("cleanCaption", () => {
  it("makes one line without the final full stop", () => {
    expect(cleanCaption("  A cat\n on a sofa. ")).toBe("A cat on a sofa");
  });
});
