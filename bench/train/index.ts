/**
 * Training benchmark (prints figures; passes or fails nothing): steps/s, images/s, time to first step
 * (from process start and from the engine's ready event) and peak memory (resident set of the engine
 * process on the CPU; torch.cuda.max_memory_allocated on a GPU) for an architecture, resolution, batch and
 * LoRA rank, trained through danlu's real pipeline (prepareRun, runTraining, the Python engine).
 *
 *   npx tsx bench/train/index.ts --arch sd15 --resolution 64 --batch 2 --rank 8 --steps 20 [--device cpu|cuda]
 *       [--network-module networks.lora|lycoris.kohya] [--network-args "algo=loha conv_dim=8"]
 *       [--optimizer AdamW|AdamW8bit|Lion|Prodigy|Adafactor|DAdaptAdam|AdamWScheduleFree]
 *       [--real-arch] [--precision no|bf16|fp16] [--threads N] [--rounds N] [--kohya SD_SCRIPTS_DIR --kohya-python PY]
 *
 * --real-arch trains the full-size SD1.5 architecture with random weights (bench/train/real_arch.py)
 * instead of a make-tiny model. --kohya runs sd-scripts' train_network.py on the same file, dataset and
 * settings, alternating danlu, kohya, danlu, kohya ... for --rounds rounds, and prints danlu / kohya ratios
 * (sd-scripts hard-codes the real SD1.5 widths, so this needs --arch sd15 --real-arch). bench/train/kohya.md
 * says how to set sd-scripts up. --threads sets OMP_NUM_THREADS/MKL_NUM_THREADS for both trainers: on a CPU
 * shared with other work, torch's default of one thread per core makes each thread wait for the others
 * (a tiny-model step took 0.1 s with 1 thread and 20 s with 2 on two busy cores). Models, data and runs live under --work (default bench/out/train).
 */
import { availableParallelism, cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { measureRun, type RunFigures, type RunSpec } from "./measure.ts";
import { phaseLine, ratios, ratioTable, runRow, runTable, RUN_HEADER, type Ratios } from "./report.ts";
import { ensureDataset, ensureModel, type BenchArch } from "./setup.ts";
import { danluRun, ensureKohyaTokenizer, kohyaRun, type BenchSettings, type KohyaSetup } from "./trainers.ts";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "sd15" },
    resolution: { type: "string", default: "64" },
    batch: { type: "string", default: "2" },
    rank: { type: "string", default: "8" },
    "network-module": { type: "string", default: "networks.lora" },
    "network-args": { type: "string", default: "" }, // space-separated key=value, e.g. "algo=loha conv_dim=8"
    optimizer: { type: "string", default: "AdamW" },
    steps: { type: "string", default: "20" },
    device: { type: "string", default: "cpu" },
    precision: { type: "string", default: "no" },
    seed: { type: "string", default: "42" },
    rounds: { type: "string", default: "1" },
    threads: { type: "string" },
    "real-arch": { type: "boolean", default: false },
    kohya: { type: "string" },
    "kohya-python": { type: "string" },
    work: { type: "string", default: "bench/out/train" },
  },
});

function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T {
  if (value !== undefined && (allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`--${name} must be one of ${allowed.join(", ")}, got ${value}`);
}

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new Error(`--${name} must be a positive integer, got ${value}`);
  return number;
}

function kohyaSetup(): KohyaSetup | null {
  if (!values.kohya) return null;
  if (values.arch !== "sd15" || !values["real-arch"]) {
    throw new Error(
      "--kohya needs --arch sd15 --real-arch: sd-scripts builds the real SD1.5 widths whatever the file holds",
    );
  }
  const python = values["kohya-python"] ?? process.env.KOHYA_PYTHON;
  if (!python)
    throw new Error("--kohya needs --kohya-python (the python of a venv with sd-scripts' requirements)");
  return { scriptsDir: resolve(values.kohya), python: resolve(python) };
}

function machine(): string {
  const model = cpus()[0]?.model ?? "unknown CPU";
  return `${availableParallelism()} cores (${model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, node ${process.version}`;
}

interface Options {
  arch: BenchArch;
  realArch: boolean;
  rounds: number;
  work: string;
  /** Everything but the model and data paths, which setup provides. */
  settings: Omit<BenchSettings, "model" | "trainDataDir">;
}

function parseOptions(): Options {
  const [resolution, batch, rank, steps, rounds] = (
    ["resolution", "batch", "rank", "steps", "rounds"] as const
  ).map((name) => positive(name, values[name]));
  if (!resolution || !batch || !rank || !steps || !rounds) throw new Error("unreachable: parsed above");
  if (steps < 2) throw new Error("--steps must be at least 2 (steps/s is measured from step 2 on)");
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`--seed must be a non-negative integer, got ${values.seed}`);
  return {
    arch: choice<BenchArch>("arch", values.arch, ["sd15", "sdxl"]),
    realArch: values["real-arch"] ?? false,
    rounds,
    work: resolve(values.work ?? "bench/out/train"),
    settings: {
      ...{ resolution, batch, rank, steps, seed },
      device: choice("device", values.device, ["cpu", "cuda"] as const),
      precision: choice("precision", values.precision, ["no", "bf16", "fp16"] as const),
      threads: values.threads === undefined ? null : positive("threads", values.threads),
      networkModule: values["network-module"] ?? "networks.lora",
      networkArgs: (values["network-args"] ?? "").split(/\s+/).filter(Boolean),
      optimizer: values.optimizer ?? "AdamW",
    },
  };
}

function describe(options: Options): string {
  const { arch, realArch, settings: s } = options;
  const model = `${arch}${realArch ? " (real architecture, random weights)" : " (make-tiny)"}`;
  const network = `${s.networkModule} [${s.networkArgs.join(" ")}], ${s.optimizer}`;
  return `settings: ${model}, ${s.resolution} px, batch ${s.batch}, rank ${s.rank}, ${s.steps} steps, ${s.device}, mixed_precision ${s.precision}, torch threads ${s.threads ?? "default"}, ${network}`;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const kohya = kohyaSetup();
  const { work, settings: base } = options;
  console.log(`machine: ${machine()}`);
  const model = await ensureModel(work, options.arch, options.realArch);
  const trainDataDir = await ensureDataset(work, base.resolution, base.steps, base.batch);
  const settings: BenchSettings = { ...base, model, trainDataDir };
  console.log(`${describe(options)}\nmodel: ${model}\ndata: ${trainDataDir}`);
  const tokenizerCache = join(work, "kohya-tokenizers");
  if (kohya) ensureKohyaTokenizer(kohya, tokenizerCache);

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const runs: RunFigures[] = [];
  const pairs: Ratios[] = [];
  console.log(RUN_HEADER);
  const measure = async (spec: RunSpec): Promise<RunFigures> => {
    const figures = await measureRun(spec);
    runs.push(figures);
    console.log(runRow(runs.length, figures));
    return figures;
  };
  for (let round = 1; round <= options.rounds; round++) {
    const runDir = (trainer: string): string => join(work, "runs", stamp, `${round}-${trainer}`);
    const danlu = await measure(await danluRun(settings, runDir("danlu")));
    if (!kohya) continue;
    const other = await measure(await kohyaRun(settings, kohya, runDir("kohya"), tokenizerCache));
    pairs.push(ratios(danlu, other));
  }
  console.log(`\n${runTable(runs)}`);
  const phases = runs.map(phaseLine).find((line) => line !== null);
  if (phases) console.log(phases);
  if (pairs.length) console.log(`\n${ratioTable(pairs)}`);
  console.log(`\nlogs: ${join(work, "runs", stamp)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
