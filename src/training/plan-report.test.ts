import { describe, expect, test } from "vitest";
import type { KohyaDataset, KohyaSubset } from "../dataset/kohya/index.ts";
import { DEFAULT_CAPTION_OPTIONS } from "./captions.ts";
import { formatPlan, saveSchedule } from "./plan-report.ts";
import { buildPlan, type PlanOptions } from "./plan.ts";
import { SD15_512_BUCKETS } from "./test-support.ts";

function subset(dir: string, repeats: number, sizes: [number, number][], isReg = false): KohyaSubset {
  return {
    dir: `/data/${dir}`,
    name: dir.split("_").slice(1).join("_"),
    repeats,
    isReg,
    images: sizes.map(([width, height], i) => ({
      path: `/data/${dir}/${i}.png`,
      width,
      height,
      caption: null,
    })),
  };
}

const dataset: KohyaDataset = {
  subsets: [
    subset("10_alice", 10, [[512, 512], [640, 427], [1920, 1080], [333, 500]]),
    subset("3_bob man", 3, [[1080, 1920], [300, 2000]]),
    subset("1_woman", 1, [[512, 512], [512, 512], [512, 512]], true),
  ],
  captionExtension: ".txt",
  warnings: [],
}; // prettier-ignore

const options: PlanOptions = {
  ...SD15_512_BUCKETS,
  batchSize: 2,
  maxTrainEpochs: 10,
  gradientAccumulationSteps: 1,
  seed: 1,
  captions: DEFAULT_CAPTION_OPTIONS,
  flipAug: false,
  priorLossWeight: 1,
};

describe("formatPlan", () => {
  test("folders, buckets, the step arithmetic and the files to expect", () => {
    const text = formatPlan(buildPlan(dataset, options), {
      saveEveryNEpochs: 2,
      saveEveryNSteps: 0,
      outputName: "alice",
    });
    expect(text).toBe(
      [
        "Dataset",
        "  folder     images  repeats  per epoch",
        "  10_alice        4       10         40",
        "  3_bob man       2        3          6",
        "  1_woman         3        1         46  regularization: cycled to match the training images",
        "  total           9                  92",
        "",
        "Buckets (resolution 512x512; min 256, max 1024, step 64), images x repeats per epoch",
        "  256x1024   3",
        "  384x640   13",
        "  512x512   56",
        "  640x384   20",
        "",
        "Steps (images x repeats x epochs / batch size)",
        "  images x repeats per epoch: 4 x 10 + 2 x 3 + 46 regularization = 92",
        "  batches per epoch: 92 / batch size 2 = 46, + 1 for buckets whose last batch is not full = 47",
        "  steps per epoch: 47",
        "  total: 47 steps x 10 epochs = 470 steps",
        "",
        "Saves (in the output folder)",
        "  epoch 2, step 94:       alice-000002.safetensors",
        "  epoch 4, step 188:      alice-000004.safetensors",
        "  epoch 6, step 282:      alice-000006.safetensors",
        "  epoch 8, step 376:      alice-000008.safetensors",
        "  end, step 470:          alice.safetensors",
      ].join("\n"),
    );
  });

  test("max_train_steps, accumulation and a long save list", () => {
    const plan = buildPlan(dataset, {
      ...options,
      maxTrainEpochs: null,
      maxTrainSteps: 100,
      gradientAccumulationSteps: 2,
    });
    const text = formatPlan(plan, { saveEveryNEpochs: 1, saveEveryNSteps: 25, outputName: "alice" });
    expect(text).toContain("  steps per epoch: 47 / gradient accumulation 2 = 24\n");
    expect(text).toContain(
      "  total: max_train_steps = 100 steps, 5 epochs (the last cut short after 4 of 24 steps)\n",
    );
    expect(text).toContain("  ... 2 more ...\n");
    expect(text.endsWith("  end, step 100:          alice.safetensors")).toBe(true);
  });

  test("several processes: the global batch, steps per epoch divided by them, and the lr note", () => {
    const plan = buildPlan(dataset, { ...options, numProcesses: 2, gradientAccumulationSteps: 2 });
    const text = formatPlan(plan, { saveEveryNEpochs: 0, saveEveryNSteps: 0, outputName: "alice" });
    expect(text).toContain(
      "  2 processes x batch 2 x accumulation 2 = global batch 8; steps per epoch 12 " +
        "(47 batches / (2 processes x accumulation 2))\n",
    );
    expect(text).toContain(
      "  the learning rate is not scaled automatically; with a global batch 2 times larger, sd-scripts " +
        "users often scale lr by 2 (linear) or sqrt(2) = 1.41\n",
    );
    expect(text).toContain("  total: 12 steps x 10 epochs = 120 steps\n");
    const one = buildPlan(dataset, { ...options, numProcesses: 4 });
    const oneText = formatPlan(one, { saveEveryNEpochs: 0, saveEveryNSteps: 0, outputName: "alice" });
    expect(oneText).toContain("global batch 8; steps per epoch 12 (47 batches / 4 processes)\n");
  });

  test("plan warnings are listed; no-bucket runs say so", () => {
    const plan = buildPlan(dataset, { ...options, enableBucket: false, minBucketReso: 300 });
    const text = formatPlan(plan, { saveEveryNEpochs: 0, saveEveryNSteps: 0, outputName: "x" });
    expect(text).toContain(
      "Buckets (resolution 512x512; no buckets: every image is resized and cropped to the resolution)",
    );
    const warned = buildPlan(dataset, { ...options, minBucketReso: 300 });
    expect(formatPlan(warned, { saveEveryNEpochs: 0, saveEveryNSteps: 0, outputName: "x" })).toContain(
      "Warnings\n  min_bucket_reso 300 is not a multiple of 64: using 256",
    );
  });
});

describe("saveSchedule", () => {
  test("every N epochs but the last, every N steps, and the final file, in writing order", () => {
    const plan = buildPlan(dataset, { ...options, maxTrainEpochs: 3 }); // 47 steps per epoch, 141 total
    expect(saveSchedule(plan, { saveEveryNEpochs: 1, saveEveryNSteps: 60, outputName: "n" })).toEqual([
      { epoch: 1, step: 47, file: "n-000001.safetensors" },
      { epoch: null, step: 60, file: "n-step00000060.safetensors" },
      { epoch: 2, step: 94, file: "n-000002.safetensors" },
      { epoch: null, step: 120, file: "n-step00000120.safetensors" },
      { epoch: 3, step: 141, file: "n.safetensors" },
    ]);
    expect(saveSchedule(plan, { saveEveryNEpochs: 0, saveEveryNSteps: 0, outputName: "n" })).toEqual([
      { epoch: 3, step: 141, file: "n.safetensors" },
    ]);
  });
});
