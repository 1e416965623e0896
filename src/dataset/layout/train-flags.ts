import { TRAIN_KEYS } from "../../config/index.ts";
import type { TrainPlan } from "../../training/plan.ts";

/** A path or value as a POSIX shell word: bare when it is safe, else in single quotes. */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/u.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `danlu train` flags that train on a layout as it was planned: its folders, and the epochs, batch
 * size, resolution and bucket settings the step count and buckets were worked out with (bucket flags
 * only where they differ from the training defaults). The model and output folder are the user's to add.
 */
export function trainFlagsFor(
  folders: { trainDataDir: string; regDataDir: string | null },
  plan: Pick<TrainPlan, "numEpochs" | "batchSize" | "bucketSettings">,
): string[] {
  const b = plan.bucketSettings;
  const [width, height] = b.resolution;
  const flags = [
    "--train-data-dir",
    shellWord(folders.trainDataDir),
    ...(folders.regDataDir ? ["--reg-data-dir", shellWord(folders.regDataDir)] : []),
    "--max-train-epochs",
    String(plan.numEpochs),
    "--train-batch-size",
    String(plan.batchSize),
    "--resolution",
    width === height ? String(width) : `${width},${height}`,
  ];
  const buckets: [string, number, number][] = [
    ["--min-bucket-reso", b.minBucketReso, TRAIN_KEYS.min_bucket_reso.default as number],
    ["--max-bucket-reso", b.maxBucketReso, TRAIN_KEYS.max_bucket_reso.default as number],
    ["--bucket-reso-steps", b.bucketResoSteps, TRAIN_KEYS.bucket_reso_steps.default as number],
  ];
  for (const [flag, value, fallback] of buckets) if (value !== fallback) flags.push(flag, String(value));
  if (b.bucketNoUpscale) flags.push("--bucket-no-upscale");
  return flags;
}
