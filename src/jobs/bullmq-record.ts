/**
 * How a BullMQ job reads as a JobRecord: what we keep in its data, how a failure travels in its
 * failedReason, and which BullMQ states make up each of ours.
 */
import type { Job, JobType } from "bullmq";
import type { JobError, JobProgress, JobRecord, JobState } from "./types.ts";

/** A BullMQ job's `data`. Only the API process writes it after enqueue (cancel, requeue); workers never. */
export interface BullJobData {
  owner: string;
  kind: string;
  params: Record<string, unknown>;
  /** Ours, 0..10; BullMQ's own priority is 11 - this (1 runs first). */
  priority: number;
  maxAttempts: number;
  cancelRequested: boolean;
  /** When cancel() was called (ms since the epoch): a queued job reads as cancelled from then on. */
  cancelledAt?: number;
  /** BullMQ's stall count when the job was last requeued: retry() keeps it, our attempts restart at 0. */
  stalledBase?: number;
}

export type BullJob = Job<BullJobData>;

export const toBullPriority = (priority: number): number => 11 - priority;

/** Our failures travel in BullMQ's failedReason as this prefix + JSON, so code and hint survive. */
const FAILURE_PREFIX = "danlu:";

interface EncodedFailure {
  error: JobError;
  cancelled: boolean;
}

export function encodeFailure(error: JobError, cancelled = false): string {
  return FAILURE_PREFIX + JSON.stringify({ error, cancelled } satisfies EncodedFailure);
}

/** BullMQ's own reasons (e.g. a lost lock) read as INTERNAL errors. */
export function decodeFailure(reason: string | undefined | null): EncodedFailure | null {
  if (!reason) return null;
  if (reason.startsWith(FAILURE_PREFIX)) {
    try {
      return JSON.parse(reason.slice(FAILURE_PREFIX.length)) as EncodedFailure;
    } catch {
      // fall through: shown as written
    }
  }
  return { error: { code: "INTERNAL", message: reason }, cancelled: false };
}

/** Attempts started: failures + stalls since the last requeue, + the one running now. */
export function attemptsOf(
  job: Pick<BullJob, "attemptsMade" | "stalledCounter" | "data">,
  active: boolean,
): number {
  return job.attemptsMade + (job.stalledCounter ?? 0) - (job.data.stalledBase ?? 0) + (active ? 1 : 0);
}

/** The BullMQ states each of ours may be found in (cancelled: failed, or queued with a cancel request). */
export const BULL_TYPES: Record<JobState, JobType[]> = {
  queued: ["waiting", "prioritized", "delayed"],
  running: ["active"],
  succeeded: ["completed"],
  failed: ["failed"],
  cancelled: ["failed", "waiting", "prioritized", "delayed"],
};

function stateOf(job: BullJob, bullState: string): JobState {
  if (bullState === "active") return "running";
  if (bullState === "completed") return "succeeded";
  if (bullState === "failed") return decodeFailure(job.failedReason)?.cancelled ? "cancelled" : "failed";
  return job.data.cancelRequested ? "cancelled" : "queued";
}

export function toRecord(job: BullJob, bullState: string): JobRecord {
  const { data } = job;
  const state = stateOf(job, bullState);
  const attempts = attemptsOf(job, state === "running");
  const failure = state === "succeeded" || state === "running" ? null : decodeFailure(job.failedReason);
  const progress =
    typeof job.progress === "object" && job.progress !== null ? (job.progress as JobProgress) : null;
  return {
    id: job.id!,
    owner: data.owner,
    kind: data.kind,
    params: data.params,
    state,
    priority: data.priority,
    attempts,
    maxAttempts: data.maxAttempts,
    progress,
    result: state === "succeeded" ? (job.returnvalue ?? null) : null,
    error:
      state === "cancelled" && !failure
        ? { code: "CANCELLED", message: "cancelled" }
        : (failure?.error ?? null),
    workerId: state === "queued" ? null : (job.processedBy ?? null),
    cancelRequested: data.cancelRequested,
    createdAt: job.timestamp,
    startedAt: attempts > 0 ? (job.processedOn ?? null) : null,
    finishedAt: job.finishedOn ?? (state === "cancelled" ? (data.cancelledAt ?? null) : null),
  };
}
