/**
 * The Redis backend's worker: a BullMQ Worker whose processor adds what BullMQ lacks — per-user
 * running limits (a job over the limit goes back to delayed for pollMs), cancel requests (polled from
 * the job's data every cancelPollMs) and our attempt accounting (stalls count as attempts).
 */
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Queue } from "bullmq";
import { classifyFailure, retryDelayMs, WORKER_LOST } from "./errors.ts";
import { failedOutcome, type ResolvedWorkerOptions } from "./queue-common.ts";
import { attemptsOf, encodeFailure, toRecord, type BullJob, type BullJobData } from "./bullmq-record.ts";
import { JobCancelledError, type JobHandler, type JobProgress, type QueueWorker } from "./types.ts";

/**
 * BullMQ fails a job stalled more than maxStalledCount times; we let stalls count as attempts instead
 * and fail it with WORKER_LOST when none remain, so BullMQ's own limit must never be reached.
 */
export const STALLS_UNLIMITED = 1_000_000_000;

type AbortReason = "cancel" | "close" | "lease";

const ABORT_MESSAGES: Record<AbortReason, string> = {
  cancel: "cancelled",
  close: "the worker is closing",
  lease: "the worker lost this job's lock",
};

export interface WorkerConnection {
  connection: { url: string };
  prefix: string;
  onError: (error: Error) => void;
}

export class BullmqQueueWorker implements QueueWorker {
  readonly workerId: string;
  private readonly worker: Worker<BullJobData>;
  private readonly running = new Map<string, (reason: AbortReason) => void>();
  /** close({ abort: true }) was called: a job fetched after that goes straight back. */
  private aborting = false;
  private closing: Promise<void> | null = null;
  private readonly onError: (error: Error) => void;

  constructor(
    private readonly queue: Queue<BullJobData>,
    redis: WorkerConnection,
    private readonly handler: JobHandler,
    private readonly options: ResolvedWorkerOptions,
    private readonly onClosed: () => void,
  ) {
    const { workerId, leaseMs, backoffMs } = options;
    this.workerId = workerId;
    this.onError = redis.onError;
    this.worker = new Worker<BullJobData>(queue.name, (job, token) => this.process(job, token), {
      connection: redis.connection,
      prefix: redis.prefix,
      name: workerId,
      concurrency: options.concurrency,
      lockDuration: leaseMs,
      // renewed three times per lease, as the embedded backend does
      lockRenewTime: Math.floor(leaseMs / 3),
      // a dead worker's lock expires within leaseMs; the next check (every leaseMs/2) moves the job back
      stalledInterval: Math.floor(leaseMs / 2),
      maxStalledCount: STALLS_UNLIMITED,
      settings: {
        backoffStrategy: (_made, _type, _error, job) =>
          retryDelayMs(backoffMs, job ? attemptsOf(job as BullJob, true) : 1),
      },
    });
    this.worker.on("error", redis.onError);
    this.worker.on("lockRenewalFailed", (ids) => ids.forEach((id) => this.running.get(id)?.("lease")));
  }

  close(options: { abort?: boolean } = {}): Promise<void> {
    if (options.abort) {
      this.aborting = true;
      for (const abort of this.running.values()) abort("close");
    }
    this.closing ??= this.worker.close().then(this.onClosed);
    return this.closing;
  }

  private async process(job: BullJob, token: string | undefined): Promise<unknown> {
    const { data } = job;
    if (data.cancelRequested) throw new UnrecoverableError(encodeFailure(CANCELLED, true));
    // earlier attempts used up: the last one can only have been lost (failures stop retrying themselves)
    if (attemptsOf(job, false) >= data.maxAttempts) throw new UnrecoverableError(encodeFailure(WORKER_LOST));
    if (await this.ownerIsBusy(job)) {
      await job.moveToDelayed(Date.now() + this.options.pollMs, token);
      throw new DelayedError();
    }
    if (this.aborting) {
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const id = job.id!;
    const controller = new AbortController();
    let reason: AbortReason | null = null;
    const abort = (why: AbortReason) => {
      if (reason) return;
      reason = why;
      controller.abort(new JobCancelledError(ABORT_MESSAGES[why]));
    };
    this.running.set(id, abort);
    const poll = setInterval(() => {
      this.cancelRequested(id).then((asked) => asked && abort("cancel"), this.onError);
    }, this.options.cancelPollMs);
    const record = toRecord(job, "active");
    try {
      return await this.handler({
        job: record,
        signal: controller.signal,
        reportProgress: (progress: JobProgress) => job.updateProgress(progress),
      });
    } catch (error) {
      const outcome = failedOutcome(classifyFailure(error), {
        cancelRequested: reason === "cancel" || (await this.cancelRequested(id).catch(() => false)),
        closing: reason === "close",
        attempts: record.attempts,
        maxAttempts: record.maxAttempts,
      });
      if (outcome.kind === "release") {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (outcome.kind === "retry") throw new Error(encodeFailure(outcome.error));
      throw new UnrecoverableError(encodeFailure(outcome.error, outcome.kind === "cancelled"));
    } finally {
      clearInterval(poll);
      this.running.delete(id);
    }
  }

  /**
   * Counts the owner's jobs that entered BullMQ's active list before this one (the list is newest first
   * and ordered by Redis itself, so no clocks are compared). Of several jobs that arrive at once, the
   * older ones run and the newer wait: never more than the limit, and the oldest always runs.
   */
  private async ownerIsBusy(job: BullJob): Promise<boolean> {
    const active = (await this.queue.getJobs(["active"])) as (BullJob | undefined)[];
    const mine = active.findIndex((other) => other?.id === job.id);
    const older = active.slice(mine + 1).filter((other) => other?.data?.owner === job.data.owner);
    return older.length >= this.options.maxRunningPerUser;
  }

  private async cancelRequested(id: string): Promise<boolean> {
    return (await this.queue.getJob(id))?.data.cancelRequested === true;
  }
}

const CANCELLED = { code: "CANCELLED", message: "cancelled" };
