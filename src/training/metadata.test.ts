import { describe, expect, test } from "vitest";
import type { KohyaSubset } from "../dataset/kohya/index.ts";
import { DEFAULT_CAPTION_OPTIONS } from "./captions.ts";
import { datasetMetadata, tagFrequency } from "./metadata.ts";
import { buildPlan, type PlanOptions } from "./plan.ts";
import { SD15_512_BUCKETS } from "./test-support.ts";

const alice: KohyaSubset = {
  dir: "/data/train/10_alice",
  name: "alice",
  repeats: 10,
  isReg: false,
  images: [
    { path: "/data/train/10_alice/a.png", width: 512, height: 512, caption: "Alice, Smile, red dress" },
    { path: "/data/train/10_alice/b.png", width: 640, height: 427, caption: "alice,  smile ,,笑顔" },
  ],
};
const bob: KohyaSubset = {
  dir: "/data/train/2_bob",
  name: "bob man",
  repeats: 2,
  isReg: false,
  images: [{ path: "/data/train/2_bob/c.png", width: 333, height: 500, caption: null }],
};
const reg: KohyaSubset = {
  dir: "/data/reg/1_woman",
  name: "woman",
  repeats: 1,
  isReg: true,
  images: [{ path: "/data/reg/1_woman/r.png", width: 512, height: 512, caption: null }],
};

const options: PlanOptions = {
  ...SD15_512_BUCKETS,
  batchSize: 2,
  maxTrainEpochs: 4,
  gradientAccumulationSteps: 2,
  seed: 1234,
  captions: { ...DEFAULT_CAPTION_OPTIONS, shuffleCaption: true, keepTokens: 1, captionDropoutRate: 0.05 },
  flipAug: false,
  priorLossWeight: 1,
};

function metadataFor(planOptions: PlanOptions) {
  const subsets = [alice, bob, reg];
  const plan = buildPlan({ subsets, captionExtension: ".txt", warnings: [] }, planOptions);
  const metadata = datasetMetadata(plan, {
    subsets,
    captions: planOptions.captions,
    flipAug: planOptions.flipAug,
    randomCrop: false,
    priorLossWeight: planOptions.priorLossWeight,
  });
  return { plan, metadata };
}

describe("datasetMetadata", () => {
  test("counts, settings and nested JSON as sd-scripts writes them", () => {
    const { plan, metadata } = metadataFor(options);
    // 20 + 2 training uses, 1 reg image cycled to 22 uses: 44 per epoch
    expect(plan.buckets).toEqual([
      { size: [384, 640], count: 2 },
      { size: [512, 512], count: 32 },
      { size: [640, 384], count: 10 },
    ]);
    expect(metadata).toMatchObject({
      ss_num_train_images: "22",
      ss_num_reg_images: "1",
      ss_num_batches_per_epoch: "22", // 1 + 16 + 5
      ss_num_epochs: "4",
      ss_max_train_steps: "44", // 4 epochs x ceil(22 / 2)
      ss_gradient_accumulation_steps: "2",
      ss_batch_size_per_device: "2",
      ss_total_batch_size: "4",
      ss_seed: "1234",
      ss_resolution: "(512, 512)",
      ss_enable_bucket: "True",
      ss_bucket_no_upscale: "False",
      ss_min_bucket_reso: "256",
      ss_max_bucket_reso: "1024",
      ss_caption_dropout_rate: "0.05",
      ss_caption_dropout_every_n_epochs: "0",
      ss_caption_tag_dropout_rate: "0.0",
      ss_shuffle_caption: "True",
      ss_keep_tokens: "1",
      ss_flip_aug: "False",
      ss_random_crop: "False",
      ss_prior_loss_weight: "1.0",
      ss_dataset_dirs:
        '{"10_alice": {"n_repeats": 10, "img_count": 2}, "2_bob": {"n_repeats": 2, "img_count": 1}}',
      ss_reg_dataset_dirs: '{"1_woman": {"n_repeats": 1, "img_count": 1}}',
      ss_tag_frequency:
        '{"10_alice": {"alice": 2, "smile": 2, "red dress": 1, "\\u7b11\\u9854": 1}, "2_bob": {"bob man": 1}, ' +
        '"1_woman": {"woman": 1}}',
    });
    for (const value of Object.values(metadata)) expect(typeof value).toBe("string");

    const info = metadata.ss_bucket_info!;
    expect(info).toMatch(
      /^\{"buckets": \{"0": \{"resolution": \[384, 640\], "count": 2\}, "1": \{"resolution": \[512, 512\], "count": 32\}, "2": \{"resolution": \[640, 384\], "count": 10\}\}, "mean_img_ar_error": 0\.\d+\}$/,
    );
    // |0.6 - 0.666| for c.png, |1.6667 - 1.4988| for b.png, 0 for the squares; mean over 4 images
    const expected = (Math.abs(384 / 640 - 333 / 500) + Math.abs(640 / 384 - 640 / 427)) / 4;
    expect(JSON.parse(info).mean_img_ar_error).toBeCloseTo(expected, 12);
  });

  test("without buckets: bucket settings are None and the bucket info null", () => {
    const { metadata } = metadataFor({ ...options, enableBucket: false });
    expect(metadata).toMatchObject({
      ss_enable_bucket: "False",
      ss_min_bucket_reso: "None",
      ss_max_bucket_reso: "None",
      ss_bucket_info: "null",
    });
  });

  test("tag frequency merges folders of the same name and counts class tokens of uncaptioned images", () => {
    const twin = { ...reg, dir: "/data/reg/10_alice", isReg: true };
    const frequency = tagFrequency([alice, twin]);
    expect([...frequency.keys()]).toEqual(["10_alice"]);
    expect(frequency.get("10_alice")?.get("woman")).toBe(1);
    expect(frequency.get("10_alice")?.get("alice")).toBe(2);
  });
});
