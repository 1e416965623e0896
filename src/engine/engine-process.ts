import { spawn, type ChildProcess } from "node:child_process";
import { describeExit } from "./errors.ts";
import type { EngineProcessFailure } from "./errors.ts";
import { EventLineError, LineTail, forEachLine, parseEventLine } from "./lines.ts";
import type { EngineEvent } from "./protocol.ts";
import { concludeRun, type RunFailure } from "./run-ending.ts";
import type { EngineLauncher } from "./python.ts";
import type {
  EngineCommand,
  EngineRunBase,
  EngineRunOptions,
  EngineRunResult,
  ProcessSettings,
} from "./run-types.ts";

type Event<K extends EngineEvent["event"]> = Extract<EngineEvent, { event: K }>;

/** One engine process from spawn to exit: the state the stdout/stderr/exit handlers share. */
export class EngineProcess {
  private child: ChildProcess | null = null;
  private readonly stderrTail: LineTail;
  private readonly base: EngineRunBase = { ready: null, events: [], lastProgress: null };
  private outcome: Event<"done" | "cancelled" | "error"> | null = null;
  private result: Event<"result"> | null = null;
  private failure: RunFailure = null;
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
    private readonly settings: ProcessSettings,
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
        this.failure = {
          reason: "spawn",
          message: `Could not start the engine (${this.launcher.executable}): ${error.message}`,
        };
        settle(null, null);
      });
      child.on("close", settle);
      forEachLine(child.stdout!, (line) => this.onStdoutLine(line));
      forEachLine(child.stderr!, (line) => this.onStderrLine(line));
      this.timer(this.settings.readyTimeoutMs, () => {
        if (!this.base.ready)
          this.fail(
            "ready-timeout",
            `The engine did not become ready within ${seconds(this.settings.readyTimeoutMs)}.`,
          );
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
    const how = this.sentSigkill
      ? `did not stop within ${seconds(this.settings.killTimeoutMs)} of SIGTERM and was killed (SIGKILL)`
      : describeExit(code, signal);
    return concludeRun({
      failure: this.failure,
      outcome: this.outcome,
      result: this.result,
      base: this.base,
      exitCode: code,
      engine: `the engine (${this.command})`,
      how,
      aborted: this.aborted,
      context: { stderrTail: this.stderrTail.get(), logPath: this.options.logPath },
    });
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
      this.fail(
        "idle-timeout",
        `The engine (${this.command}) wrote no event for ${seconds(idle)} and was presumed hung.`,
      ),
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

/**
 * Engines still running when this process exits (e.g. a second Ctrl-C: "stop at once") get SIGKILL:
 * nothing reads their events any more, and an orphaned engine would hold the GPU and train on unseen.
 */
const liveEngines = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveEngines) child.kill("SIGKILL");
});
