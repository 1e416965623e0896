/**
 * Portrait benchmark (prints figures; passes or fails nothing): one customer through `runPortrait`, the
 * same library call as `danlu portrait` and the portrait job, with the seconds of every stage and in all,
 * and what that means in customers per hour on this machine. The photos are the test set
 * (src/portrait/testing/selfies.ts: 9 photos, 6 kept). Tiny random-weight SD1.5 (danlu model make-tiny)
 * unless --model is given; on a GPU give the real SD1.5 and no --tiny to train and draw at full size.
 *
 *   npx tsx bench/portrait/index.ts [--styles id_photo,hanfu] [--count 2] [--candidates 4] [--tiny]
 *       [--model CKPT] [--device cpu|cuda|auto] [--threads N] [--steps N] [--gen-steps N] [--size 64]
 *
 * --tiny (the default without --model) trains at 64 px for --steps steps and draws --size px images with
 * --gen-steps steps, so the figure is the pipeline's own cost (imports, face models, crops, engine
 * start-ups, file writes) more than the network's. Work files live under bench/out/portrait.
 */
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { TrainConfigLayer } from "../../src/config/index.ts";
import { runEngine } from "../../src/engine/driver.ts";
import { PORTRAIT_STAGES, runPortrait, type PortraitStage } from "../../src/portrait/pipeline.ts";
import { writeSelfies } from "../../src/portrait/testing/selfies.ts";

const { values } = parseArgs({
  options: {
    styles: { type: "string", default: "id_photo,hanfu" },
    count: { type: "string", default: "2" },
    candidates: { type: "string", default: "4" },
    model: { type: "string" },
    tiny: { type: "boolean", default: false },
    device: { type: "string", default: "cpu" },
    threads: { type: "string", default: "1" },
    steps: { type: "string", default: "8" },
    "gen-steps": { type: "string", default: "4" },
    size: { type: "string", default: "64" },
  },
});

const work = resolve("bench/out/portrait");
const tiny = values.tiny || !values.model;

async function tinyModel(): Promise<string> {
  const path = join(work, "tiny-sd15");
  if (!existsSync(path)) {
    await runEngine("make-tiny", {
      version: 1,
      arch: "sd15",
      out: path,
      single_file: false,
      inpainting: false,
      seed: 0,
    });
  }
  return path;
}

async function main(): Promise<void> {
  process.env.OMP_NUM_THREADS = values.threads;
  process.env.MKL_NUM_THREADS = values.threads;
  const model = values.model ?? (await tinyModel());
  const photos = join(work, "selfies");
  if (!existsSync(photos)) await writeSelfies(photos);
  const out = join(work, "out");
  rmSync(out, { recursive: true, force: true });
  const device = values.device as "cpu" | "cuda" | "auto";
  const size = Number(values.size);
  const train: TrainConfigLayer = tiny
    ? {
        resolution: [64, 64],
        min_bucket_reso: 64,
        max_bucket_reso: 128,
        network_dim: 4,
        network_alpha: 2,
        train_batch_size: 2,
        max_train_steps: Number(values.steps),
        mixed_precision: "no",
        save_precision: "float",
      }
    : {};
  const stageSeen: PortraitStage[] = [];
  const result = await runPortrait({
    sources: [photos],
    out,
    model,
    styles: values.styles.split(","),
    count: Number(values.count),
    candidates: Number(values.candidates),
    trigger: "dlperson",
    train: { ...train, ...(device !== "auto" ? { device } : {}) },
    gen: tiny ? { steps: Number(values["gen-steps"]), width: size, height: size } : {},
    device,
    precision: device === "cuda" ? "fp16" : "no",
    onStage: (stage) => stageSeen.push(stage),
  });
  const images = result.styles.length * Number(values.candidates);
  console.log(
    `portrait: ${tiny ? "tiny SD1.5 (64 px training, " + size + " px images)" : model}, device ${device}, ` +
      `${result.photos.kept.length} of ${result.photos.imported} photos kept, ${result.training_images} training images, ` +
      `${result.styles.length} styles x ${values.candidates} candidates = ${images} images, top ${values.count} per style`,
  );
  for (const stage of PORTRAIT_STAGES)
    console.log(`  ${stage.padEnd(9)} ${result.seconds[stage].toFixed(2)} s`);
  console.log(`  total     ${result.seconds.total.toFixed(2)} s per customer`);
  console.log(
    `  => ${(3600 / result.seconds.total).toFixed(1)} customers per hour on this machine, one at a time`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
