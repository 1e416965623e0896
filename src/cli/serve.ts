import { InvalidArgumentError, Option, type Command } from "commander";
import { DataDir } from "../jobs/data-dir.ts";
import { startWorkerProcess, WARM_MODES, type WarmMode } from "../jobs/worker-process.ts";
import { startServer } from "../server/serve.ts";

export const DEFAULT_DATA_DIR = process.env.DANLU_DATA ?? "danlu-data";

function port(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    throw new InvalidArgumentError("expected a port 0-65535");
  return value;
}

function count(text: string): number | "auto" {
  if (text === "auto") return "auto";
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new InvalidArgumentError("expected 'auto' or a whole number >= 0");
  return value;
}

function gpuIndex(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0)
    throw new InvalidArgumentError("expected a GPU number (0, 1, ...)");
  return value;
}

function leaseMs(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1000 || value > 600_000)
    throw new InvalidArgumentError("expected milliseconds from 1000 to 600000");
  return value;
}

function positive(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError("expected a whole number >= 1");
  return value;
}

interface WorkerFlags {
  data: string;
  redis?: string;
  gpu?: number;
  cpu?: boolean;
  id?: string;
  leaseMs: number;
  maxRunningPerUser: number;
  warm: WarmMode;
  warmBudgetMb?: number;
  portraitBatch: number;
}

function megabytes(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 1e7)
    throw new InvalidArgumentError("expected MiB from 0 to 10000000");
  return value;
}

const SERVE_HELP = `
One machine: \`danlu serve\` is all there is to start: the queue is a SQLite file in the data directory and
one worker process per GPU (one CPU worker without a GPU) runs the jobs.
Many machines: run \`danlu serve --redis URL\` once and \`danlu worker --redis URL --gpu N\` per GPU on
each node, all with the same (shared) --data directory.

Then make a user and try it:
  danlu users add alice            (prints alice's token once: keep it)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7860/api/me
  curl http://127.0.0.1:7860/api/openapi.json -H "Authorization: Bearer $TOKEN"   (every route)`;

/** Resolves when the process is told to stop (Ctrl-C or SIGTERM). */
function untilStopped(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "run the HTTP API with a job queue and local workers (datasets, training, generation for many users)",
    )
    .option(
      "--data <dir>",
      "data directory: users, datasets, jobs, models (env DANLU_DATA)",
      DEFAULT_DATA_DIR,
    )
    .option(
      "--host <address>",
      "address to listen on (0.0.0.0: every interface; put TLS in front)",
      "127.0.0.1",
    )
    .option("--port <n>", "port (0: any free port)", port, 7860)
    .option(
      "--redis <url>",
      "use BullMQ on this Redis (redis://host:6379) instead of the embedded SQLite queue",
    )
    .option(
      "--workers <n>",
      "local worker processes: auto = one per GPU (one CPU worker without), 0 = API only",
      count,
      "auto",
    )
    .addHelpText("after", SERVE_HELP)
    .action(
      async (flags: {
        data: string;
        host: string;
        port: number;
        redis?: string;
        workers: number | "auto";
      }) => {
        const say = (line: string) => process.stderr.write(`${line}\n`);
        const server = await startServer({ ...flags, redis: flags.redis ?? null, onLine: say });
        say(
          `danlu serve: ${server.url} (data ${new DataDir(flags.data).root}, queue ${flags.redis ? "BullMQ on Redis" : "SQLite"})`,
        );
        if (flags.host !== "127.0.0.1" && flags.host !== "localhost" && flags.host !== "::1")
          say("warning: listening beyond this machine; tokens travel in clear text unless TLS is in front");
        process.stdout.write(`${server.url}\n`);
        say(
          `stop with Ctrl-C (${await untilStopped()} received: stopping workers, running trainings save their state)`,
        );
        await server.close();
      },
    );

  program
    .command("worker")
    .description("run jobs from the queue on one GPU (or the CPU); start one per GPU on each node")
    .option(
      "--data <dir>",
      "the same data directory the server uses (shared storage across nodes)",
      DEFAULT_DATA_DIR,
    )
    .option("--redis <url>", "the server's Redis (BullMQ); without it, the embedded SQLite queue in --data")
    .option("--gpu <n>", "the GPU this worker owns (CUDA_VISIBLE_DEVICES)", gpuIndex)
    .option("--cpu", "run on the CPU (no GPU)")
    .option("--id <name>", "worker name in job records (default host:pid:gpuN)")
    .option(
      "--lease-ms <ms>",
      "a worker silent this long loses its job to another worker (which resumes a training from its last state)",
      leaseMs,
      30_000,
    )
    .option("--max-running-per-user <n>", "running jobs per user across all workers", positive, 2)
    .addOption(
      new Option(
        "--warm <mode>",
        "train and generate jobs in one long-lived engine that keeps base models loaded between jobs " +
          "(no model load per job); auto = on for a GPU worker, off on the CPU",
      )
        .choices(WARM_MODES)
        .default("auto")
        .env("DANLU_WARM_ENGINE"),
    )
    .addOption(
      new Option(
        "--warm-budget-mb <MiB>",
        "MiB of base models the warm engine keeps, least recently used dropped first " +
          "(default: 0.8 of the GPU's memory, half the machine's on the CPU)",
      )
        .argParser(megabytes)
        .env("DANLU_WARM_BUDGET_MB"),
    )
    .addOption(
      new Option(
        "--portrait-batch <K>",
        "run up to K portrait jobs at once and train the LoRAs of those waiting together in one train-many " +
          "engine (each waits up to 3 s for others on the same base model and settings); other kinds of " +
          "job still run alone, never beside a portrait; 1 = one job at a time",
      )
        .argParser(positive)
        .default(1)
        .env("DANLU_PORTRAIT_BATCH"),
    )
    .action(async (flags: WorkerFlags) => {
      const { queue, worker, warm } = startWorkerProcess({
        data: new DataDir(flags.data).ensure(),
        redis: flags.redis ?? null,
        gpu: flags.cpu || flags.gpu === undefined ? null : flags.gpu,
        ...(flags.id ? { id: flags.id } : {}),
        leaseMs: flags.leaseMs,
        maxRunningPerUser: flags.maxRunningPerUser,
        warm: flags.warm,
        ...(flags.warmBudgetMb === undefined ? {} : { warmBudgetMb: flags.warmBudgetMb }),
        portraitBatch: flags.portraitBatch,
      });
      process.stderr.write(`danlu worker ${worker.workerId}: waiting for jobs (${queue.backend})\n`);
      await untilStopped();
      // running jobs stop now (a training saves its state) and go back to the queue for another worker
      await worker.close({ abort: true });
      await warm?.close();
      await queue.close();
    });
}
