import { spawn, type ChildProcess } from "node:child_process";
import type { z } from "zod";
import { DanluError } from "../errors.ts";
import { EngineCancelledError, EngineFailure, EngineProcessError, describeExit } from "./errors.ts";
import type { EngineProcessFailure } from "./errors.ts";
import { EventLineError, LineTail, forEachLine, parseEventLine } from "./lines.ts";
import { ENGINE_EXIT, type EngineEvent } from "./protocol.ts";
import { engineLauncher, type EngineLauncher } from "./python.ts";
import { makeTinySpec, modelInfoSpec, trainSpec } from "./spec.ts";
import { writeSpecFile } from "./spec-file.ts";

const SPEC_SCHEMAS = { "make-tiny": makeTinySpec, info: modelInfoSpec, train: trainSpec } as const;
export type EngineCommand = keyof typeof SPEC_SCHEMAS;
export type SpecFor<C extends EngineCommand> = z.input<(typeof SPEC_SCHEMAS)[C]>;

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
}

interface EngineRunBase {
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

const HOUR_MS = 3_600_000;

function checkedOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < min || chosen > max) {
    throw new DanluError(`runEngine: option ${name}=${chosen} is not an integer in [${min}, ${max}].`, {
      code: "INVALID_OPTION",
    });
  }
  return chosen;
}

/**
 * Runs `python -m danlu_engine <command> <spec.json>` and follows its events to the end. Resolves with
 * the outputs (`done`) or a cancelled result (`cancelled`, after `signal` aborted); rejects with
 * EngineFailure (an `error` event), EngineProcessError (crash, hang, no handshake, bad stdout) or
 * EngineCancelledError (cancelled, but the engine had to be killed).
 */
export async function runEngine<C extends EngineCommand>(
  command: C,
  spec: SpecFor<C>,
  options: EngineRunOptions = {},
): Promise<EngineRunResult> {
  const settings = {
    readyTimeoutMs: checkedOption("readyTimeoutMs", options.readyTimeoutMs, 120_000, 1, HOUR_MS),
    idleTimeoutMs: options.idleTimeoutMs === undefined ? null : checkedOption("idleTimeoutMs", options.idleTimeoutMs, 0, 1, 24 * HOUR_MS),
    killTimeoutMs: checkedOption("killTimeoutMs", options.killTimeoutMs, 60_000, 1, HOUR_MS),
    stderrTailLines: checkedOption("stderrTailLines", options.stderrTailLines, 30, 0, 1000),
  };
  const checked = SPEC_SCHEMAS[command].safeParse(spec);
  if (!checked.success) {
    throw new DanluError(`The ${command} spec danlu built is invalid: ${checked.error.message}`, {
      code: "BAD_SPEC",
      hint: "This is a bug in danlu: please report it.",
    });
  }
  if (options.signal?.aborted) throw new EngineCancelledError("Cancelled before the engine started.");
  const launcher = options.launcher ?? engineLauncher();
  const specFile = await writeSpecFile(checked.data, options.specPath);
  try {
    return await new EngineProcess(command, specFile.path, launcher, options, settings).run();
  } finally {
    await specFile.cleanup();
  }
}

type Settings = { readyTimeoutMs: number; idleTimeoutMs: number | null; killTimeoutMs: number; stderrTailLines: number };

/** One engine process from spawn to exit: the state the stdout/stderr/exit handlers share. */
class EngineProcess {
  private child: ChildProcess | null = null;
  private readonly stderrTail: LineTail;
  private readonly base: EngineRunBase = { ready: null, events: [], lastProgress: null };
  private outcome: Event<"done" | "cancelled" | "error"> | null = null;
  private result: Event<"result"> | null = null;
  private failure: { reason: EngineProcessFailure; message: string } | { error: unknown } | null = null;
  private aborted = false;
  private stopping = false;
  private sentSigkill = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly command: EngineCommand,
    private readonly specPath: string,
    private readonly launcher: EngineLauncher,
    private readonly options: EngineRunOptions,
    private readonly settings: Settings,
  ) {
    this.stderrTail = new LineTail(settings.stderrTailLines);
  }

  run(): Promise<EngineRunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.launcher.executable, [...this.launcher.args, this.command, this.specPath], {
        cwd: this.options.cwd,
        env: { ...process.env, ...this.launcher.env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      this.child = child;
      liveEngines.add(child);
      const onAbort = () => {
        this.aborted = true;
        this.stop();
      };
      this.options.signal?.addEventListener("abort", onAbort, { once: true });
      let settled = false;
      const settle = (code: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return;
        settled = true;
        for (const timer of this.timers) clearTimeout(timer);
        liveEngines.delete(child);
        this.options.signal?.removeEventListener("abort", onAbort);
        try {
          resolve(this.conclude(code, signal));
        } catch (error) {
          reject(error);
        }
      };
      child.on("error", (error) => {
        // Only a failed spawn settles here; other errors (a failed kill) are followed by "close".
        if (child.pid !== undefined) return;
        this.failure = { reason: "spawn", message: `Could not start the engine (${this.launcher.executable}): ${error.message}` };
        settle(null, null);
      });
      child.on("close", settle);
      forEachLine(child.stdout!, (line) => this.onStdoutLine(line));
      forEachLine(child.stderr!, (line) => this.onStderrLine(line));
      this.timer(this.settings.readyTimeoutMs, () => {
        if (!this.base.ready) this.fail("ready-timeout", `The engine did not become ready within ${seconds(this.settings.readyTimeoutMs)}.`);
      });
    });
  }

  private onStdoutLine(line: string): void {
    if (this.failure) return; // stopping: later lines cannot change the outcome
    let event: EngineEvent;
    try {
      event = parseEventLine(line);
    } catch (error) {
      if (!(error instanceof EventLineError)) throw error;
      this.fail("protocol", `The engine (${this.command}) failed: ${error.message}`);
      return;
    }
    if (!this.accept(event)) return;
    this.resetIdleTimer();
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.failWith(error);
    }
  }

  /** Records an event; false (and the run fails) when it breaks the protocol's order. */
  private accept(event: EngineEvent): boolean {
    const ready = this.base.ready;
    // `ready` comes first and once; only an `error` (e.g. an unreadable spec) may come before it.
    const outOfOrder = event.event === "ready" ? ready !== null : ready === null && event.event !== "error";
    if (outOfOrder) {
      const expected = ready ? "exactly one ready event" : `ready first, got ${event.event}`;
      this.fail("protocol", `The engine (${this.command}) broke the protocol: expected ${expected}.`);
      return false;
    }
    if (event.event === "progress") this.base.lastProgress = event;
    else this.base.events.push(event);
    if (event.event === "ready") this.base.ready = event;
    if (event.event === "result") this.result = event;
    if (event.event === "done" || event.event === "cancelled") this.outcome ??= event;
    if (event.event === "error") this.outcome = event; // an error outranks an earlier done
    return true;
  }

  private onStderrLine(line: string): void {
    this.stderrTail.push(line);
    try {
      this.options.onStderrLine?.(line);
    } catch (error) {
      this.failWith(error);
    }
  }

  private conclude(code: number | null, signal: NodeJS.Signals | null): EngineRunResult {
    const context = { stderrTail: this.stderrTail.get(), logPath: this.options.logPath };
    if (this.failure) {
      if ("error" in this.failure) throw this.failure.error;
      throw new EngineProcessError(this.failure.reason, this.failure.message, context);
    }
    const outcome = this.outcome;
    if (outcome?.event === "error") throw new EngineFailure(outcome.code, outcome.message, outcome.detail, context);
    if (outcome?.event === "cancelled" && code === ENGINE_EXIT.CANCELLED) {
      return { ...this.base, status: "cancelled", stateDir: outcome.state_dir, step: outcome.step };
    }
    if (outcome?.event === "done" && code === ENGINE_EXIT.OK) {
      const data = this.result?.data ?? null;
      return { ...this.base, status: "done", outputs: outcome.outputs, steps: outcome.steps, elapsedS: outcome.elapsed_s, data };
    }
    const how = this.sentSigkill
      ? `did not stop within ${seconds(this.settings.killTimeoutMs)} of SIGTERM and was killed (SIGKILL)`
      : describeExit(code, signal);
    if (this.aborted) throw new EngineCancelledError(`Cancelled: the engine (${this.command}) ${how}; no resumable state was saved.`);
    const after = outcome ? ` after reporting ${outcome.event}` : " without reporting an error";
    throw new EngineProcessError("crash", `The engine (${this.command}) ${how}${after}.`, context);
  }

  private fail(reason: EngineProcessFailure, message: string): void {
    this.failure ??= { reason, message };
    this.stop();
  }

  private failWith(error: unknown): void {
    this.failure ??= { error };
    this.stop();
  }

  /** SIGTERM now (the engine saves state and exits), SIGKILL if it is still running after killTimeoutMs. */
  private stop(): void {
    if (this.stopping || !this.child) return;
    this.stopping = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const child = this.child;
    child.kill("SIGTERM");
    this.timer(this.settings.killTimeoutMs, () => {
      this.sentSigkill = true;
      child.kill("SIGKILL");
    });
  }

  private resetIdleTimer(): void {
    const idle = this.settings.idleTimeoutMs;
    if (idle === null || this.stopping) return;
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.timers.delete(this.idleTimer);
    }
    this.idleTimer = this.timer(idle, () =>
      this.fail("idle-timeout", `The engine (${this.command}) wrote no event for ${seconds(idle)} and was presumed hung.`),
    );
  }

  private timer(ms: number, callback: () => void): NodeJS.Timeout {
    const timer = setTimeout(callback, ms);
    this.timers.add(timer);
    return timer;
  }
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/** Engines still running when this process exits get SIGTERM (an orphaned engine would train on unseen). */
const liveEngines = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveEngines) child.kill("SIGTERM");
});
