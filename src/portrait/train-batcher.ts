import { join } from "node:path";
import type { TrainConfig } from "../config/index.ts";
import type { EngineRunResult } from "../engine/run-types.ts";
import type { TrainSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import type { PreparedRun } from "../training/prepared.ts";
import { runTrainingGroup } from "../training/run-many.ts";
import { logDirOf, runTraining, type TrainRunOptions } from "../training/run.ts";
import { buildTrainSpec } from "../training/spec-builder.ts";

/**
 * The portrait trainings of one process, batched: with batching on (`danlu worker --portrait-batch K`),
 * a portrait training waits up to `windowMs` for others on the same base model and settings (up to K in
 * all), then all of them train in one `train-many` engine process (src/training/run-many.ts), each with
 * its own records, events and LoRA file. Batching off (K = 1, the default), a training alone in its
 * window, and a training train-many cannot do (text encoder, sampling, validation, resume, pivotal,
 * dropouts, several buckets, several processes) run `runTraining` as before.
 *
 * Cancel: a training cancelled while it waits for its group leaves at once (CANCELLED, nothing trained).
 * Once a group trains, the engine stops only when every member is cancelled (each saves its state); a
 * member cancelled alone keeps training with the others (they share every forward pass), and the
 * pipeline reports it cancelled when the group ends (its next stage does not start).
 */

export interface PortraitBatchSettings {
  /** Trainings at most in one group; 1: no batching. */
  size: number;
  /** How long the first training of a group waits for others, in ms. */
  windowMs: number;
}

const DEFAULTS: PortraitBatchSettings = { size: 1, windowMs: 3_000 };
let settings: PortraitBatchSettings = { ...DEFAULTS };

/** Sets this process's batching (the worker does, from --portrait-batch); unset keys keep the defaults. */
export function setPortraitBatch(next: Partial<PortraitBatchSettings> = {}): void {
  const size = next.size ?? DEFAULTS.size;
  const windowMs = next.windowMs ?? DEFAULTS.windowMs;
  if (!Number.isInteger(size) || size < 1 || !(windowMs >= 0)) {
    throw new DanluError(`portrait batch: size ${size} and window ${windowMs} ms`, {
      code: "INVALID_OPTION",
      hint: "size is an integer >= 1, the window >= 0 ms",
    });
  }
  settings = { size, windowMs };
}

export function portraitBatch(): PortraitBatchSettings {
  return { ...settings };
}

export interface PortraitTrainResult {
  result: EngineRunResult;
  /** Trainings in its engine process (1: it trained alone, through runTraining). */
  groupSize: number;
}

interface Waiting {
  config: TrainConfig;
  prepared: PreparedRun;
  options: TrainRunOptions;
  resolve: (value: PortraitTrainResult) => void;
  reject: (reason: unknown) => void;
  leave: () => void;
}

interface Gathering {
  members: Waiting[];
  timer: NodeJS.Timeout;
}

const gathering = new Map<string, Gathering>();
let groups = 0;

/** Trains one portrait LoRA: alone, or with the others waiting at the same time (see above). */
export async function trainPortrait(
  config: TrainConfig,
  prepared: PreparedRun,
  options: TrainRunOptions,
): Promise<PortraitTrainResult> {
  const key = settings.size > 1 ? batchKey(config, prepared) : null;
  if (key === null) return { result: await runTraining(config, prepared, options), groupSize: 1 };
  if (options.signal?.aborted) throw cancelledError();
  return new Promise<PortraitTrainResult>((resolve, reject) => {
    const onAbort = () => {
      const group = gathering.get(key);
      if (!group) return;
      group.members = group.members.filter((m) => m !== member);
      if (group.members.length === 0) {
        clearTimeout(group.timer);
        gathering.delete(key);
      }
      reject(cancelledError());
    };
    const member: Waiting = {
      config,
      prepared,
      options,
      resolve,
      reject,
      leave: () => options.signal?.removeEventListener("abort", onAbort),
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let group = gathering.get(key);
    if (!group) {
      group = { members: [], timer: setTimeout(() => flush(key), settings.windowMs) };
      gathering.set(key, group);
    }
    group.members.push(member);
    if (group.members.length >= settings.size) flush(key);
  });
}

function flush(key: string): void {
  const group = gathering.get(key);
  if (!group) return;
  gathering.delete(key);
  clearTimeout(group.timer);
  for (const m of group.members) m.leave();
  void trainGroup(group.members);
}

async function trainGroup(members: Waiting[]): Promise<void> {
  if (members.length === 1) {
    const [m] = members as [Waiting];
    await runTraining(m.config, m.prepared, m.options).then(
      (result) => m.resolve({ result, groupSize: 1 }),
      m.reject,
    );
    return;
  }
  const n = ++groups;
  const signal = allAborted(members.map((m) => m.options.signal));
  try {
    const settled = await runTrainingGroup(
      members.map((m, i) => {
        const { signal: _signal, ...options } = m.options;
        return { id: `portrait-${i + 1}`, config: m.config, prepared: m.prepared, options };
      }),
      {
        ...(signal ? { signal } : {}),
        // beside the first member's records: the group's spec names every member's
        specPath: join(logDirOf(members[0]!.config), `train-many-${process.pid}-${n}.json`),
      },
    );
    settled.forEach((s, i) => {
      const m = members[i]!;
      if (s.status === "fulfilled") m.resolve({ result: s.value, groupSize: members.length });
      else m.reject(s.reason);
    });
  } catch (error) {
    for (const m of members) m.reject(error);
  }
}

/** A signal that aborts once every given one has (undefined: some member cannot be cancelled). */
export function allAborted(signals: readonly (AbortSignal | undefined)[]): AbortSignal | undefined {
  if (signals.some((s) => s === undefined)) return undefined;
  const controller = new AbortController();
  const check = () => {
    if (signals.every((s) => s!.aborted)) controller.abort();
  };
  for (const s of signals) s!.addEventListener("abort", check, { once: true });
  check();
  return controller.signal;
}

function cancelledError(): DanluError {
  return new DanluError("the portrait run was cancelled", { code: "CANCELLED" });
}

/**
 * What must be equal for trainings to share a train-many process (its SHARED keys and the one bucket),
 * or null when train-many cannot train this one (train_many.py's refusals).
 */
export function batchKey(config: TrainConfig, prepared: PreparedRun): string | null {
  if (config.sample_prompts !== undefined && config.sample_prompts !== null) return null;
  if (config.num_processes !== 1 || prepared.resume) return null;
  let spec: TrainSpec;
  try {
    spec = buildTrainSpec(config, prepared.plan, {
      arch: prepared.arch,
      metadata: {},
      prompts: [],
      resume: null,
      runRecord: null,
    });
  } catch {
    return null;
  }
  const n = spec.network;
  const t = spec.training;
  if (
    n.train_text_encoder ||
    !n.train_unet ||
    (n.algo !== "lora" && n.algo !== "locon") ||
    n.dora_wd ||
    n.use_tucker ||
    n.dropout ||
    n.rank_dropout ||
    n.module_dropout ||
    t.num_processes !== 1 ||
    spec.sample.prompts.length > 0 ||
    spec.validation.images.length > 0 ||
    spec.pivotal !== null ||
    spec.resume !== null
  ) {
    return null;
  }
  const buckets = new Set(spec.images.map((image) => image.bucket.join("x")));
  if (buckets.size !== 1) return null;
  return JSON.stringify({
    model: [spec.model.path, spec.model.arch, spec.model.v_prediction, spec.model.vae_path],
    training: [t.device, t.mixed_precision, t.vae_fp32, t.max_token_length, t.gradient_checkpointing],
    network: [n.module, n.algo, n.dim, n.conv_dim, n.block_dims, n.conv_block_dims, n.train_unet],
    bucket: [...buckets][0],
  });
}
