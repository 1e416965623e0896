import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { DanluError } from "../errors.ts";
import type { EngineEvent, ProgressEvent } from "../engine/protocol.ts";
import { formatPhase } from "./progress.ts";

/*
 * The records a training run keeps beside its outputs. Each line is written straight to the file
 * (writeSync on an append-mode descriptor, no buffering in this process), so a crash of the engine or
 * of danlu loses nothing already reported; only a power cut can lose what the OS had not yet flushed.
 */

const LOSS_HEADER = "step,epoch,loss,lr,it_per_s";

/** `loss.csv`: one row per optimizer step, for plots and for comparing runs. */
export class LossHistory {
  private fd: number | null;

  /**
   * Opens `path` for a run. A new run starts the file afresh; a resumed run (`resumeAfterStep`) keeps
   * the rows up to the step its state was saved at and drops the rest, which the run is about to redo.
   */
  constructor(
    readonly path: string,
    options: { resumeAfterStep?: number } = {},
  ) {
    if (options.resumeAfterStep === undefined || !existsSync(path)) {
      writeAtomically(path, `${LOSS_HEADER}\n`);
    } else {
      writeAtomically(path, keptRows(path, options.resumeAfterStep));
    }
    this.fd = openSync(path, "a");
  }

  append(event: ProgressEvent): void {
    if (this.fd === null) throw new Error(`LossHistory: ${this.path} is closed`);
    const row = [event.step, event.epoch, event.loss, event.lr, event.it_per_s].map(String).join(",");
    writeSync(this.fd, `${row}\n`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function keptRows(path: string, lastStep: number): string {
  const [header, ...rows] = readFileSync(path, "utf8").split("\n");
  if (header !== LOSS_HEADER) {
    throw new DanluError(`${path} is not a danlu loss history (its first line is not "${LOSS_HEADER}").`, {
      code: "BAD_HISTORY",
      hint: "Move the file away, or resume into the output folder of the run being resumed.",
    });
  }
  const kept = rows.filter((row) => row !== "" && Number(row.split(",")[0]) <= lastStep);
  return [LOSS_HEADER, ...kept, ""].join("\n");
}

/** Writes a whole file through a temp file in the same folder and a rename (no half-written file). */
function writeAtomically(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, "utf8");
  renameSync(temp, path);
}

/** `train.log`: the engine's stderr and its log events, with timestamps, appended across resumes. */
export class TrainLog {
  private fd: number | null;
  private lastPhase = "";

  /** @param now the clock for timestamps (tests fix it). @defaultValue () => new Date() */
  constructor(
    readonly path: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.fd = openSync(path, "a");
  }

  /** A line the engine wrote on stderr. */
  stderr(line: string): void {
    this.write("stderr", line);
  }

  /** A line from danlu itself (the command, the plan, where files go). */
  note(text: string): void {
    this.write("danlu", text);
  }

  /** An engine event: log messages and milestones are recorded (progress goes to loss.csv instead). */
  event(event: EngineEvent): void {
    const text = describeEvent(event);
    if (event.event === "progress") this.lastPhase = ""; // a phase after training steps is news again
    if (event.event === "phase") {
      if (event.name === this.lastPhase) return; // one line per phase, not one per cached image
      this.lastPhase = event.name;
    }
    if (text !== null) this.write(event.event === "log" ? event.level : event.event, text);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private write(source: string, text: string): void {
    if (this.fd === null) throw new Error(`TrainLog: ${this.path} is closed`);
    const stamp = this.now().toISOString();
    // Multi-line text (a traceback) keeps its lines together under one timestamp, indented.
    const body = text.replace(/\n/g, "\n    ");
    writeSync(this.fd, `${stamp} ${source.padEnd(10)} ${body}\n`);
  }
}

function describeEvent(event: EngineEvent): string | null {
  switch (event.event) {
    case "ready":
      return `engine ${event.engine_version} ready: torch ${event.torch_version}, ${event.device}, ${event.dtype}, pid ${event.pid}`;
    case "phase":
      return formatPhase(event);
    case "log":
      return event.message;
    case "checkpoint":
      return `saved ${event.kind} ${event.path} (epoch ${event.epoch}, step ${event.step})`;
    case "validation":
      return `validation loss ${event.loss} at step ${event.step} (epoch ${event.epoch}, ${event.images} images)`;
    case "sample":
      return `sample ${event.path} (prompt ${event.prompt_index}, epoch ${event.epoch}, step ${event.step})`;
    case "done":
      return `done: ${event.steps} steps in ${event.elapsed_s.toFixed(1)} s; wrote ${event.outputs.length} files`;
    case "cancelled":
      return `cancelled at step ${event.step}; state ${event.state_dir ?? "not saved"}`;
    case "error":
      return `${event.code}: ${event.message}${event.detail ? `\n${event.detail}` : ""}`;
    case "model_cache":
      return event.hit
        ? `base model from the warm engine's cache (${event.load_s.toFixed(2)} s)`
        : `base model loaded in ${event.load_s.toFixed(1)} s and kept by the warm engine (${event.models} models, ${Math.round(event.memory_mb)} MiB)`;
    case "progress":
    case "result":
    case "job": // train-many: run-many.ts routes the inner event to its job
    case "idle":
      return null;
  }
}
