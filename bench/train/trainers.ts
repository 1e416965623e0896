/**
 * The two trainers the benchmark runs, with the same settings: danlu (through prepareRun/runTraining
 * and the engine, in a child process) and kohya sd-scripts' train_network.py (unchanged, wrapped by
 * kohya_timed.py for step timestamps). Each returns a RunSpec for measure.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { engineEvent } from "../../src/engine/protocol.ts";
import { findEnginePython, REPO_ROOT } from "../../src/engine/python.ts";
import type { LineParser, Marker, RunSpec } from "./measure.ts";

export interface BenchSettings {
  resolution: number;
  batch: number;
  rank: number;
  steps: number;
  device: "cpu" | "cuda";
  precision: "no" | "bf16" | "fp16";
  seed: number;
  /** torch CPU threads for both trainers (OMP_NUM_THREADS, MKL_NUM_THREADS); null: torch's default. */
  threads: number | null;
  model: string;
  trainDataDir: string;
  /** network_module and network_args, the same for both trainers (lycoris.kohya needs LyCORIS in sd-scripts' venv). */
  networkModule: string;
  networkArgs: string[];
  /** optimizer_type for both trainers (sd-scripts' names: AdamW, AdamW8bit, Lion, Prodigy, Adafactor, ...). */
  optimizer: string;
}

/** Settings both trainers get beyond the ones above (sd-scripts' defaults where danlu's differ). */
const COMMON = {
  learningRate: 1e-4,
  maxGradNorm: 1.0,
  captionExtension: ".txt",
  savePrecision: "fp16",
} as const;

/** The environment both trainers' processes get. */
export function benchEnv(settings: BenchSettings, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (settings.threads !== null) {
    env.OMP_NUM_THREADS = String(settings.threads);
    env.MKL_NUM_THREADS = String(settings.threads);
  }
  return env;
}

/** danlu config keys equivalent to the sd-scripts flags in kohyaArgs. */
export function danluConfig(settings: BenchSettings, outputDir: string): Record<string, unknown> {
  return {
    pretrained_model_name_or_path: settings.model,
    train_data_dir: settings.trainDataDir,
    output_dir: outputDir,
    output_name: "bench",
    caption_extension: COMMON.captionExtension,
    resolution: [settings.resolution, settings.resolution],
    enable_bucket: false, // sd-scripts' default; the images are already the training size
    network_dim: settings.rank,
    network_alpha: settings.rank,
    network_module: settings.networkModule,
    network_args: settings.networkArgs,
    learning_rate: COMMON.learningRate,
    optimizer_type: settings.optimizer,
    lr_scheduler: "constant",
    max_grad_norm: COMMON.maxGradNorm,
    train_batch_size: settings.batch,
    max_train_steps: settings.steps,
    save_every_n_epochs: 0, // only the final file, as sd-scripts without --save_every_n_epochs
    save_precision: COMMON.savePrecision,
    mixed_precision: settings.precision,
    cache_latents: true,
    device: settings.device,
    seed: settings.seed,
  };
}

export function parseDanluLine(line: string, stream: "stdout" | "stderr"): Marker | null {
  if (stream !== "stdout" || !line.startsWith("{")) return null;
  const parsed = engineEvent.safeParse(JSON.parse(line));
  if (!parsed.success) return null;
  const event = parsed.data;
  if (event.event === "ready") return { kind: "ready", pid: event.pid };
  if (event.event === "phase") return { kind: "phase", name: event.name };
  if (event.event === "progress") {
    return { kind: "step", step: event.step, t: event.elapsed_s, memoryMb: event.memory_mb };
  }
  return null;
}

/** A danlu run; `parallel`: processes and accumulation (a step then takes processes x accumulation batches). */
export async function danluRun(
  settings: BenchSettings,
  runDir: string,
  parallel: { processes: number; accumulation: number } = { processes: 1, accumulation: 1 },
): Promise<RunSpec> {
  await mkdir(runDir, { recursive: true });
  const configPath = join(runDir, "config.json");
  const config = {
    ...danluConfig(settings, join(runDir, "out")),
    num_processes: parallel.processes,
    gradient_accumulation_steps: parallel.accumulation,
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));
  return {
    trainer: parallel.processes > 1 ? `danlu x${parallel.processes}` : "danlu",
    command: process.execPath,
    args: ["--import", "tsx", join(REPO_ROOT, "bench", "train", "danlu-child.ts"), configPath],
    env: benchEnv(settings),
    batch: settings.batch * parallel.processes * parallel.accumulation,
    parse: parseDanluLine,
    logPath: join(runDir, "output.log"),
  };
}

export interface KohyaSetup {
  /** An sd-scripts checkout (its train_network.py and library/). */
  scriptsDir: string;
  /** A Python with sd-scripts' requirements installed. */
  python: string;
}

/** sd-scripts' flags for the same run (train_network.py --help for each). */
export function kohyaArgs(settings: BenchSettings, outputDir: string, tokenizerCache: string): string[] {
  const flags: Record<string, string | number | null> = {
    pretrained_model_name_or_path: settings.model,
    train_data_dir: settings.trainDataDir,
    output_dir: outputDir,
    output_name: "bench",
    caption_extension: COMMON.captionExtension,
    resolution: `${settings.resolution},${settings.resolution}`,
    network_module: settings.networkModule,
    network_dim: settings.rank,
    network_alpha: settings.rank,
    learning_rate: COMMON.learningRate,
    optimizer_type: settings.optimizer,
    lr_scheduler: "constant",
    max_grad_norm: COMMON.maxGradNorm,
    train_batch_size: settings.batch,
    max_train_steps: settings.steps,
    save_model_as: "safetensors",
    save_precision: COMMON.savePrecision,
    mixed_precision: settings.precision,
    cache_latents: null,
    sdpa: null,
    seed: settings.seed,
    // No worker processes: the latents are cached, and 2 cores have no room for 8 loader workers.
    max_data_loader_n_workers: 0,
    tokenizer_cache_dir: tokenizerCache,
  };
  const args = Object.entries(flags).flatMap(([key, value]) =>
    value === null ? [`--${key}`] : [`--${key}`, String(value)],
  );
  return settings.networkArgs.length ? [...args, "--network_args", ...settings.networkArgs] : args;
}

const KOHYA_PREFIX = "DANLU_BENCH ";

export function parseKohyaLine(line: string): Marker | null {
  const at = line.indexOf(KOHYA_PREFIX); // tqdm may share the line with a marker
  if (at < 0) return null;
  const report = JSON.parse(line.slice(at + KOHYA_PREFIX.length)) as Record<string, unknown>;
  if (report.event === "ready") return { kind: "ready", pid: Number(report.pid) };
  if (report.event === "exit") return { kind: "peak_rss", mb: Number(report.max_rss_mb) };
  if (report.event === "step") {
    const memory = report.memory_mb;
    return {
      kind: "step",
      step: Number(report.step),
      t: Number(report.t),
      memoryMb: typeof memory === "number" ? memory : null,
    };
  }
  return null;
}

/** The CLIP tokenizer sd-scripts asks the hub for, written offline into its --tokenizer_cache_dir layout. */
export function ensureKohyaTokenizer(kohya: KohyaSetup, cacheDir: string): void {
  if (existsSync(join(cacheDir, "openai_clip-vit-large-patch14", "vocab.json"))) return;
  const engine = { ...process.env, PYTHONPATH: join(REPO_ROOT, "engine") };
  const vocab = spawnSync(
    findEnginePython(),
    ["-c", "from danlu_engine.tokenizer import vocab_dir; print(vocab_dir())"],
    { env: engine, encoding: "utf8" },
  );
  if (vocab.status !== 0) throw new Error(`danlu's vocab_dir() failed: ${vocab.stderr}`);
  const script = join(REPO_ROOT, "bench", "train", "kohya_tokenizer.py");
  const saved = spawnSync(
    kohya.python,
    [script, "--vocab-dir", vocab.stdout.trim(), "--cache-dir", cacheDir],
    {
      encoding: "utf8",
    },
  );
  if (saved.status !== 0) throw new Error(`kohya_tokenizer.py failed: ${saved.stderr}`);
}

export async function kohyaRun(
  settings: BenchSettings,
  kohya: KohyaSetup,
  runDir: string,
  tokenizerCache: string,
): Promise<RunSpec> {
  await mkdir(runDir, { recursive: true });
  const wrapper = join(REPO_ROOT, "bench", "train", "kohya_timed.py");
  const parse: LineParser = (line) => parseKohyaLine(line);
  return {
    trainer: "kohya",
    command: kohya.python,
    args: [wrapper, kohya.scriptsDir, ...kohyaArgs(settings, join(runDir, "out"), tokenizerCache)],
    env: benchEnv(settings, { HF_HUB_OFFLINE: "1", PYTHONUNBUFFERED: "1" }),
    batch: settings.batch,
    parse,
    logPath: join(runDir, "output.log"),
  };
}
