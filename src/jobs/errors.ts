import { EngineCancelledError, EngineProcessError } from "../engine/errors.ts";
import { DanluError } from "../errors.ts";
import { JobCancelledError, type JobError } from "./types.ts";

/** How a handler's failure ends the attempt: cancelled, a user error (no retry), or retried. */
export type FailureKind = "cancelled" | "user" | "infrastructure";

export interface ClassifiedFailure {
  kind: FailureKind;
  error: JobError;
}

/** DanluError is the user's to fix (fail once, with its hint); anything else may pass on another try. */
export function classifyFailure(error: unknown): ClassifiedFailure {
  if (error instanceof JobCancelledError || error instanceof EngineCancelledError) {
    return { kind: "cancelled", error: { code: "CANCELLED", message: "cancelled" } };
  }
  // the engine crashed, hung or was killed (not an error event it wrote): another try may pass
  if (error instanceof DanluError && !(error instanceof EngineProcessError)) {
    return {
      kind: "user",
      error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    kind: "infrastructure",
    error: {
      code: "INTERNAL",
      message,
      hint: "retried automatically; if it keeps failing, see the job's log",
    },
  };
}

/** The error recorded when a worker's lease ran out on the last allowed attempt. */
export const WORKER_LOST: JobError = {
  code: "WORKER_LOST",
  message: "the worker running this job stopped answering (killed, crashed or its node was lost)",
  hint: "resume it (POST /api/jobs/ID/resume); a training continues from its last saved state",
};

/** Delay before retry `attempt` (1-based attempts already made): backoff doubling. */
export function retryDelayMs(backoffMs: number, attemptsMade: number): number {
  return backoffMs * 2 ** Math.max(0, attemptsMade - 1);
}
