import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../engine/python.ts";

/** GPUs `nvidia-smi -L` lists; 0 when there is no NVIDIA driver. */
export function countGpus(): number {
  const result = spawnSync("nvidia-smi", ["-L"], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0 || !result.stdout) return 0;
  return result.stdout.split("\n").filter((line) => line.startsWith("GPU ")).length;
}

export interface LocalWorkerOptions {
  dataRoot: string;
  redisUrl?: string | null;
  /** One worker per slot: a GPU index, or "cpu". */
  slots: readonly (number | "cpu")[];
  onLine?: (line: string) => void;
}

/** A restart waits this long, doubled per quick crash, at most RESTART_MAX_MS. */
const RESTART_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** SIGTERM lets a training save its state; after this a worker is killed (ms). */
const STOP_TIMEOUT_MS = 20_000;

/**
 * `danlu serve`'s own workers: one `danlu worker` process per GPU (a crash takes down one job, not the
 * server), restarted when they exit, stopped with SIGTERM then SIGKILL.
 */
export class LocalWorkers {
  private readonly children = new Map<number, ChildProcess>();
  private stopping = false;

  constructor(private readonly options: LocalWorkerOptions) {}

  start(): void {
    this.options.slots.forEach((slot, index) => this.spawnWorker(index, slot, RESTART_MS));
  }

  private spawnWorker(index: number, slot: number | "cpu", delay: number): void {
    const args = [join(REPO_ROOT, "bin", "danlu.js"), "worker", "--data", this.options.dataRoot];
    if (this.options.redisUrl) args.push("--redis", this.options.redisUrl);
    args.push(...(slot === "cpu" ? ["--cpu"] : ["--gpu", String(slot)]));
    const name = slot === "cpu" ? `cpu${index}` : `gpu${slot}`;
    const started = Date.now();
    const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "pipe"] });
    this.children.set(index, child);
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) if (line) this.options.onLine?.(`worker ${name}: ${line}`);
    });
    child.on("exit", (code, signal) => {
      this.children.delete(index);
      if (this.stopping) return;
      const next = Date.now() - started > 60_000 ? RESTART_MS : Math.min(delay * 2, RESTART_MAX_MS);
      this.options.onLine?.(`worker ${name} exited (${signal ?? code}); restarting in ${next / 1000} s`);
      setTimeout(() => !this.stopping && this.spawnWorker(index, slot, next), next).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }
}
