/**
 * The Redis backend: BullMQ 6 does the queueing, locking, retries and stall recovery; this class maps
 * our contract onto it (see bullmq-record.ts for the mapping, bullmq-worker.ts for the worker side).
 * A lease is BullMQ's job lock; a cancel is a flag in the job's data that the worker polls.
 */
import { Queue, Worker } from "bullmq";
import { checkEnqueue, listLimit, newJobId, resolveWorkerOptions } from "./queue-common.ts";
import { BULL_TYPES, toBullPriority, toRecord, type BullJob, type BullJobData } from "./bullmq-record.ts";
import { BullmqQueueWorker, STALLS_UNLIMITED } from "./bullmq-worker.ts";
import type {
  EnqueueInput,
  JobFilter,
  JobHandler,
  JobQueue,
  JobRecord,
  QueueWorker,
  WorkerOptions,
} from "./types.ts";

export interface BullmqQueueOptions {
  /** Prefix of every Redis key. @defaultValue "danlu" */
  prefix?: string;
  /** The BullMQ queue's name. @defaultValue "jobs" */
  queueName?: string;
  /** Errors BullMQ reports in the background (lost connection, a lock it could not renew). @defaultValue ignored */
  onError?: (error: Error) => void;
}

/** Spacing of reconcile()'s two stall-check passes, in ms (the first marks, the second moves). */
const RECONCILE_PASS_MS = 100;

export class BullmqJobQueue implements JobQueue {
  readonly backend = "bullmq" as const;
  private readonly queue: Queue<BullJobData>;
  private readonly connection: { url: string };
  private readonly prefix: string;
  private readonly queueName: string;
  private readonly onError: (error: Error) => void;
  private readonly workers = new Set<BullmqQueueWorker>();

  /** `redisUrl` e.g. redis://host:6379; BullMQ opens its own connections (one per queue, two per worker). */
  constructor(redisUrl: string, options: BullmqQueueOptions = {}) {
    this.connection = { url: redisUrl };
    this.prefix = options.prefix ?? "danlu";
    this.queueName = options.queueName ?? "jobs";
    this.onError = options.onError ?? (() => {});
    this.queue = new Queue<BullJobData>(this.queueName, { connection: this.connection, prefix: this.prefix });
    this.queue.on("error", this.onError);
  }

  async enqueue(input: EnqueueInput): Promise<JobRecord> {
    const { priority, maxAttempts } = checkEnqueue(input);
    const data: BullJobData = {
      owner: input.owner,
      kind: input.kind,
      params: input.params,
      priority,
      maxAttempts,
      cancelRequested: false,
    };
    const job = await this.queue.add(input.kind, data, {
      jobId: newJobId(),
      priority: toBullPriority(priority),
      attempts: maxAttempts,
      // the worker's backoffStrategy: retryDelayMs with that worker's backoffMs
      backoff: { type: "danlu" },
    });
    return toRecord(job, "prioritized");
  }

  /**
   * BullMQ reads a job's hash and its state in separate calls; a state read before and after the hash
   * that agree mean the two belong together (a job finishing in between would read as succeeded with
   * no result).
   */
  async get(id: string): Promise<JobRecord | null> {
    let state = await this.queue.getJobState(id);
    for (;;) {
      const job = await this.queue.getJob(id);
      if (!job || state === "unknown") return null;
      const after = await this.queue.getJobState(id);
      if (after === state) return toRecord(job, state);
      state = after;
    }
  }

  async list(filter: JobFilter = {}): Promise<JobRecord[]> {
    const limit = listLimit(filter);
    const states = filter.states ?? (Object.keys(BULL_TYPES) as (keyof typeof BULL_TYPES)[]);
    const types = [...new Set(states.flatMap((state) => BULL_TYPES[state]))];
    const found = await Promise.all(
      types.map(async (type) => {
        const jobs = ((await this.queue.getJobs([type])) as (BullJob | undefined)[]).filter(
          (job): job is BullJob => job !== undefined && job.data !== undefined,
        );
        // a job that finished (or was retried) between the state's list and its hash: read it again
        const stale = (job: BullJob) =>
          (job.finishedOn !== undefined) !== (type === "completed" || type === "failed");
        return Promise.all(jobs.map((job) => (stale(job) ? this.get(job.id!) : toRecord(job, type))));
      }),
    );
    const byId = new Map(found.flat().flatMap((record) => (record ? [[record.id, record] as const] : [])));
    return [...byId.values()]
      .filter((record) => states.includes(record.state))
      .filter((record) => filter.owner === undefined || record.owner === filter.owner)
      .filter((record) => filter.kind === undefined || record.kind === filter.kind)
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, limit);
  }

  async cancel(id: string): Promise<JobRecord | null> {
    const job = await this.queue.getJob(id);
    if (!job) return null;
    const state = await job.getState();
    if (state !== "completed" && state !== "failed" && !job.data.cancelRequested) {
      await job.updateData({ ...job.data, cancelRequested: true, cancelledAt: Date.now() });
    }
    return this.get(id);
  }

  async requeue(id: string): Promise<JobRecord | null> {
    const record = await this.get(id);
    const job = await this.queue.getJob(id);
    if (!record || !job || (record.state !== "failed" && record.state !== "cancelled")) return record;
    const { cancelledAt: _dropped, ...data } = job.data;
    await job.updateData({ ...data, cancelRequested: false, stalledBase: job.stalledCounter ?? 0 });
    // a queued job with a cancel request never left BullMQ's wait list; clearing the flag was enough
    if ((await job.getState()) === "failed") {
      await job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
    }
    return this.get(id);
  }

  startWorker(handler: JobHandler, options: WorkerOptions): QueueWorker {
    const worker = new BullmqQueueWorker(
      this.queue,
      { connection: this.connection, prefix: this.prefix, onError: this.onError },
      handler,
      resolveWorkerOptions(options),
      () => this.workers.delete(worker),
    );
    this.workers.add(worker);
    return worker;
  }

  /**
   * Runs BullMQ's own stall check twice (it moves a job only when an earlier pass saw it active and its
   * lock has since expired); returns how many jobs it moved back. While workers run, their checker
   * may be the one that moves a job (a pass is skipped when another ran within its interval).
   */
  async reconcile(): Promise<number> {
    const checker = new Worker<BullJobData>(this.queueName, null, {
      connection: this.connection,
      prefix: this.prefix,
      autorun: false,
      stalledInterval: RECONCILE_PASS_MS,
      maxStalledCount: STALLS_UNLIMITED,
    });
    checker.on("error", this.onError);
    const moved = new Set<string>();
    checker.on("stalled", (jobId) => moved.add(jobId));
    try {
      await checker.startStalledCheckTimer();
      await new Promise((resolve) => setTimeout(resolve, RECONCILE_PASS_MS * 2.5));
    } finally {
      await checker.close();
    }
    return moved.size;
  }

  /** Closes this object's workers (aborting their jobs, which go back to the queue), then the connection. */
  async close(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.close({ abort: true })));
    await this.queue.close();
  }
}
