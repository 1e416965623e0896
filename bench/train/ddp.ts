/**
 * Data-parallel training benchmark (prints figures; passes or fails nothing): N processes (num_processes N,
 * accumulation 1) against one process doing the same global batches (accumulation N: the same micro-batches
 * per optimizer step, the same steps, the same losses), through danlu's real pipeline. Rounds alternate
 * one, N, one, N ...; it prints each run, then per round the N-process / one-process ratios of the training
 * time (steps 2..S, the steady state) and of the whole wall time (process start to exit: imports, model
 * load, latents, the rendezvous).
 *
 *   npx tsx bench/train/ddp.ts [--processes 2] [--resolution 128] [--batch 4] [--steps 30] [--rounds 2]
 *       [--threads 1] [--arch sd15] [--device cpu|cuda]
 *
 * On the CPU give every process one torch thread (--threads 1, the default here) and as many cores as
 * processes: each rank then has a core of its own, as each has a GPU of its own on a GPU machine.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { measureRun, type RunFigures } from "./measure.ts";
import { runTable } from "./report.ts";
import { ensureDataset, ensureModel, type BenchArch } from "./setup.ts";
import { danluRun, type BenchSettings } from "./trainers.ts";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "sd15" },
    processes: { type: "string", default: "2" },
    resolution: { type: "string", default: "128" },
    batch: { type: "string", default: "4" },
    rank: { type: "string", default: "8" },
    steps: { type: "string", default: "30" },
    rounds: { type: "string", default: "2" },
    threads: { type: "string", default: "1" },
    device: { type: "string", default: "cpu" },
    work: { type: "string", default: "bench/out/train" },
  },
});

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1)
    throw new Error(`--${name} must be a positive integer, got ${value}`);
  return number;
}

/** Seconds of steps 2..S (the first step carries one-off warm-up costs). */
function trainingSeconds(run: RunFigures): number {
  return (run.steps - 1) / run.stepsPerS;
}

async function main(): Promise<void> {
  const [processes, resolution, batch, rank, steps, rounds, threads] = (
    ["processes", "resolution", "batch", "rank", "steps", "rounds", "threads"] as const
  ).map((name) => positive(name, values[name])) as [number, number, number, number, number, number, number];
  if (processes < 2) throw new Error("--processes must be at least 2");
  if (values.arch !== "sd15" && values.arch !== "sdxl") throw new Error("--arch must be sd15 or sdxl");
  if (values.device !== "cpu" && values.device !== "cuda") throw new Error("--device must be cpu or cuda");
  const work = resolve(values.work ?? "bench/out/train");
  const model = await ensureModel(work, values.arch as BenchArch, false);
  // one epoch covers the run at the global batch (processes x batch per step)
  const trainDataDir = await ensureDataset(work, resolution, steps, batch * processes);
  const settings: BenchSettings = {
    ...{ resolution, batch, rank, steps, seed: 42, threads, model, trainDataDir },
    device: values.device,
    precision: "no",
    networkModule: "networks.lora",
    networkArgs: [],
    optimizer: "AdamW",
  };
  console.log(
    `settings: ${values.arch} (make-tiny), ${resolution} px, batch ${batch} per process, rank ${rank}, ` +
      `${steps} steps, global batch ${batch * processes}, ${values.device}, torch threads ${threads}`,
  );

  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const runs: RunFigures[] = [];
  const ratios: string[] = [];
  for (let round = 1; round <= rounds; round++) {
    const dir = (name: string) => join(work, "runs", `ddp-${stamp}`, `${round}-${name}`);
    const one = await measureRun(
      await danluRun(settings, dir("one"), { processes: 1, accumulation: processes }),
    );
    const many = await measureRun(
      await danluRun(settings, dir(`x${processes}`), { processes, accumulation: 1 }),
    );
    runs.push(one, many);
    const training = trainingSeconds(many) / trainingSeconds(one);
    ratios.push(
      `| ${round} | ${trainingSeconds(one).toFixed(2)} | ${trainingSeconds(many).toFixed(2)} | ` +
        `${training.toFixed(2)} | ${one.wallS.toFixed(1)} | ${many.wallS.toFixed(1)} | ` +
        `${(many.wallS / one.wallS).toFixed(2)} |`,
    );
  }
  console.log(`\n${runTable(runs)}\n`);
  console.log(
    `| round | training s, 1 process (accumulation ${processes}) | training s, ${processes} processes | ratio | ` +
      `wall s, 1 process | wall s, ${processes} processes | ratio |`,
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const line of ratios) console.log(line);
  console.log(`\nlogs: ${join(work, "runs", `ddp-${stamp}`)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
