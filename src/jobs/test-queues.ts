/**
 * Test support shared by the queue contract and fault tests: one fresh queue per test on either
 * backend (a SQLite file in a temp folder, or a queue name on a test redis-server), worker processes
 * (fixtures/fault-worker.ts) and polling.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BullmqJobQueue } from "./bullmq-queue.ts";
import { SqliteJobQueue } from "./sqlite-queue.ts";
import { startRedis, type TestRedis } from "./test-redis.ts";
import type { JobQueue, WorkerOptions } from "./types.ts";

export type Backend = "sqlite" | "bullmq";
export const BACKENDS: Backend[] = ["sqlite", "bullmq"];

/** Where one test's queue lives: a database file, or a Redis URL plus a queue name. */
export interface QueueTarget {
  backend: Backend;
  location: string;
  queueName?: string;
}

export function openTarget(target: QueueTarget): JobQueue {
  return target.backend === "sqlite"
    ? new SqliteJobQueue(target.location)
    : new BullmqJobQueue(target.location, { queueName: target.queueName ?? "jobs", prefix: "danlu-test" });
}

/** One backend for one test file: a temp folder, and redis-server when the backend needs it. */
export class TestBackend {
  readonly dir = mkdtempSync(join(tmpdir(), "danlu-queue-"));
  private redis: TestRedis | null = null;
  private count = 0;
  private readonly opened: JobQueue[] = [];

  constructor(readonly backend: Backend) {}

  async start(): Promise<void> {
    if (this.backend === "bullmq") this.redis = await startRedis();
  }

  /** A target no other test uses. */
  newTarget(): QueueTarget {
    const name = `t${++this.count}`;
    return this.backend === "sqlite"
      ? { backend: "sqlite", location: join(this.dir, `${name}.db`) }
      : { backend: "bullmq", location: this.redis!.url, queueName: name };
  }

  /** Opens a queue that closeAll() closes. */
  open(target: QueueTarget): JobQueue {
    const queue = openTarget(target);
    this.opened.push(queue);
    return queue;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((queue) => queue.close()));
  }

  async stop(): Promise<void> {
    await this.closeAll();
    await this.redis?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface FaultWorkerConfig {
  target: QueueTarget;
  worker: WorkerOptions;
  mode: "work" | "hang";
  /** Holds side-effects.log and results/. */
  outDir: string;
}

export interface FaultWorker {
  readonly pid: number;
  readonly config: FaultWorkerConfig;
  readonly exited: Promise<void>;
  kill(signal: NodeJS.Signals): void;
  stderr(): string;
}

const FIXTURE = new URL("./fixtures/fault-worker.ts", import.meta.url).pathname;

/** A worker process (fixtures/fault-worker.ts) running under tsx. */
export function spawnFaultWorker(config: FaultWorkerConfig): FaultWorker {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", FIXTURE, JSON.stringify(config)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    pid: child.pid!,
    config,
    exited,
    kill: (signal) => void child.kill(signal),
    stderr: () => stderr,
  };
}

/** SIGTERM (the worker hands its jobs back), then SIGKILL if it has not exited within `graceMs`. */
export async function stopFaultWorker(worker: FaultWorker, graceMs = 5000): Promise<void> {
  worker.kill("SIGTERM");
  const timer = setTimeout(() => worker.kill("SIGKILL"), graceMs);
  await worker.exited;
  clearTimeout(timer);
}

/** Polls `probe` every 25 ms until it returns something truthy; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
