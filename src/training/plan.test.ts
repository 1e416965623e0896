import { describe, expect, test } from "vitest";
import type { KohyaDataset, KohyaSubset } from "../dataset/kohya/index.ts";
import { trainSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { DEFAULT_CAPTION_OPTIONS } from "./captions.ts";
import { buildPlan, type PlanOptions, type TrainPlan } from "./plan.ts";
import { SD15_512_BUCKETS } from "./test-support.ts";

function subset(
  dir: string,
  repeats: number,
  sizes: [number, number][],
  isReg = false,
  caption = true,
): KohyaSubset {
  const name = dir.split("_").slice(1).join("_");
  return {
    dir: `/data/${dir}`,
    name,
    repeats,
    isReg,
    images: sizes.map(([width, height], i) => ({
      path: `/data/${dir}/${i}.png`,
      width,
      height,
      caption: caption ? `${name}, tag${i}a, tag${i}b, tag${i}c` : null,
    })),
  };
}

function dataset(...subsets: KohyaSubset[]): KohyaDataset {
  return { subsets, captionExtension: ".txt", warnings: [] };
}

const options: PlanOptions = {
  ...SD15_512_BUCKETS,
  batchSize: 2,
  maxTrainEpochs: 3,
  gradientAccumulationSteps: 1,
  seed: 42,
  captions: DEFAULT_CAPTION_OPTIONS,
  flipAug: false,
  priorLossWeight: 1,
};

// alice: 512x512 -> 512x512, 640x427 and 1920x1080 -> 640x384, 333x500 -> 384x640 (see buckets.test.ts)
// bob: 1080x1920 -> 384x640, 300x2000 -> 256x1024
const alice = subset("10_alice", 10, [[512, 512], [640, 427], [1920, 1080], [333, 500]]); // prettier-ignore
const bob = subset(
  "3_bob",
  3,
  [
    [1080, 1920],
    [300, 2000],
  ],
  false,
  false,
);

/** How often each image index appears in an epoch. */
function uses(batches: TrainPlan["epochs"][number]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const batch of batches) for (const i of batch.images) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

describe("buildPlan", () => {
  test("buckets, counts and steps for two folders", () => {
    const plan = buildPlan(dataset(alice, bob), options);
    expect(plan.buckets).toEqual([
      { size: [256, 1024], count: 3 },
      { size: [384, 640], count: 13 },
      { size: [512, 512], count: 10 },
      { size: [640, 384], count: 20 },
    ]);
    expect(plan.numTrainImages).toBe(46);
    expect(plan.batchesPerEpoch).toBe(2 + 7 + 5 + 10); // ceil(count / 2) per bucket
    expect(plan.stepsPerEpoch).toBe(24);
    expect(plan.numEpochs).toBe(3);
    expect(plan.totalSteps).toBe(72);
    expect(plan.epochs).toHaveLength(3);
    expect(plan.images.map((i) => i.bucket)).toEqual([[512, 512], [640, 384], [640, 384], [384, 640], [384, 640], [256, 1024]]); // prettier-ignore
    expect(plan.images[1]).toMatchObject({
      resized: [640, 427],
      crop: [0, 21],
      is_reg: false,
      loss_weight: 1,
    });
    expect(plan.subsets.map((s) => [s.name, s.imageCount, s.perEpoch])).toEqual([
      ["alice", 4, 40],
      ["bob", 2, 6],
    ]);
  });

  test("every epoch uses each image repeats times, in batches drawn from one bucket", () => {
    const plan = buildPlan(dataset(alice, bob), options);
    for (const epoch of plan.epochs) {
      expect(epoch).toHaveLength(24);
      expect([...uses(epoch).entries()].sort((a, b) => a[0] - b[0])).toEqual([[0, 10], [1, 10], [2, 10], [3, 10], [4, 3], [5, 3]]); // prettier-ignore
      for (const batch of epoch) {
        const sizes = new Set(batch.images.map((i) => plan.images[i]!.bucket.join("x")));
        expect(sizes.size).toBe(1);
        expect(batch.images.length).toBeLessThanOrEqual(2);
        expect(batch.captions).toHaveLength(batch.images.length);
      }
    }
  });

  test("captions: the file's, else the class tokens; shuffled per step when asked", () => {
    const plain = buildPlan(dataset(alice, bob), options);
    const captionsOf = (plan: TrainPlan, index: number) =>
      plan.epochs.flat().flatMap((b) => b.captions.filter((_, k) => b.images[k] === index));
    expect(new Set(captionsOf(plain, 0))).toEqual(new Set(["alice, tag0a, tag0b, tag0c"]));
    expect(new Set(captionsOf(plain, 4))).toEqual(new Set(["bob"]));

    const shuffled = buildPlan(dataset(alice, bob), {
      ...options,
      captions: { ...DEFAULT_CAPTION_OPTIONS, shuffleCaption: true, keepTokens: 1 },
    });
    const seen = new Set(captionsOf(shuffled, 0));
    expect(seen.size).toBeGreaterThan(3);
    for (const caption of seen) expect(caption.startsWith("alice, ")).toBe(true);
  });

  test("the same seed gives the same plan; another seed or epoch another order", () => {
    const a = buildPlan(dataset(alice, bob), options);
    const b = buildPlan(dataset(alice, bob), options);
    const c = buildPlan(dataset(alice, bob), { ...options, seed: 43 });
    expect(b.epochs).toEqual(a.epochs);
    expect(c.epochs[0]).not.toEqual(a.epochs[0]);
    expect(a.epochs[1]).not.toEqual(a.epochs[0]);
  });

  test("max_train_steps cuts the last epoch short; max_train_epochs wins when both are set", () => {
    const plan = buildPlan(dataset(alice, bob), { ...options, maxTrainEpochs: null, maxTrainSteps: 50 });
    expect(plan.numEpochs).toBe(3);
    expect(plan.totalSteps).toBe(50);
    expect(plan.epochs.map((e) => e.length)).toEqual([24, 24, 2]);
    const both = buildPlan(dataset(alice, bob), { ...options, maxTrainEpochs: 2, maxTrainSteps: 5 });
    expect([both.numEpochs, both.totalSteps]).toEqual([2, 48]);
  });

  test("gradient accumulation: steps per epoch = ceil(batches / accumulation); a cut keeps whole steps", () => {
    const plan = buildPlan(dataset(alice, bob), {
      ...options,
      gradientAccumulationSteps: 5,
      maxTrainEpochs: null,
      maxTrainSteps: 12,
    });
    expect(plan.stepsPerEpoch).toBe(5); // 24 micro-batches: 4 steps of 5, one of 4
    expect(plan.numEpochs).toBe(3);
    expect(plan.epochs.map((e) => e.length)).toEqual([24, 24, 10]);
    // spec: total_steps is the sum over epochs of ceil(micro-batches / accumulation)
    expect(plan.epochs.reduce((sum, e) => sum + Math.ceil(e.length / 5), 0)).toBe(plan.totalSteps);
  });

  test("several processes: a step takes one micro-batch per process per accumulation step", () => {
    const one = buildPlan(dataset(alice, bob), { ...options, maxTrainEpochs: 2 });
    const two = buildPlan(dataset(alice, bob), { ...options, maxTrainEpochs: 2, numProcesses: 2 });
    expect([one.stepsPerEpoch, two.stepsPerEpoch, two.totalSteps]).toEqual([24, 12, 24]);
    expect(two.epochs).toEqual(one.epochs); // the same micro-batches, in the same order
    // 24 micro-batches per epoch, 5 processes x accumulation 2 = 10 per step: 3 steps, the last of 4
    const cut = buildPlan(dataset(alice, bob), {
      ...options,
      gradientAccumulationSteps: 2,
      numProcesses: 5,
      maxTrainEpochs: null,
      maxTrainSteps: 4,
    });
    expect([cut.stepsPerEpoch, cut.numEpochs, cut.totalSteps]).toEqual([3, 2, 4]);
    expect(cut.epochs.map((e) => e.length)).toEqual([24, 10]);
    expect(() => buildPlan(dataset(alice, bob), { ...options, numProcesses: 0 })).toThrow(/num_processes/u);
  });

  test("regularization images are cycled until they match the training images, as in sd-scripts", () => {
    const train = subset("2_alice", 2, [[512, 512], [512, 512], [512, 512], [512, 512], [512, 512]]); // prettier-ignore
    const reg = subset(
      "1_woman",
      1,
      [
        [512, 512],
        [640, 427],
        [333, 500],
      ],
      true,
      false,
    );
    const plan = buildPlan(dataset(train, reg), { ...options, priorLossWeight: 0.5 });
    // 10 training uses; reg: 3 registered (n = 3), then +1 each round: 2,2,2 (6), 3,3,3 (9), 4,3,3 (10)
    expect(plan.numRegImages).toBe(3);
    expect(plan.regImagesPerEpoch).toBe(10);
    expect(plan.subsets[1]).toMatchObject({ isReg: true, imageCount: 3, perEpoch: 10 });
    const counts = uses(plan.epochs[0]!);
    expect([5, 6, 7].map((i) => counts.get(i))).toEqual([4, 3, 3]);
    expect(plan.images[5]).toMatchObject({ is_reg: true, loss_weight: 0.5 });
  });

  test("regularization images beyond the training count are left out, with a warning", () => {
    const train = subset("1_alice", 1, [
      [512, 512],
      [512, 512],
    ]);
    const reg = subset(
      "1_woman",
      1,
      [
        [512, 512],
        [512, 512],
        [512, 512],
        [512, 512],
      ],
      true,
    );
    const plan = buildPlan(dataset(train, reg), options);
    expect(plan.images).toHaveLength(4); // 2 training + the first 2 reg images
    expect(plan.regImagesPerEpoch).toBe(2);
    expect(plan.warnings.join("\n")).toMatch(
      /more regularization images \(4 with repeats\) than training images \(2\)/,
    );
    const overshoot = buildPlan(dataset(train, subset("20_woman", 20, [[512, 512]], true)), options);
    expect(overshoot.regImagesPerEpoch).toBe(20); // a folder's repeats are not trimmed
  });

  test("without enable_bucket every image is resized and cropped to the resolution", () => {
    const plan = buildPlan(dataset(alice, bob), { ...options, enableBucket: false });
    expect(plan.buckets).toEqual([{ size: [512, 512], count: 46 }]);
    expect(plan.images[1]).toMatchObject({ bucket: [512, 512], resized: [767, 512], crop: [127, 0] });
  });

  test("bucket_no_upscale buckets come from the image sizes", () => {
    const plan = buildPlan(dataset(alice), { ...options, bucketNoUpscale: true });
    expect(plan.images.map((i) => i.bucket)).toEqual([[512, 512], [576, 384], [640, 384], [320, 448]]); // prettier-ignore
  });

  test("random_crop draws one crop per image from the seed; flip_aug marks every image", () => {
    const a = buildPlan(dataset(alice), { ...options, randomCrop: true, flipAug: true });
    const b = buildPlan(dataset(alice), { ...options, randomCrop: true, flipAug: true });
    expect(a.images.map((i) => i.crop)).toEqual(b.images.map((i) => i.crop));
    expect(a.images.every((i) => i.flip)).toBe(true);
    expect(a.epochs).toEqual(buildPlan(dataset(alice), options).epochs); // crops do not change the batches
    for (const image of a.images) {
      expect(image.crop[0]).toBeLessThanOrEqual(image.resized[0] - image.bucket[0]);
      expect(image.crop[1]).toBeLessThanOrEqual(image.resized[1] - image.bucket[1]);
    }
  });

  test("the plan fits the engine's spec schema", () => {
    const plan = buildPlan(dataset(alice, bob), options);
    expect(trainSpec.shape.images.safeParse(plan.images).success).toBe(true);
    expect(trainSpec.shape.epochs.safeParse(plan.epochs).success).toBe(true);
  });
});

describe("buildPlan settings errors", () => {
  const error = (override: Partial<PlanOptions>, data = dataset(alice)): DanluError => {
    try {
      buildPlan(data, { ...options, ...override });
    } catch (e) {
      expect(e).toBeInstanceOf(DanluError);
      return e as DanluError;
    }
    throw new Error("no error");
  };

  test("resolution must be a multiple of 64 for SD1.5/SD2 and of 32 for SDXL", () => {
    expect(error({ resolution: [500, 500] }).message).toBe(
      "resolution 500x500 is not a multiple of 64 (required for SD1.5)",
    );
    expect(error({ resolution: [500, 500] }).hint).toBe("use resolution 512x512");
    expect(error({ arch: "sd2", resolution: [768, 736] }).message).toMatch(
      /not a multiple of 64 \(required for SD2\)/,
    );
    expect(error({ arch: "sdxl", resolution: [1000, 1000], maxBucketReso: 2048 }).message).toMatch(
      /multiple of 32/,
    );
    const sdxl = buildPlan(dataset(alice), {
      ...options,
      arch: "sdxl",
      resolution: [1024, 992],
      maxBucketReso: 2048,
      bucketResoSteps: 32,
    });
    expect(sdxl.bucketSettings.resolution).toEqual([1024, 992]);
  });

  test("bucket_reso_steps must be a multiple of 64, or 32 for SDXL", () => {
    expect(error({ bucketResoSteps: 32 }).message).toMatch(/bucket_reso_steps 32 is not a multiple of 64/);
    expect(() => buildPlan(dataset(alice), { ...options, arch: "sdxl", bucketResoSteps: 32 })).not.toThrow();
  });

  test("min/max bucket reso are rounded to the step with a warning, and must bracket the resolution", () => {
    const plan = buildPlan(dataset(alice), { ...options, minBucketReso: 300, maxBucketReso: 1000 });
    expect(plan.bucketSettings).toMatchObject({ minBucketReso: 256, maxBucketReso: 1024 });
    expect(plan.warnings).toContain("min_bucket_reso 300 is not a multiple of 64: using 256");
    expect(error({ minBucketReso: 576 }).message).toMatch(/min_bucket_reso 576 must be between/);
    expect(error({ resolution: [768, 768], maxBucketReso: 640 }).message).toMatch(
      /max_bucket_reso 640 is below/,
    );
  });

  test("a run needs a length, and counts must be whole numbers", () => {
    expect(error({ maxTrainEpochs: null, maxTrainSteps: null }).message).toMatch(
      /neither max_train_epochs nor/,
    );
    expect(error({ batchSize: 0 }).message).toMatch(/train_batch_size is 0/);
    expect(error({ maxTrainEpochs: 1.5 }).message).toMatch(/max_train_epochs is 1.5/);
    expect(error({ captions: { ...DEFAULT_CAPTION_OPTIONS, captionDropoutRate: 2 } }).message).toMatch(
      /caption_dropout_rate/,
    );
  });

  test("an image too thin for its bucket is named", () => {
    const thin = subset("1_thin", 1, [[4810, 73]]);
    expect(error({ bucketNoUpscale: true }, dataset(thin)).message).toMatch(
      /'\/data\/1_thin\/0.png' \(4810x73\) is too narrow: its bucket would be 0x0 px$/,
    );
  });
});
