/**
 * What both queue backends share: option and input checks, job ids, and the one rule that turns a
 * handler's failure into the attempt's end (so SQLite and BullMQ end a job the same way).
 */
import { randomBytes } from "node:crypto";
import { DanluError } from "../errors.ts";
import type { ClassifiedFailure } from "./errors.ts";
import type { EnqueueInput, JobError, JobFilter, WorkerOptions } from "./types.ts";

export type ResolvedWorkerOptions = Required<WorkerOptions>;

/** [default, min, max] of each numeric worker option, as types.ts documents them. */
const WORKER_RANGES = {
  concurrency: [1, 1, 64],
  leaseMs: [30_000, 1000, 600_000],
  cancelPollMs: [1000, 50, 10_000],
  maxRunningPerUser: [2, 1, 1000],
  backoffMs: [2000, 0, 600_000],
  pollMs: [100, 10, 10_000],
} as const satisfies Record<Exclude<keyof WorkerOptions, "workerId">, readonly [number, number, number]>;

/** Attempts a job may be given; a job that needs more is broken, not unlucky. */
const MAX_ATTEMPTS_LIMIT = 100;

function checkInteger(name: string, value: unknown, min: number, max: number, code: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new DanluError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`, {
      code,
      hint: `set ${name} within ${min}..${max}`,
    });
  }
  return value;
}

/** Fills in the documented defaults and range-checks every option (DanluError INVALID_OPTION). */
export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  if (typeof options.workerId !== "string" || options.workerId.trim() === "") {
    throw new DanluError("workerId must be a non-empty string", {
      code: "INVALID_OPTION",
      hint: "give each worker process its own id, e.g. host:pid:gpu",
    });
  }
  const resolved = { workerId: options.workerId } as ResolvedWorkerOptions;
  for (const [name, [fallback, min, max]] of Object.entries(WORKER_RANGES)) {
    const key = name as keyof typeof WORKER_RANGES;
    resolved[key] = checkInteger(name, options[key] ?? fallback, min, max, "INVALID_OPTION");
  }
  return resolved;
}

/** The priority and attempts of a new job, defaults filled in; owner and kind must be non-empty. */
export function checkEnqueue(input: EnqueueInput): { priority: number; maxAttempts: number } {
  for (const field of ["owner", "kind"] as const) {
    if (typeof input[field] !== "string" || input[field] === "") {
      throw new DanluError(`a job needs a non-empty ${field}`, { code: "INVALID_INPUT" });
    }
  }
  if (typeof input.params !== "object" || input.params === null || Array.isArray(input.params)) {
    throw new DanluError("a job's params must be a JSON object", { code: "INVALID_INPUT" });
  }
  return {
    priority: checkInteger("priority", input.priority ?? 5, 0, 10, "INVALID_INPUT"),
    maxAttempts: checkInteger("maxAttempts", input.maxAttempts ?? 3, 1, MAX_ATTEMPTS_LIMIT, "INVALID_INPUT"),
  };
}

/** The list size a filter asks for (default 100, 1 to 1000). */
export function listLimit(filter: JobFilter): number {
  return checkInteger("limit", filter.limit ?? 100, 1, 1000, "INVALID_INPUT");
}

/** 80 random bits as hex behind a prefix: URL-safe, unguessable, no ':' (BullMQ key separator). */
export function newJobId(): string {
  return `j-${randomBytes(10).toString("hex")}`;
}

/** How one attempt ends when its handler threw. */
export type FailedOutcome =
  | { kind: "cancelled"; error: JobError }
  | { kind: "failed"; error: JobError }
  | { kind: "retry"; error: JobError }
  /** The worker is closing and aborted the job: queued again, the attempt not counted. */
  | { kind: "release" };

export interface AttemptFacts {
  /** A cancel was requested (the API) before the handler settled. */
  cancelRequested: boolean;
  /** The worker aborted the job because it is closing. */
  closing: boolean;
  /** Attempts started, this one included. */
  attempts: number;
  maxAttempts: number;
}

/**
 * A requested cancel wins over anything but a user error (an engine killed by the cancel reads as a
 * crash); a closing worker hands the job back instead of failing it; otherwise classifyFailure decides.
 */
export function failedOutcome(failure: ClassifiedFailure, facts: AttemptFacts): FailedOutcome {
  if (failure.kind === "user") return { kind: "failed", error: failure.error };
  if (facts.cancelRequested) return { kind: "cancelled", error: { code: "CANCELLED", message: "cancelled" } };
  if (facts.closing) return { kind: "release" };
  if (failure.kind === "cancelled") return { kind: "cancelled", error: failure.error };
  return facts.attempts < facts.maxAttempts
    ? { kind: "retry", error: failure.error }
    : { kind: "failed", error: failure.error };
}
