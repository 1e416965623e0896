import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { KohyaSubset } from "../dataset/kohya/index.ts";
import { DEFAULT_CAPTION_OPTIONS } from "./captions.ts";
import { buildPlan, type PlanOptions } from "./plan.ts";
import { ProgressRenderer } from "./progress.ts";
import { ValidationHistory } from "./validation-history.ts";
import { formatValidation, splitValidation, validationTimesteps } from "./validation.ts";
import { SD15_512_BUCKETS } from "./test-support.ts";

function subset(name: string, count: number, isReg = false): KohyaSubset {
  return {
    dir: `/data/${name}`,
    name,
    repeats: 2,
    isReg,
    images: Array.from({ length: count }, (_, i) => ({
      path: `/data/${name}/${i}.png`,
      width: 512,
      height: 512,
      caption: `${name}, tag${i}`,
    })),
  };
}

const alice = subset("alice", 12);
const bob = subset("bob", 8);
const reg = subset("woman", 10, true);
const heldPaths = (split: number, seed: number) =>
  splitValidation([alice, bob, reg], { split, seed }).held.map((h) => h.image.path);

describe("splitValidation", () => {
  test("holds out the same images for the same seed, and others for another seed", () => {
    expect(heldPaths(0.2, 7)).toEqual(heldPaths(0.2, 7));
    expect(heldPaths(0.2, 7)).toHaveLength(4); // 20% of the 20 training images
    expect(heldPaths(0.2, 8)).not.toEqual(heldPaths(0.2, 7));
  });

  test("never holds out regularization images, and removes the held-out ones from training", () => {
    const { train, held } = splitValidation([alice, bob, reg], { split: 0.5, seed: 1 });
    expect(held.every((h) => !h.subset.isReg)).toBe(true);
    expect(train[2]).toBe(reg);
    const trainPaths = train.flatMap((s) => s.images.map((image) => image.path));
    expect(trainPaths).toHaveLength(12 + 8 + 10 - 10); // half of the 20 training images held out
    for (const h of held) expect(trainPaths).not.toContain(h.image.path);
  });

  test("holds out at least one image, and refuses to hold out every one", () => {
    expect(splitValidation([subset("one", 3)], { split: 0.01, seed: 0 }).held).toHaveLength(1);
    expect(splitValidation([alice], { split: 0, seed: 0 }).held).toEqual([]);
    expect(() => splitValidation([subset("one", 1)], { split: 0.5, seed: 0 })).toThrow(
      /leaves none to train/,
    );
  });

  test("a validation folder validates all its images and holds out nothing", () => {
    const folder = [subset("val", 3)];
    const { train, held } = splitValidation([alice], { split: 0, seed: 0, folder });
    expect(train).toEqual([alice]);
    expect(held.map((h) => h.image.path)).toEqual(folder[0]?.images.map((image) => image.path));
  });

  test("the plan report says where the validation images come from and when the loss is measured", () => {
    const config = { validation_split: 0.2, validation_data_dir: null, validate_every_n_steps: 50 };
    expect(formatValidation(0, config)).toBe("");
    expect(formatValidation(3, config)).toMatch(
      /3 image\(s\), held out .*validation_split 0\.2\)\n.*every 50 steps/,
    );
  });

  test("timesteps spread evenly over the schedule", () => {
    expect(validationTimesteps()).toEqual([100, 300, 500, 700, 900]);
  });
});

describe("buildPlan with validation", () => {
  const options: PlanOptions = {
    ...SD15_512_BUCKETS,
    batchSize: 2,
    maxTrainEpochs: 2,
    gradientAccumulationSteps: 1,
    seed: 42,
    captions: { ...DEFAULT_CAPTION_OPTIONS, shuffleCaption: true, captionPrefix: "photo of" },
    flipAug: true,
    priorLossWeight: 1,
    validation: { split: 0.25, seed: 3 },
  };
  const dataset = { subsets: [alice, bob], captionExtension: ".txt", warnings: [] };

  test("appends the held-out images after the training images; no batch uses them", () => {
    const plan = buildPlan(dataset, options);
    expect(plan.validation).toHaveLength(5);
    expect(plan.images).toHaveLength(20);
    expect(plan.numTrainImages).toBe(15 * 2);
    const used = new Set(plan.epochs.flat().flatMap((batch) => batch.images));
    for (const entry of plan.validation) {
      expect(entry.image).toBeGreaterThanOrEqual(15);
      expect(used.has(entry.image)).toBe(false);
      expect(plan.images[entry.image]?.flip).toBe(false);
      expect(entry.caption).toMatch(/^photo of (alice|bob), tag\d+$/); // prefix applied, never shuffled
    }
    expect(buildPlan(dataset, options).validation).toEqual(plan.validation);
  });
});

describe("ValidationHistory (val_loss.csv)", () => {
  test("writes a row per validation and keeps the rows up to the step a resume starts from", () => {
    const path = join(mkdtempSync(join(tmpdir(), "danlu-val-")), "val_loss.csv");
    const history = new ValidationHistory(path);
    for (const step of [0, 2, 4])
      history.append({ event: "validation", step, epoch: step / 2, loss: 0.5, images: 3 });
    history.close();
    expect(readFileSync(path, "utf8")).toBe("step,epoch,val_loss,images\n0,0,0.5,3\n2,1,0.5,3\n4,2,0.5,3\n");
    new ValidationHistory(path, { resumeAfterStep: 2 }).close();
    expect(readFileSync(path, "utf8")).toBe("step,epoch,val_loss,images\n0,0,0.5,3\n2,1,0.5,3\n");
  });
});

describe("the progress line", () => {
  test("shows the latest validation loss after the training loss", () => {
    let written = "";
    const renderer = new ProgressRenderer({ stream: { write: (text: string) => (written += text) } });
    const progress = {
      event: "progress" as const,
      ...{ step: 1, total_steps: 10, epoch: 1, loss: 0.2, lr: 1e-4, it_per_s: 1, images_per_s: 2 },
      ...{ memory_mb: null, elapsed_s: 1 },
    };
    renderer.update(progress);
    expect(written).not.toContain("val");
    renderer.update({ event: "validation", step: 1, epoch: 1, loss: 0.1234, images: 2 });
    renderer.update({ ...progress, step: 10 });
    expect(written).toMatch(/step 10\/10 \| loss [\d.]+ \| val 0\.1234 \| lr/);
  });
});
