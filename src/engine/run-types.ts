import type { EngineEvent } from "./protocol.ts";
import type { EngineLauncher } from "./python.ts";

/** The engine's commands (`python -m danlu_engine <command> <spec.json>`). */
export type EngineCommand =
  | "make-tiny"
  | "info"
  | "doctor"
  | "train"
  | "train-many"
  | "generate"
  | "lora-resize"
  | "lora-merge"
  | "lora-bake"
  | "lora-extract";

type Event<K extends EngineEvent["event"]> = Extract<EngineEvent, { event: K }>;

export interface EngineRunOptions {
  /** Called for every event, in order (`ready` first). If it throws, the engine is stopped and the run rejects with that error. */
  onEvent?: (event: EngineEvent) => void;
  /** Called for every line the engine writes on stderr (plain log text), e.g. to keep a log file. */
  onStderrLine?: (line: string) => void;
  /** Aborting cancels the run: SIGTERM (the engine saves a resumable state and exits), then SIGKILL after `killTimeoutMs`. */
  signal?: AbortSignal;
  /** Where to write the spec JSON, kept after the run. @defaultValue a temp file, removed when the run ends */
  specPath?: string;
  /** Milliseconds from start to the `ready` handshake; torch alone takes ~5 s to import on two busy cores. @defaultValue 120_000 (1 ms to 1 h) */
  readyTimeoutMs?: number;
  /** Milliseconds without any event, after `ready`, before the engine is presumed hung and stopped. @defaultValue undefined: no limit (1 ms to 24 h) */
  idleTimeoutMs?: number;
  /** Milliseconds between SIGTERM and SIGKILL; saving a training state can take a while. @defaultValue 60_000 (1 ms to 1 h) */
  killTimeoutMs?: number;
  /** How many of the last stderr lines go into error messages. @defaultValue 30 (0 to 1000) */
  stderrTailLines?: number;
  /** Where the caller keeps the engine's log; named in error messages. */
  logPath?: string;
  /** How to start the engine (tests use fake engines). @defaultValue engineLauncher(): `.venv/bin/python -m danlu_engine` */
  launcher?: EngineLauncher;
  /** Working directory of the engine process. @defaultValue process.cwd() */
  cwd?: string;
  /**
   * A warm engine (warm-engine.ts) to run train and generate jobs in, keeping base models loaded between
   * jobs; null: always a new process. Ignored when `launcher` is given (several processes stay one-shot).
   * @defaultValue the process default (useWarmEngine in driver.ts), else none
   */
  warm?: WarmRunner | null;
}

/** What runEngine needs of a warm engine: run one job with the settings it checked. */
export interface WarmRunner {
  run(
    command: EngineCommand,
    spec: unknown,
    options: EngineRunOptions,
    settings: ProcessSettings,
  ): Promise<EngineRunResult>;
}

export interface EngineRunBase {
  /** The handshake (null only when a cancel arrived before it). */
  ready: Event<"ready"> | null;
  /** Every event except `progress` (callers see those through onEvent), in order. */
  events: EngineEvent[];
  lastProgress: Event<"progress"> | null;
}
export interface EngineDone extends EngineRunBase {
  status: "done";
  outputs: string[];
  steps: number;
  elapsedS: number;
  /** The `result` event's data: the command's answer (null when the command writes none). */
  data: Record<string, unknown> | null;
}
export interface EngineCancelled extends EngineRunBase {
  status: "cancelled";
  /** Where the engine saved a resumable state (null: nothing to save yet). */
  stateDir: string | null;
  step: number;
}
export type EngineRunResult = EngineDone | EngineCancelled;

/** The options after defaults and range checks. */
export interface ProcessSettings {
  readyTimeoutMs: number;
  idleTimeoutMs: number | null;
  killTimeoutMs: number;
  stderrTailLines: number;
}
