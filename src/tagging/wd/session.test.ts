import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DanluError } from "../../errors.ts";
import { batchBuffer, loadWdTagger } from "./session.ts";
import { encodeOnnxModel } from "./testing/onnx-writer.ts";
import { selectedTagsCsv, TINY_TAGS, writeTinyTagger } from "./testing/tiny-tagger.ts";

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), "danlu-session-"));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

const solid = (size: number, bgr: [number, number, number]) =>
  Float32Array.from({ length: size * size * 3 }, (_, i) => bgr[i % 3] ?? 0);

describe("loadWdTagger", () => {
  it("returns one probability row per image, column i = CSV row i", async () => {
    await writeTinyTagger(folder, { inputSize: 8 });
    const tagger = await loadWdTagger(folder, "tiny", { threads: 1 });
    const [blue, red] = await tagger.predict([solid(8, [255, 0, 0]), solid(8, [0, 0, 255])]);
    const column = (name: string) => TINY_TAGS.findIndex((t) => t.name === name);
    expect(blue?.[column("blue_theme")]).toBeCloseTo(1 / (1 + Math.exp(-6)), 5);
    expect(red?.[column("red_theme")]).toBeCloseTo(1 / (1 + Math.exp(-6)), 5);
    expect(red?.[column("hatsune_miku_(vocaloid)")]).toBeCloseTo(1 / (1 + Math.exp(-2)), 5);
    expect(blue?.[column("long_hair")]).toBeCloseTo(0.3, 5);
    await tagger.dispose();
  });

  it("runs a model exported with a fixed batch in chunks, padding the last one", async () => {
    await writeTinyTagger(folder, { inputSize: 4, batch: 2 });
    const tagger = await loadWdTagger(folder, "fixed", { threads: 1 });
    expect(tagger.fixedBatch).toBe(2);
    const rows = await tagger.predict([solid(4, [255, 0, 0]), solid(4, [0, 0, 255]), solid(4, [255, 0, 0])]);
    expect(rows).toHaveLength(3);
    expect(rows[2]).toEqual(rows[0]);
    await tagger.dispose();
  });

  it("explains a folder without model.onnx", async () => {
    await expect(loadWdTagger(folder, "empty")).rejects.toThrow(/has no model.onnx/);
  });

  it("rejects a file that is not an ONNX model", async () => {
    await writeTinyTagger(folder);
    await writeFile(join(folder, "model.onnx"), "<html>rate limited</html>");
    await expect(loadWdTagger(folder, "bad")).rejects.toBeInstanceOf(DanluError);
  });

  it("rejects a CSV whose rows do not match the outputs", async () => {
    await writeTinyTagger(folder);
    await writeFile(join(folder, "selected_tags.csv"), selectedTagsCsv(TINY_TAGS.slice(0, 5)));
    await expect(loadWdTagger(folder, "mismatch")).rejects.toThrow(/does not match the 5 rows/);
  });

  it("rejects an NCHW model (not the WD contract)", async () => {
    const model = encodeOnnxModel({
      name: "nchw",
      inputs: [{ name: "x", type: "float32", shape: ["batch", 3, 4, 4] }],
      outputs: [{ name: "y", type: "float32", shape: ["batch", 48] }],
      nodes: [{ op: "Reshape", inputs: ["x", "shape"], outputs: ["y"] }],
      initializers: [{ name: "shape", type: "int64", dims: [2], values: [-1, 48] }],
    });
    await writeFile(join(folder, "model.onnx"), model);
    await writeFile(join(folder, "selected_tags.csv"), selectedTagsCsv(TINY_TAGS));
    await expect(loadWdTagger(folder, "nchw")).rejects.toThrow(/is not \[batch, size, size, 3\]/);
  });
});

describe("batchBuffer", () => {
  it("uses images decoded into consecutive slots of one buffer in place, and copies otherwise", () => {
    const shared = new Float32Array(12).map((_, i) => i);
    const views = [shared.subarray(0, 4), shared.subarray(4, 8), shared.subarray(8, 12)];
    const inPlace = batchBuffer(views, 3);
    expect(inPlace.buffer).toBe(shared.buffer);
    expect(Array.from(inPlace)).toEqual(Array.from(shared));

    const gap = batchBuffer([views[0]!, views[2]!], 2); // an image in between failed to decode
    expect(gap.buffer).not.toBe(shared.buffer);
    expect(Array.from(gap)).toEqual([0, 1, 2, 3, 8, 9, 10, 11]);

    const padded = batchBuffer([views[0]!], 2); // a fixed-batch model's last, short chunk
    expect(Array.from(padded)).toEqual([0, 1, 2, 3, 0, 0, 0, 0]);
  });
});
