/**
 * The job queue's contract: one closed state union, one record shape, one `JobQueue` interface with two
 * implementations (sqlite-queue.ts: the embedded default; bullmq-queue.ts: BullMQ on Redis). The API
 * and the workers see only this file; neither knows which backend is underneath.
 */

export const JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type JobState = (typeof JOB_STATES)[number];

/** What a failed job says: a DanluError's code, message and hint carry through unchanged. */
export interface JobError {
  code: string;
  message: string;
  hint?: string;
}

/** The latest progress a worker reported: a named stage and, when known, step of total. */
export interface JobProgress {
  stage: string;
  step?: number;
  total?: number;
  /** Extra figures for a person (loss, it/s, memory); small and JSON. */
  detail?: Record<string, number | string>;
}

export interface JobRecord {
  /** Opaque and URL-safe (letters, digits, '-'). */
  id: string;
  /** The user id that owns the job; another user's job answers 404. */
  owner: string;
  kind: string;
  /** The kind's parameters as the API validated them (JSON). */
  params: Record<string, unknown>;
  state: JobState;
  /** 0..10, higher runs first. @defaultValue 5 */
  priority: number;
  /** Attempts started so far (1 while the first runs). */
  attempts: number;
  /** Attempts allowed for infrastructure failures (worker lost, crash); user errors never retry. @defaultValue 3 */
  maxAttempts: number;
  progress: JobProgress | null;
  /** The kind's answer (JSON) once succeeded. */
  result: unknown;
  error: JobError | null;
  /** The worker holding the lease while running. */
  workerId: string | null;
  cancelRequested: boolean;
  /** Milliseconds since the Unix epoch. */
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface EnqueueInput {
  owner: string;
  kind: string;
  params: Record<string, unknown>;
  priority?: number;
  maxAttempts?: number;
}

export interface JobFilter {
  owner?: string;
  states?: readonly JobState[];
  kind?: string;
  /** Newest first; at most this many. @defaultValue 100 (1 to 1000) */
  limit?: number;
}

/** What a handler gets for one attempt of one job. */
export interface JobContext {
  /** The record as claimed (attempts counts this attempt). */
  job: JobRecord;
  /** Aborted when the job is cancelled (API) or the worker is closing; the handler stops and throws. */
  signal: AbortSignal;
  /** Stores the latest progress on the record (throttle it: the API reads it, the event log has the rest). */
  reportProgress(progress: JobProgress): Promise<void>;
}

/**
 * Runs one attempt. Resolve with the result (JSON). Throw a DanluError for a user error (fails at once,
 * no retry), JobCancelledError once the signal aborted, anything else for an infrastructure failure
 * (retried with backoff while attempts remain).
 */
export type JobHandler = (ctx: JobContext) => Promise<unknown>;

export interface WorkerOptions {
  /** Unique per worker process (e.g. host:pid:gpu). */
  workerId: string;
  /** Jobs run at once by this worker; one per GPU. @defaultValue 1 (1 to 64) */
  concurrency?: number;
  /** A lease not renewed for this long means the worker is gone; its job is queued again. @defaultValue 30_000 (1000 to 600_000) */
  leaseMs?: number;
  /** How often a cancel request is looked for while a job runs. @defaultValue 1000 (50 to 10_000) */
  cancelPollMs?: number;
  /** Running jobs per user across all workers; further jobs of that user wait. @defaultValue 2 (1 to 1000) */
  maxRunningPerUser?: number;
  /** First retry delay; doubled per attempt. @defaultValue 2000 (0 to 600_000) */
  backoffMs?: number;
  /** Idle polling interval of the embedded backend (a short write transaction each). @defaultValue 100 (10 to 10_000) */
  pollMs?: number;
}

export interface QueueWorker {
  readonly workerId: string;
  /** Stops claiming; aborts running jobs' signals when `abort`, then waits for them to settle. */
  close(options?: { abort?: boolean }): Promise<void>;
}

export interface JobQueue {
  readonly backend: "sqlite" | "bullmq";
  enqueue(input: EnqueueInput): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | null>;
  list(filter?: JobFilter): Promise<JobRecord[]>;
  /** queued: cancelled at once; running: cancelRequested (the worker aborts within cancelPollMs); finished: unchanged. */
  cancel(id: string): Promise<JobRecord | null>;
  /** A failed or cancelled job queued again under the same id (a training resumes from its saved state). */
  requeue(id: string): Promise<JobRecord | null>;
  startWorker(handler: JobHandler, options: WorkerOptions): QueueWorker;
  /** Puts back every running job whose lease has expired; returns how many. The server calls it on start. */
  reconcile(): Promise<number>;
  close(): Promise<void>;
}

/** Thrown by a handler once its signal aborted: the job ends `cancelled`, not failed, never retried. */
export class JobCancelledError extends Error {
  constructor(message = "cancelled") {
    super(message);
    this.name = "JobCancelledError";
  }
}
