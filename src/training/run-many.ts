import type { TrainConfig } from "../config/index.ts";
import { runEngine, type EngineRunResult } from "../engine/driver.ts";
import { EngineFailure } from "../engine/errors.ts";
import { engineEvent, type EngineEvent } from "../engine/protocol.ts";
import type { EngineLauncher } from "../engine/python.ts";
import type { TrainManySpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import type { PreparedRun } from "./prepared.ts";
import { openRunRecords, type RunRecords, type TrainRunOptions } from "./run-records.ts";

/** One training of a group: what runTraining takes, plus its id in the engine's `job` events. */
export interface GroupMember {
  /** Unique in the group. */
  id: string;
  config: TrainConfig;
  prepared: PreparedRun;
  /** Its own event stream (a solo run's events: ready, phases, progress, checkpoints, done). */
  options: Omit<TrainRunOptions, "signal">;
  /** The engine pass before which it joins. @defaultValue 0 (at the start) */
  joinAtStep?: number;
}

export interface GroupOptions {
  /** Jobs trained at once; later ones wait for a free slot. @defaultValue the number of members */
  slots?: number;
  /** The engine's adapter path: batched matmuls, or each job's own module in turn. @defaultValue "bmm" */
  mode?: "bmm" | "loop";
  /** Cancels every member: each running one saves a resumable state. */
  signal?: AbortSignal;
  /** Where to keep the train-many spec. @defaultValue a temp file */
  specPath?: string;
  /** Tests: a fake engine. */
  launcher?: EngineLauncher;
}

type Event<K extends EngineEvent["event"]> = Extract<EngineEvent, { event: K }>;

interface MemberState {
  member: GroupMember;
  records: RunRecords;
  events: EngineEvent[];
  lastProgress: Event<"progress"> | null;
  outcome: EngineRunResult | Error | null;
}

/**
 * Trains several prepared runs on one base model in one `train-many` engine process (the LoRAs of all of
 * them in every UNet forward), each with its own records (loss.csv, train.log, spec.json of its own
 * train spec) and its own events. Resolves with one settled result per member, in order: its `done` or
 * `cancelled`, or its own failure (EngineFailure); a failure of the whole engine fails every member
 * still running.
 */
export async function runTrainingGroup(
  members: readonly GroupMember[],
  options: GroupOptions = {},
): Promise<PromiseSettledResult<EngineRunResult>[]> {
  checkMembers(members);
  const states: MemberState[] = [];
  try {
    for (const member of members) {
      const records = await openRunRecords(member.config, member.prepared, member.options);
      states.push({ member, records, events: [], lastProgress: null, outcome: null });
    }
    const spec: TrainManySpec = {
      version: 1,
      slots: options.slots ?? members.length,
      mode: options.mode ?? "bmm",
      jobs: states.map((s) => ({
        id: s.member.id,
        join_at_step: s.member.joinAtStep ?? 0,
        spec: s.records.spec,
      })),
    };
    const byId = new Map(states.map((s) => [s.member.id, s]));
    let ready: Event<"ready"> | null = null;
    try {
      await runEngine("train-many", spec, {
        signal: options.signal,
        ...(options.specPath ? { specPath: options.specPath } : {}),
        ...(options.launcher ? { launcher: options.launcher } : {}),
        onStderrLine: (line) => states.forEach((s) => s.records.onStderrLine(line)),
        onEvent: (event) => {
          if (event.event === "ready") ready = event;
          if (event.event === "job") route(byId, event.id, engineEvent.parse(event.data), () => ready);
          else if (event.event === "ready" || event.event === "phase")
            states.forEach((s) => deliver(s, event));
        },
      });
    } catch (error) {
      for (const s of states) s.outcome ??= error instanceof Error ? error : new Error(String(error));
    }
    return states.map((s) => settle(s));
  } finally {
    for (const s of states) s.records.close();
  }
}

function checkMembers(members: readonly GroupMember[]): void {
  if (members.length === 0)
    throw new DanluError("runTrainingGroup: no trainings given.", { code: "INVALID_OPTION" });
  const ids = new Set(members.map((m) => m.id));
  if (ids.size !== members.length) {
    throw new DanluError("runTrainingGroup: member ids must be unique.", { code: "INVALID_OPTION" });
  }
  const several = members.find((m) => m.config.num_processes > 1);
  if (several) {
    throw new DanluError(`Training ${several.id} asks for ${several.config.num_processes} processes.`, {
      code: "INVALID_OPTION",
      hint: "train-many runs one process: train it alone (runTraining).",
    });
  }
}

function deliver(state: MemberState, event: EngineEvent): void {
  if (event.event === "progress") state.lastProgress = event;
  else state.events.push(event);
  state.records.onEvent(event);
}

function route(
  byId: Map<string, MemberState>,
  id: string,
  event: EngineEvent,
  ready: () => Event<"ready"> | null,
): void {
  const state = byId.get(id);
  if (!state)
    throw new DanluError(`The engine sent an event for unknown job ${id}.`, { code: "ENGINE_PROTOCOL" });
  deliver(state, event);
  const base = { ready: ready(), events: state.events, lastProgress: state.lastProgress };
  if (event.event === "done") {
    state.outcome = {
      ...base,
      status: "done",
      outputs: event.outputs,
      steps: event.steps,
      elapsedS: event.elapsed_s,
      data: null,
    };
  } else if (event.event === "cancelled") {
    state.outcome = { ...base, status: "cancelled", stateDir: event.state_dir, step: event.step };
  } else if (event.event === "error") {
    state.outcome = new EngineFailure(event.code, event.message, event.detail, {
      logPath: state.records.logPath,
    });
  }
}

function settle(state: MemberState): PromiseSettledResult<EngineRunResult> {
  const outcome =
    state.outcome ??
    new DanluError(`The engine ended before training ${state.member.id} finished.`, {
      code: "ENGINE_PROTOCOL",
    });
  return outcome instanceof Error
    ? { status: "rejected", reason: outcome }
    : { status: "fulfilled", value: outcome };
}
