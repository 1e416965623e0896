import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { resolveTrainConfig, type TrainConfig } from "../config/index.ts";
import { runEngine, type EngineRunResult } from "../engine/driver.ts";
import type { EngineEvent } from "../engine/protocol.ts";
import { REPO_ROOT } from "../engine/python.ts";
import { prepareRun, runTraining, type PreparedRun } from "../training/run.ts";

/** The trigger word of the demo LoRA: a rare token, first in every caption (as the guides teach). */
export const DEMO_TRIGGER = "dlnsample";

/** The bundled public-domain photos (fixtures/photos/SOURCES.md) and the caption each gets. */
const DEMO_PHOTOS: Record<string, string> = {
  "astronaut.png": "an astronaut in a spacesuit, smiling, american flag, portrait",
  "camera.png": "a man with a camera on a tripod, black and white, outdoors",
  "chelsea.png": "a tabby cat, looking up, close-up",
  "coffee.png": "a cup of coffee on a saucer, table, top view",
  "rocket.jpg": "a rocket launch, smoke, blue sky",
};

const DEMO_PROMPTS = `# sample prompts (sd-scripts syntax): prompt --n negative --w width --h height --d seed --s steps
${DEMO_TRIGGER}, an astronaut in a spacesuit --n blurry --w 128 --h 128 --d 1 --s 8
${DEMO_TRIGGER}, a tabby cat --w 128 --h 128 --d 2 --s 8
`;

export interface DemoPaths {
  root: string;
  model: string;
  trainDataDir: string;
  prompts: string;
  output: string;
}

export function demoPaths(out: string): DemoPaths {
  const root = resolve(out);
  return {
    root,
    model: join(root, "model", "tiny-sd15.safetensors"),
    trainDataDir: join(root, "train"),
    prompts: join(root, "prompts.txt"),
    output: join(root, "output"),
  };
}

/** Lays the photos out as a kohya train_data_dir: train/5_dlnsample/<photo> + <photo stem>.txt. */
export async function layOutDemoPhotos(paths: DemoPaths): Promise<void> {
  const folder = join(paths.trainDataDir, `5_${DEMO_TRIGGER}`);
  await mkdir(folder, { recursive: true });
  for (const [file, caption] of Object.entries(DEMO_PHOTOS)) {
    await copyFile(join(REPO_ROOT, "fixtures", "photos", file), join(folder, file));
    const stem = file.replace(/\.[^.]+$/, "");
    await writeFile(join(folder, `${stem}.txt`), `${DEMO_TRIGGER}, ${caption}\n`);
  }
  await writeFile(paths.prompts, DEMO_PROMPTS);
}

/** The demo's settings: a real run's shape, scaled down to a tiny model at 128 px on a CPU. */
export function demoConfig(paths: DemoPaths): TrainConfig {
  return resolveTrainConfig([
    {
      pretrained_model_name_or_path: paths.model,
      train_data_dir: paths.trainDataDir,
      output_dir: paths.output,
      output_name: DEMO_TRIGGER,
      trigger_word: DEMO_TRIGGER,
      caption_extension: ".txt",
      resolution: [128, 128],
      enable_bucket: true,
      min_bucket_reso: 64,
      max_bucket_reso: 256,
      network_dim: 8,
      network_alpha: 4,
      learning_rate: 1e-3,
      train_batch_size: 2,
      max_train_epochs: 2,
      save_every_n_epochs: 1,
      shuffle_caption: true,
      keep_tokens: 1,
      sample_prompts: paths.prompts,
      sample_every_n_epochs: 1,
      sample_sampler: "euler_a",
      cache_latents: true,
      device: "cpu",
      seed: 42,
    },
  ]);
}

export interface DemoCallbacks {
  onEvent: (event: EngineEvent) => void;
  onNote: (text: string) => void;
  onPlan: (prepared: PreparedRun) => void;
  signal?: AbortSignal;
}

/** Builds the tiny model, lays out the photos, trains two epochs; returns the engine's result. */
export async function runDemo(out: string, callbacks: DemoCallbacks): Promise<EngineRunResult> {
  const paths = demoPaths(out);
  await mkdir(join(paths.root, "model"), { recursive: true });
  callbacks.onNote(`1/3 writing a tiny random-weight SD1.5-architecture model: ${paths.model}`);
  await runEngine("make-tiny", {
    version: 1,
    arch: "sd15",
    out: paths.model,
    single_file: true,
    inpainting: false,
    seed: 0,
  });
  callbacks.onNote(
    `2/3 laying out ${Object.keys(DEMO_PHOTOS).length} sample photos with captions: ${paths.trainDataDir}`,
  );
  await layOutDemoPhotos(paths);
  const config = demoConfig(paths);
  const prepared = await prepareRun(config);
  callbacks.onPlan(prepared);
  callbacks.onNote(`3/3 training ${prepared.plan.totalSteps} steps on the CPU`);
  return runTraining(config, prepared, {
    signal: callbacks.signal,
    onEvent: callbacks.onEvent,
    onNote: callbacks.onNote,
  });
}
