import { hostname } from "node:os";
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
}

/** `danlu worker`: one job at a time on one GPU (or the CPU), until stopped. */
export function startWorkerProcess(options: WorkerProcessOptions): { queue: JobQueue; worker: QueueWorker } {
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
  return { queue, worker };
}
