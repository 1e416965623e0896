import type { Size } from "../dataset/buckets.ts";
import type { SpecBatch } from "../engine/spec.ts";
import { processCaption, type CaptionOptions } from "./captions.ts";
import { createRng } from "./rng.ts";

/** One bucket and the image indices in it, each listed once per use in an epoch. */
export interface BucketContents {
  size: Size;
  items: number[];
}

export interface PlanLength {
  batchesPerEpoch: number;
  stepsPerEpoch: number;
  numEpochs: number;
  totalSteps: number;
}

/**
 * The run's length as sd-scripts computes it: an epoch is every bucket's batches (the last batch of a bucket
 * may be short); an optimizer step takes one micro-batch per process per accumulation step
 * (numProcesses x gradientAccumulationSteps; sd-scripts shards the batches among the processes), and the
 * last step of an epoch takes what is left. max_train_epochs wins over max_train_steps.
 */
export function planLength(options: {
  batchesPerBucket: number[];
  gradientAccumulationSteps: number;
  numProcesses?: number;
  maxTrainEpochs?: number | null;
  maxTrainSteps?: number | null;
}): PlanLength {
  const batchesPerEpoch = options.batchesPerBucket.reduce((a, b) => a + b, 0);
  const perStep = options.gradientAccumulationSteps * (options.numProcesses ?? 1);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / perStep);
  if (options.maxTrainEpochs != null) {
    return {
      batchesPerEpoch,
      stepsPerEpoch,
      numEpochs: options.maxTrainEpochs,
      totalSteps: options.maxTrainEpochs * stepsPerEpoch,
    };
  }
  const totalSteps = options.maxTrainSteps ?? 0;
  return { batchesPerEpoch, stepsPerEpoch, numEpochs: Math.ceil(totalSteps / stepsPerEpoch), totalSteps };
}

// Random streams (see plan.ts): batch order and captions are drawn per epoch from seed + epoch.
const STREAM_ORDER = 2;
const STREAM_CAPTIONS = 3;

/** Micro-batches of one epoch, drawn within buckets, in shuffled order (sd-scripts' shuffle_buckets). */
function epochBatches(
  contents: BucketContents[],
  batchSize: number,
  seed: number,
  epoch: number,
): number[][] {
  const rng = createRng(seed, STREAM_ORDER, epoch);
  const order: [bucket: number, batch: number][] = [];
  contents.forEach((bucket, b) => {
    for (let i = 0; i < Math.ceil(bucket.items.length / batchSize); i++) order.push([b, i]);
  });
  rng.shuffle(order);
  const shuffled = contents.map((bucket) => rng.shuffle([...bucket.items]));
  return order.map(([b, i]) => (shuffled[b] as number[]).slice(i * batchSize, (i + 1) * batchSize));
}

export function buildEpochs(options: {
  contents: BucketContents[];
  /** Per image index: the caption before per-step processing. */
  captions: string[];
  length: PlanLength;
  batchSize: number;
  /** gradient accumulation x processes: the micro-batches of one optimizer step. */
  microBatchesPerStep: number;
  seed: number;
  captionOptions: CaptionOptions;
}): SpecBatch[][] {
  const { length, microBatchesPerStep } = options;
  const epochs: SpecBatch[][] = [];
  for (let epoch = 1; epoch <= length.numEpochs; epoch++) {
    let batches = epochBatches(options.contents, options.batchSize, options.seed, epoch);
    const stepsLeft = length.totalSteps - (epoch - 1) * length.stepsPerEpoch;
    if (stepsLeft < length.stepsPerEpoch) batches = batches.slice(0, stepsLeft * microBatchesPerStep);
    const rng = createRng(options.seed, STREAM_CAPTIONS, epoch);
    epochs.push(
      batches.map((images) => ({
        images,
        captions: images.map((index) =>
          processCaption(options.captions[index] ?? "", options.captionOptions, { epoch, rng }),
        ),
      })),
    );
  }
  return epochs;
}
