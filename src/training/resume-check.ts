import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runRecord, type RunRecord } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { formatValue, recordChanges, type RecordChange } from "./resume-diff.ts";

/** Where a resumed run starts, and what the plan should say about it. */
export interface ResumePoint {
  /** The state folder, absolute. */
  dir: string;
  step: number;
  epoch: number;
  /** Lines for the plan: where it resumes, and "continuing: N more epochs on the same data". */
  notes: string[];
  warnings: string[];
}

interface SavedState {
  step: number;
  epoch: number;
  /** null: written before states recorded their run (no "run" in train_state.json). */
  run: RunRecord | null;
}

/** The saved state's step, epoch and run record: BAD_RESUME when it is not a danlu state. */
function readSavedState(dir: string, path: string): SavedState {
  const stateFile = join(path, "train_state.json");
  if (!existsSync(stateFile)) {
    throw new DanluError(`--resume '${dir}' is not a danlu training state (no train_state.json in it)`, {
      code: "BAD_RESUME",
      hint: "pass a '{output_name}-NNNNNN-state' or '{output_name}-stepNNNNNNNN-state' folder from the output folder",
    });
  }
  const raw = JSON.parse(readFileSync(stateFile, "utf8")) as Record<string, unknown>;
  if (typeof raw.current_step !== "number") {
    throw new DanluError(`${stateFile} has no current_step`, { code: "BAD_RESUME" });
  }
  const epoch = typeof raw.current_epoch === "number" ? raw.current_epoch : 0;
  if (raw.run === undefined || raw.run === null) return { step: raw.current_step, epoch, run: null };
  const parsed = runRecord.safeParse(raw.run);
  if (!parsed.success) {
    throw new DanluError(`${stateFile} records its run in a form this danlu does not read`, {
      code: "BAD_RESUME",
      hint: "resume it with the danlu version that saved it, or start a new run",
    });
  }
  return { step: raw.current_step, epoch, run: parsed.data };
}

const LENGTH_KEYS = ["max_train_epochs", "max_train_steps", "max_train_steps_per_image"] as const;

function lengthChanges(saved: RunRecord["length"], now: RunRecord["length"]): RecordChange[] {
  return LENGTH_KEYS.filter((key) => saved[key] !== now[key]).map((key) => ({
    text: `${key}: ${formatValue(saved[key])} -> ${formatValue(now[key])}`,
    restore: `${key} = ${formatValue(saved[key])}`,
  }));
}

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** Schedules whose curve is drawn over the total steps: a longer or shorter run reshapes what is left. */
function scheduleNote(saved: RunRecord, now: RunRecord): string[] {
  const scheduler = String(now.settings.lr_scheduler ?? "constant");
  const warmup = Number(now.settings.lr_warmup_steps ?? 0);
  const warmupRatio = warmup > 0 && warmup < 1;
  if (
    (scheduler === "constant" || scheduler === "constant_with_warmup" || scheduler.startsWith("adafactor")) &&
    !warmupRatio
  )
    return [];
  return [
    `  the ${scheduler} learning-rate schedule${warmupRatio ? " (and its warmup ratio)" : ""} now spans ` +
      `${now.length.total_steps} steps instead of ${saved.length.total_steps}: the steps left follow the new curve`,
  ];
}

/** A longer (or shorter) run on the same data: the plan's first epochs are the same batches. */
function lengthNotes(saved: RunRecord, now: RunRecord, step: number): string[] {
  const was = saved.length;
  const is = now.length;
  if (is.total_steps === was.total_steps) return [];
  const wholeEpochs =
    was.total_steps === was.epochs * was.steps_per_epoch && is.total_steps === is.epochs * is.steps_per_epoch;
  const planned = `the saved run planned ${plural(was.epochs, "epoch")}, ${was.total_steps} steps`;
  if (is.total_steps > was.total_steps) {
    const more = wholeEpochs
      ? plural(is.epochs - was.epochs, "more epoch")
      : plural(is.total_steps - was.total_steps, "more step");
    const span = wholeEpochs ? `epochs ${was.epochs + 1}-${is.epochs}, ` : "";
    return [
      `  continuing: ${more} on the same data (${span}steps ${was.total_steps + 1}-${is.total_steps}; ${planned})`,
      ...scheduleNote(saved, now),
    ];
  }
  return [
    `  ending earlier: at step ${is.total_steps} (epoch ${is.epochs}) instead of ${was.total_steps}, on the same data ` +
      `(${is.total_steps - step} steps left; ${planned})`,
    ...scheduleNote(saved, now),
  ];
}

function refuse(path: string, changes: RecordChange[]): DanluError {
  const restore = changes.map((c) => c.restore).filter((r): r is string => r !== null);
  if (changes.some((c) => c.text.startsWith("dataset:")))
    restore.push("the dataset's folders, images and captions as they were");
  if (changes.some((c) => c.text.startsWith("arch:"))) restore.push("a base model of the saved architecture");
  return new DanluError(
    `the state in ${path} was saved by a different run; resuming would continue that run with other settings\n` +
      `changed (saved -> now):\n${changes.map((c) => `  ${c.text}`).join("\n")}`,
    {
      code: "RESUME_MISMATCH",
      hint: `start a new output folder (without --resume), or put the old values back: ${restore.join("; ")}`,
    },
  );
}

function pastTheEnd(path: string, state: SavedState, total: number, changes: RecordChange[]): DanluError {
  const why = changes.length > 0 ? ` (${changes.map((c) => c.text).join(", ")})` : "";
  return new DanluError(
    `the state in ${path} is at step ${state.step} (epoch ${state.epoch}), past the end of this plan at step ${total}${why}`,
    {
      code: "RESUME_MISMATCH",
      hint:
        `plan at least ${state.step} steps (e.g. max_train_epochs >= ${state.epoch}) to continue it, or use the ` +
        "LoRA file saved at that point",
    },
  );
}

/**
 * A resumable state for this run, checked before anything starts: the same settings, dataset and base model
 * (RESUME_MISMATCH listing each change, old and new), and a plan that reaches past the saved step. A longer
 * or shorter run on the same data continues it, and the notes say so.
 */
export function checkResume(dir: string, now: RunRecord): ResumePoint {
  const path = resolve(dir);
  const state = readSavedState(dir, path);
  const from = `  from step ${state.step} (epoch ${state.epoch}) of ${path}`;
  if (state.run === null) {
    if (state.step > now.length.total_steps) throw pastTheEnd(path, state, now.length.total_steps, []);
    const warning =
      `the state in ${path} predates danlu's resume check (its train_state.json records no run): its dataset, ` +
      "plan, learning rates and base model cannot be compared, so resume it only with the settings that saved it " +
      "(the engine still checks the model, network and optimizer)";
    return { dir: path, step: state.step, epoch: state.epoch, notes: [from], warnings: [warning] };
  }
  const changes = recordChanges(state.run, now);
  if (changes.length === 0 && state.run.length.steps_per_epoch !== now.length.steps_per_epoch) {
    const steps = `${state.run.length.steps_per_epoch} -> ${now.length.steps_per_epoch}`;
    changes.push({ text: `steps per epoch: ${steps}`, restore: null });
  }
  if (changes.length > 0) throw refuse(path, changes);
  if (state.step > now.length.total_steps)
    throw pastTheEnd(path, state, now.length.total_steps, lengthChanges(state.run.length, now.length));
  const notes = [from, ...lengthNotes(state.run, now, state.step)];
  return { dir: path, step: state.step, epoch: state.epoch, notes, warnings: [] };
}
