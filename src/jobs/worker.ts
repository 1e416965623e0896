import { mkdirSync } from "node:fs";
import { relative, sep } from "node:path";
import type { EngineEvent } from "../engine/protocol.ts";
import { DanluError } from "../errors.ts";
import type { DataDir } from "./data-dir.ts";
import { classifyFailure } from "./errors.ts";
import { JobEventWriter } from "./events.ts";
import type { JobKind, KindContext } from "./kinds/types.ts";
import type { JobContext, JobProgress, JobQueue, QueueWorker, WorkerOptions } from "./types.ts";
import { userPaths } from "./user-paths.ts";

/** How often a running job's progress is written to its record; the event stream gets every event. */
const PROGRESS_EVERY_MS = 1000;

export interface JobWorkerOptions extends WorkerOptions {
  data: DataDir;
  kinds: Record<string, JobKind>;
}

/** A worker: takes jobs from the queue and runs each with its kind, writing the job's event stream. */
export function startJobWorker(queue: JobQueue, options: JobWorkerOptions): QueueWorker {
  const { data, kinds, ...workerOptions } = options;
  return queue.startWorker((ctx) => runJob(ctx, data, kinds), workerOptions);
}

/** One attempt of one job: params checked by its kind, outputs in the job's own folder. */
export async function runJob(
  ctx: JobContext,
  data: DataDir,
  kinds: Record<string, JobKind>,
): Promise<unknown> {
  const { job } = ctx;
  const runDir = data.jobDir(job.owner, job.id);
  mkdirSync(runDir, { recursive: true });
  const redact = serverPathRedactor(data, job.owner);
  const events = new JobEventWriter(data.eventsPath(job.owner, job.id), redact);
  events.append("state", { state: "running", attempt: job.attempts, worker: job.workerId });
  const progress = new ProgressWriter(ctx);
  try {
    const kind = kinds[job.kind];
    if (!kind) throw new DanluError(`unknown job kind '${job.kind}'`, { code: "UNKNOWN_KIND" });
    const params = kind.params.safeParse(job.params);
    if (!params.success) {
      throw new DanluError(`the job's params no longer fit kind '${job.kind}': ${params.error.message}`, {
        code: "BAD_PARAMS",
      });
    }
    const result = await kind.run(params.data, kindContext(ctx, data, runDir, events, progress));
    await progress.flush();
    const shown = JSON.parse(redact(JSON.stringify(result ?? null))) as Record<string, unknown>;
    events.append("result", shown);
    return shown;
  } catch (error) {
    await progress.flush();
    redactError(error, redact);
    const failure = classifyFailure(error);
    const retrying = failure.kind === "infrastructure" && job.attempts < job.maxAttempts;
    if (failure.kind === "cancelled") events.append("state", { state: "cancelled" });
    else events.append("error", { ...failure.error, retrying });
    throw error;
  }
}

function kindContext(
  ctx: JobContext,
  data: DataDir,
  runDir: string,
  events: JobEventWriter,
  progress: ProgressWriter,
): KindContext {
  const { job } = ctx;
  return {
    userId: job.owner,
    jobId: job.id,
    attempt: job.attempts,
    data,
    runDir,
    signal: ctx.signal,
    paths: userPaths(data, job.owner),
    stage(name) {
      events.append("stage", { stage: name });
      progress.set({ stage: name }, true);
    },
    progress(step, total, detail) {
      progress.set({ stage: progress.stage, step, total, ...(detail ? { detail } : {}) }, false);
    },
    engineEvent(event: EngineEvent) {
      if (event.event === "progress") {
        events.append("progress", event as unknown as Record<string, unknown>);
        const detail: Record<string, number> = {
          epoch: event.epoch,
          loss: event.loss,
          lr: event.lr,
          it_per_s: event.it_per_s,
          ...(event.memory_mb !== null ? { memory_mb: event.memory_mb } : {}),
        };
        progress.set({ stage: progress.stage, step: event.step, total: event.total_steps, detail }, false);
      } else {
        events.append("engine", withinJob(event as unknown as Record<string, unknown>, runDir));
        if (event.event === "phase") {
          const counts =
            event.current !== null && event.total !== null ? { step: event.current, total: event.total } : {};
          progress.set({ stage: event.name, ...counts }, progress.stage !== event.name);
        }
      }
    },
    log(message, level = "info") {
      events.append("log", { level, message });
    },
  };
}

/**
 * Results, events and error messages reach users: a path inside the user's folder is shown relative to it
 * (datasets/NAME/..., jobs/ID/...), any other path inside the data directory loses that prefix.
 */
function serverPathRedactor(data: DataDir, owner: string): (text: string) => string {
  const userDir = data.userDir(owner) + sep;
  const root = data.root + sep;
  return (text) => text.replaceAll(userDir, "").replaceAll(root, "");
}

function redactError(error: unknown, redact: (text: string) => string): void {
  if (!(error instanceof Error)) return;
  error.message = redact(error.message);
  if (error instanceof DanluError && error.hint) {
    Object.defineProperty(error, "hint", { value: redact(error.hint) });
  }
}

/** Paths into the job's folder as the API serves them (relative, `/`); the server's folders stay private. */
function withinJob(event: Record<string, unknown>, runDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    out[key] =
      typeof value === "string" && value.startsWith(runDir + sep)
        ? relative(runDir, value).split(sep).join("/")
        : value;
  }
  return out;
}

/** Keeps the record's progress current without a database write per training step. */
class ProgressWriter {
  private latest: JobProgress | null = null;
  private written = 0;
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: JobContext) {}

  get stage(): string {
    return this.latest?.stage ?? "running";
  }

  set(progress: JobProgress, now: boolean): void {
    this.latest = progress;
    if (now || Date.now() - this.written >= PROGRESS_EVERY_MS) this.write();
  }

  private write(): void {
    const value = this.latest;
    if (!value) return;
    this.written = Date.now();
    this.pending = this.pending.then(() => this.ctx.reportProgress(value)).catch(() => undefined);
  }

  async flush(): Promise<void> {
    this.write();
    await this.pending;
  }
}
