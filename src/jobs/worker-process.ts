import { hostname } from "node:os";
import { useWarmEngine } from "../engine/driver.ts";
import { WarmEngine } from "../engine/warm-engine.ts";
import { setPortraitBatch } from "../portrait/train-batcher.ts";
import type { DataDir } from "./data-dir.ts";
import { JOB_KINDS } from "./kinds/index.ts";
import type { JobKind } from "./kinds/types.ts";
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
  /**
   * Portrait jobs at once (K): their trainings share one train-many engine when several wait
   * (src/portrait/train-batcher.ts). K > 1 runs the queue with concurrency K; portrait jobs run side by
   * side, any other job runs alone (it waits for running portraits, and new jobs wait for it).
   * @defaultValue 1 (one job at a time, no batching)
   */
  portraitBatch?: number;
  /** How long a portrait training waits for others to batch with, in ms. @defaultValue 3000 */
  portraitBatchWindowMs?: number;
}

export const WARM_MODES = ["auto", "on", "off"] as const;
export type WarmMode = (typeof WARM_MODES)[number];

/** Whether a worker on `gpu` (null: the CPU) uses a warm engine. */
export function warmEngineWanted(mode: WarmMode, gpu: number | null): boolean {
  return mode === "on" || (mode === "auto" && gpu !== null);
}

/**
 * `danlu worker`: one job at a time on one GPU (or the CPU), until stopped; with portraitBatch K > 1, up
 * to K portrait jobs at once (other kinds still alone).
 */
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
  const batch = options.portraitBatch ?? 1;
  setPortraitBatch({
    size: batch,
    ...(options.portraitBatchWindowMs === undefined ? {} : { windowMs: options.portraitBatchWindowMs }),
  });
  const worker = startJobWorker(queue, {
    data: options.data,
    kinds: batch > 1 ? shareKinds(JOB_KINDS, ["portrait"]) : JOB_KINDS,
    workerId,
    concurrency: batch,
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

/**
 * The kinds, each run under a process-wide lock: the `shared` kinds hold it together (side by side), any
 * other kind holds it alone. Jobs get it in the order they ask (a waiting exclusive job holds back the
 * shared ones that ask after it).
 */
export function shareKinds(
  kinds: Record<string, JobKind>,
  shared: readonly string[],
): Record<string, JobKind> {
  const lock = new SharedLock();
  return Object.fromEntries(
    Object.entries(kinds).map(([name, kind]) => [
      name,
      {
        ...kind,
        run: async (params, ctx) => {
          const release = await lock.acquire(shared.includes(name));
          try {
            return await kind.run(params, ctx);
          } finally {
            release();
          }
        },
      } as JobKind,
    ]),
  );
}

/** A readers-writer lock, first come first served. */
export class SharedLock {
  private holders = 0;
  private exclusive = false;
  private readonly waiting: { shared: boolean; grant: () => void }[] = [];

  acquire(shared: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push({
        shared,
        grant: () => {
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.holders -= 1;
            if (this.holders === 0) this.exclusive = false;
            this.pump();
          });
        },
      });
      this.pump();
    });
  }

  private pump(): void {
    for (;;) {
      const next = this.waiting[0];
      if (!next) return;
      if (next.shared ? this.exclusive : this.holders > 0) return;
      this.waiting.shift();
      this.holders += 1;
      this.exclusive = !next.shared;
      next.grant();
    }
  }
}
