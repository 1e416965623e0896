import { EngineCancelledError, EngineFailure, EngineProcessError } from "./errors.ts";
import type { EngineErrorContext, EngineProcessFailure } from "./errors.ts";
import { ENGINE_EXIT, type EngineEvent } from "./protocol.ts";
import type { EngineRunBase, EngineRunResult } from "./run-types.ts";

type Event<K extends EngineEvent["event"]> = Extract<EngineEvent, { event: K }>;

/** Why a run failed before its engine's own ending: a broken process, or an error thrown by a callback. */
export type RunFailure = { reason: EngineProcessFailure; message: string } | { error: unknown } | null;

/** What a one-shot engine process and a warm engine's job both know when a run ends. */
export interface RunEnding {
  failure: RunFailure;
  outcome: Event<"done" | "cancelled" | "error"> | null;
  result: Event<"result"> | null;
  base: EngineRunBase;
  exitCode: number | null;
  /** The engine as messages name it: "the engine (train)", "the warm engine (train)". */
  engine: string;
  /** How it ended, for a message: "exited with code 1", "ended the job with exit code 1". */
  how: string;
  aborted: boolean;
  context: EngineErrorContext;
}

/** The run's result, or the error it ends with (one rule for one-shot and warm runs). */
export function concludeRun(end: RunEnding): EngineRunResult {
  const { failure, outcome, context } = end;
  if (failure) {
    if ("error" in failure) throw failure.error;
    throw new EngineProcessError(failure.reason, failure.message, context);
  }
  if (outcome?.event === "error")
    throw new EngineFailure(outcome.code, outcome.message, outcome.detail, context);
  if (outcome?.event === "cancelled" && end.exitCode === ENGINE_EXIT.CANCELLED) {
    return { ...end.base, status: "cancelled", stateDir: outcome.state_dir, step: outcome.step };
  }
  if (outcome?.event === "done" && end.exitCode === ENGINE_EXIT.OK) {
    return {
      ...end.base,
      status: "done",
      outputs: outcome.outputs,
      steps: outcome.steps,
      elapsedS: outcome.elapsed_s,
      data: end.result?.data ?? null,
    };
  }
  if (end.aborted)
    throw new EngineCancelledError(`Cancelled: ${end.engine} ${end.how}; no resumable state was saved.`);
  const after = outcome ? ` after reporting ${outcome.event}` : " without reporting an error";
  const sentence = `${end.engine} ${end.how}${after}.`;
  throw new EngineProcessError("crash", sentence.charAt(0).toUpperCase() + sentence.slice(1), context);
}
