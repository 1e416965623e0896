import { hostname } from "node:os";
import { useWarmEngine } from "../engine/driver.ts";
import { WarmEngine } from "../engine/warm-engine.ts";
import type { DataDir } from "./data-dir.ts";
import { JOB_KINDS } from "./kinds/index.ts";
import { openQueue } from "./open-queue.ts";
import type { JobQueue, QueueWorker } from "./types.ts";
import { startJobWorker } from "./worker.ts";

export interface WorkerProcessOptions {
  data: DataDir;
  redis?: string | null;
  /** The GPU this worker owns (CUDA_VISIBLE_DEVICES is set to it); null: the CPU. */
  gpu: number | null;
  /** @defaultValue host:pid:gpuN (or :cpu) */
  id?: string;
  /** Lease; a worker silent this long has its job taken back. @defaultValue 30_000 */
  leaseMs?: number;
  maxRunningPerUser?: number;
  /**
   * Run train and generate jobs in one warm engine that keeps base models loaded between jobs
   * (src/engine/warm-engine.ts); "auto": on for a GPU worker. @defaultValue "auto"
   */
  warm?: WarmMode;
  /** MiB of base models the warm engine keeps. @defaultValue the engine's (0.8 of the GPU's memory) */
  warmBudgetMb?: number;
}

export const WARM_MODES = ["auto", "on", "off"] as const;
export type WarmMode = (typeof WARM_MODES)[number];

/** Whether a worker on `gpu` (null: the CPU) uses a warm engine. */
export function warmEngineWanted(mode: WarmMode, gpu: number | null): boolean {
  return mode === "on" || (mode === "auto" && gpu !== null);
}

/** `danlu worker`: one job at a time on one GPU (or the CPU), until stopped. */
export function startWorkerProcess(options: WorkerProcessOptions): {
  queue: JobQueue;
  worker: QueueWorker;
  /** The worker's warm engine (null: each job starts its own engine); close it after the worker. */
  warm: WarmEngine | null;
} {
  // the engine processes this worker starts see only its GPU (and none on a CPU worker)
  process.env.CUDA_VISIBLE_DEVICES = options.gpu === null ? "" : String(options.gpu);
  const queue = openQueue(options.data, options.redis);
  const workerId =
    options.id ?? `${hostname()}:${process.pid}:${options.gpu === null ? "cpu" : `gpu${options.gpu}`}`;
  const worker = startJobWorker(queue, {
    data: options.data,
    kinds: JOB_KINDS,
    workerId,
    concurrency: 1,
    ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
    ...(options.maxRunningPerUser ? { maxRunningPerUser: options.maxRunningPerUser } : {}),
  });
  // one engine for the worker's whole life: it is started at the first job, on this worker's GPU
  const warm = warmEngineWanted(options.warm ?? "auto", options.gpu)
    ? new WarmEngine(options.warmBudgetMb === undefined ? {} : { memoryBudgetMb: options.warmBudgetMb })
    : null;
  useWarmEngine(warm);
  return { queue, worker, warm };
}
