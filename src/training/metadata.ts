import { basename } from "node:path";
import { baseCaption, type KohyaSubset } from "../dataset/kohya/index.ts";
import type { CaptionOptions } from "./captions.ts";
import type { TrainPlan } from "./plan.ts";
import { PyFloat, pyJsonDumps, pyStr, pyTupleStr, type PyValue } from "./python-format.ts";

/**
 * The dataset half of the ss_* metadata sd-scripts' train_network.py writes (the train_data_dir branch,
 * without a dataset config), formatted as sd-scripts formats it: every value is str() of the Python
 * value, the nested ones json.dumps. The caller adds the training-hyperparameter keys.
 */
export function datasetMetadata(
  plan: TrainPlan,
  options: {
    /** All subsets read, reg included: tags are counted over every image in each folder, as in sd-scripts. */
    subsets: KohyaSubset[];
    captions: CaptionOptions;
    flipAug: boolean;
    randomCrop: boolean;
    priorLossWeight: number;
  },
): Record<string, string> {
  const buckets = plan.bucketSettings;
  const bucketOn = buckets.enableBucket;
  return {
    ss_num_train_images: pyStr(plan.numTrainImages),
    ss_num_reg_images: pyStr(plan.numRegImages),
    ss_num_batches_per_epoch: pyStr(plan.batchesPerEpoch),
    ss_num_epochs: pyStr(plan.numEpochs),
    ss_max_train_steps: pyStr(plan.totalSteps),
    ss_gradient_accumulation_steps: pyStr(plan.gradientAccumulationSteps),
    ss_batch_size_per_device: pyStr(plan.batchSize),
    // sd-scripts: train_batch_size x num_processes x gradient_accumulation_steps
    ss_total_batch_size: pyStr(plan.batchSize * plan.numProcesses * plan.gradientAccumulationSteps),
    ss_seed: pyStr(plan.seed),
    ss_resolution: pyTupleStr(buckets.resolution),
    ss_enable_bucket: pyStr(bucketOn),
    ss_bucket_no_upscale: pyStr(bucketOn && buckets.bucketNoUpscale),
    ss_min_bucket_reso: pyStr(bucketOn ? buckets.minBucketReso : null),
    ss_max_bucket_reso: pyStr(bucketOn ? buckets.maxBucketReso : null),
    ss_bucket_info: pyJsonDumps(bucketInfo(plan)),
    ss_caption_dropout_rate: pyStr(new PyFloat(options.captions.captionDropoutRate)),
    ss_caption_dropout_every_n_epochs: pyStr(options.captions.captionDropoutEveryNEpochs),
    ss_caption_tag_dropout_rate: pyStr(new PyFloat(options.captions.captionTagDropoutRate)),
    ss_shuffle_caption: pyStr(options.captions.shuffleCaption),
    ss_keep_tokens: pyStr(options.captions.keepTokens),
    ss_flip_aug: pyStr(options.flipAug),
    ss_color_aug: pyStr(false),
    ss_random_crop: pyStr(options.randomCrop),
    ss_prior_loss_weight: pyStr(new PyFloat(options.priorLossWeight)),
    ss_dataset_dirs: pyJsonDumps(datasetDirs(options.subsets, false)),
    ss_reg_dataset_dirs: pyJsonDumps(datasetDirs(options.subsets, true)),
    ss_tag_frequency: pyJsonDumps(tagFrequency(options.subsets)),
  };
}

/** {"buckets": {"0": {"resolution": [w, h], "count": n}, ...}, "mean_img_ar_error": x}; null without buckets. */
export function bucketInfo(plan: TrainPlan): PyValue {
  if (!plan.bucketSettings.enableBucket) return null;
  const buckets = new Map<string, PyValue>(
    plan.buckets.map((b, i) => [
      String(i),
      new Map<string, PyValue>([
        ["resolution", [...b.size]],
        ["count", b.count],
      ]),
    ]),
  );
  return new Map<string, PyValue>([
    ["buckets", buckets],
    ["mean_img_ar_error", new PyFloat(plan.meanAspectError)],
  ]);
}

/** {folder name: {"n_repeats": r, "img_count": n}} for the training or the regularization folders. */
export function datasetDirs(subsets: KohyaSubset[], isReg: boolean): PyValue {
  return new Map<string, PyValue>(
    subsets
      .filter((s) => s.isReg === isReg)
      .map((s) => [
        basename(s.dir),
        new Map<string, PyValue>([
          ["n_repeats", s.repeats],
          ["img_count", s.images.length],
        ]),
      ]),
  );
}

/**
 * {folder name: {tag: count}} over the captions as read (before prefix, shuffle or dropout): each caption is
 * split on ",", tags trimmed and lower-cased, as sd-scripts' set_tag_frequency does. Folders of the same
 * name (a train and a reg folder) share one entry.
 */
export function tagFrequency(subsets: KohyaSubset[]): Map<string, Map<string, number>> {
  const frequency = new Map<string, Map<string, number>>();
  for (const subset of subsets) {
    const dirName = basename(subset.dir);
    const counts = frequency.get(dirName) ?? new Map<string, number>();
    frequency.set(dirName, counts);
    for (const image of subset.images) {
      for (const raw of baseCaption(image, subset).split(",")) {
        const tag = raw.trim().toLowerCase();
        if (tag) counts.set(tag, (counts.get(tag) ?? 0) + 1);
      }
    }
  }
  return frequency;
}
