import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../engine/python.ts";
import { writeTinyTagger } from "../../tagging/wd/testing/tiny-tagger.ts";
import { KindHarness } from "./test-support.ts";

// The dataset kinds on the sample photos, in the order a user runs them: import, check, tag, layout.
const harness = new KindHarness();

beforeAll(async () => {
  cpSync(join(REPO_ROOT, "fixtures", "photos"), harness.datasetDir("raw"), { recursive: true });
  await writeTinyTagger(join(harness.data.modelsDir, "wd-tiny"), { inputSize: 16 });
});

describe("dataset kinds", () => {
  it("data-import copies a dataset's photos into a clean new dataset and reports the broken one", async () => {
    const { result, recording } = await harness.run("data-import", {
      sources: [{ dataset: "raw" }],
      out: "photos",
    });
    expect(result).toMatchObject({ dataset: "photos", counts: { imported: 5, rejected: 1 } });
    expect(result.problems).toEqual([
      { source: "datasets/raw/SOURCES.md", status: "skipped", reason: "not an image file (.md)" },
      expect.objectContaining({ source: "datasets/raw/truncated.jpg", status: "rejected" }),
    ]);
    expect(recording.stages).toEqual(["importing"]);
    expect(recording.progress.at(-1)).toEqual({ step: 6, total: 6 }); // the broken file counts as done
    expect(existsSync(join(harness.datasetDir("photos"), "manifest.json"))).toBe(true);
  });

  it("data-check flags the small photos and writes its contact sheet into the job folder", async () => {
    const { result, runDir } = await harness.run("data-check", {
      dataset: "photos",
      people: false,
      sheet: true,
    });
    expect(result).toMatchObject({ images: 5, sheet: "sheet.png", fixes: [] });
    const flagged = result.flagged as { file: string; flags: string[] }[];
    expect(flagged.every((image) => image.flags.includes("small"))).toBe(true);
    expect(existsSync(join(runDir, "sheet.png"))).toBe(true);
  });

  it("tag writes captions with a tagger from the models folder, by name", async () => {
    const { result } = await harness.run("tag", { dataset: "photos", models: ["wd-tiny"] });
    expect(result).toMatchObject({ images: 5, written: 5, captioner: null });
    expect(readFileSync(join(harness.datasetDir("photos"), "coffee.txt"), "utf8")).toMatch(/ theme\n$/);
    const missing = harness.run("tag", { dataset: "photos", models: ["wd-vit-tagger-v3"] });
    await expect(missing).rejects.toMatchObject({ code: "MODEL_MISSING" });
  });

  it("data-layout writes a kohya train_data_dir as a new dataset with the plan's steps", async () => {
    const { result } = await harness.run("data-layout", {
      concepts: [{ name: "dlnsample", dataset: "photos" }],
      repeats: { dlnsample: 2 },
      out: "train",
      epochs: 2,
      batch_size: 2,
      resolution: 64,
      min_bucket: 64,
      max_bucket: 128,
    });
    expect(result).toMatchObject({
      dataset: "train",
      reg_dataset: null,
      folders: [expect.objectContaining({ folder: "2_dlnsample", images: 5, repeats: 2 })],
      plan: { steps_per_epoch: 5, total_steps: 10, epochs: 2 },
    });
    expect(JSON.stringify(result)).not.toContain(harness.data.root);
    const folder = join(harness.datasetDir("train"), "2_dlnsample");
    expect(readdirSync(folder).filter((f) => f.endsWith(".txt"))).toHaveLength(5);
  });
});
