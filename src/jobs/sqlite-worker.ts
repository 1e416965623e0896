/**
 * The embedded backend's worker loop: claim while a slot is free, otherwise sleep pollMs; per running
 * job, renew the lease every leaseMs/3 and look for a cancel request every cancelPollMs.
 */
import { classifyFailure, retryDelayMs } from "./errors.ts";
import { failedOutcome, type FailedOutcome, type ResolvedWorkerOptions } from "./queue-common.ts";
import { JobCancelledError, type JobContext, type JobHandler, type JobProgress } from "./types.ts";
import type { JobRecord, QueueWorker } from "./types.ts";

export type Settlement = FailedOutcome | { kind: "succeeded"; result: string | null };

/** The lease-guarded operations a worker needs (sqlite-leases.ts). */
export interface LeaseStore {
  claim(
    workerId: string,
    leaseMs: number,
    maxRunningPerUser: number,
  ): { job: JobRecord; token: string } | null;
  /** False once the lease is no longer this token's. */
  renew(id: string, token: string, leaseMs: number): boolean;
  cancelRequested(id: string): boolean;
  saveProgress(id: string, token: string, progress: JobProgress): void;
  settle(id: string, token: string, outcome: Settlement, retryAfterMs: number): boolean;
}

type AbortReason = "cancel" | "close" | "lease";

const ABORT_MESSAGES: Record<AbortReason, string> = {
  cancel: "cancelled",
  close: "the worker is closing",
  lease: "the worker lost this job's lease",
};

interface Running {
  abort(reason: AbortReason): void;
  done: Promise<void>;
}

/** A failing read or write (file busy past busy_timeout, file closed) counts as `fallback`. */
function tryOr<T>(action: () => T, fallback: T): T {
  try {
    return action();
  } catch {
    return fallback;
  }
}

export class SqliteQueueWorker implements QueueWorker {
  readonly workerId: string;
  private readonly running = new Map<string, Running>();
  private closing = false;
  private wake: (() => void) | null = null;
  private readonly loop: Promise<void>;

  constructor(
    private readonly store: LeaseStore,
    private readonly handler: JobHandler,
    private readonly options: ResolvedWorkerOptions,
    private readonly onClosed: () => void,
  ) {
    this.workerId = options.workerId;
    this.loop = this.run();
  }

  async close(options: { abort?: boolean } = {}): Promise<void> {
    this.closing = true;
    this.wake?.();
    if (options.abort) for (const job of this.running.values()) job.abort("close");
    await this.loop;
    await Promise.all([...this.running.values()].map((job) => job.done));
    this.onClosed();
  }

  private async run(): Promise<void> {
    const { workerId, leaseMs, maxRunningPerUser, concurrency, pollMs } = this.options;
    while (!this.closing) {
      const claimed =
        this.running.size < concurrency
          ? tryOr(() => this.store.claim(workerId, leaseMs, maxRunningPerUser), null)
          : null;
      if (claimed) this.start(claimed.job, claimed.token);
      else await this.sleep(pollMs);
    }
  }

  /** Waits `ms`, or less when a job ends or the worker closes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private start(job: JobRecord, token: string): void {
    const { store } = this;
    const { leaseMs, cancelPollMs, backoffMs } = this.options;
    const controller = new AbortController();
    let reason: AbortReason | null = null;
    const abort = (why: AbortReason) => {
      if (reason) return;
      reason = why;
      controller.abort(new JobCancelledError(ABORT_MESSAGES[why]));
    };
    const timers = [
      // A failed renewal write is retried on the next tick; only a lost token ends the job here.
      setInterval(
        () => tryOr(() => store.renew(job.id, token, leaseMs), true) || abort("lease"),
        leaseMs / 3,
      ),
      setInterval(() => tryOr(() => store.cancelRequested(job.id), false) && abort("cancel"), cancelPollMs),
    ];
    const ctx: JobContext = {
      job,
      signal: controller.signal,
      reportProgress: async (progress) => store.saveProgress(job.id, token, progress),
    };
    const done = (async () => {
      let outcome: Settlement;
      try {
        const result = await this.handler(ctx);
        outcome = { kind: "succeeded", result: result === undefined ? null : JSON.stringify(result) };
      } catch (error) {
        outcome = failedOutcome(classifyFailure(error), {
          cancelRequested: reason === "cancel" || tryOr(() => store.cancelRequested(job.id), false),
          closing: reason === "close",
          attempts: job.attempts,
          maxAttempts: job.maxAttempts,
        });
      } finally {
        timers.forEach(clearInterval);
      }
      // When this write fails the lease lapses and the next claim's reconcile puts the job back.
      tryOr(() => store.settle(job.id, token, outcome, retryDelayMs(backoffMs, job.attempts)), false);
    })().finally(() => {
      this.running.delete(job.id);
      this.wake?.();
    });
    this.running.set(job.id, { abort, done });
  }
}
