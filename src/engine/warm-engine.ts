import { spawn, type ChildProcess } from "node:child_process";
import { DanluError } from "../errors.ts";
import { EngineCancelledError, EngineProcessError, describeExit } from "./errors.ts";
import type { EngineProcessFailure } from "./errors.ts";
import { EventLineError, forEachLine, parseEventLine } from "./lines.ts";
import type { EngineEvent } from "./protocol.ts";
import { engineLauncher, type EngineLauncher } from "./python.ts";
import type {
  EngineCommand,
  EngineRunOptions,
  EngineRunResult,
  ProcessSettings,
  WarmRunner,
} from "./run-types.ts";
import { WarmJob } from "./warm-job.ts";

export interface WarmEngineOptions {
  /** How to start the engine; `serve` is added to its arguments. @defaultValue engineLauncher() */
  launcher?: EngineLauncher;
  /** Working directory of the engine process. @defaultValue process.cwd() */
  cwd?: string;
  /** MiB of base-model parameters kept between jobs (the engine's DANLU_WARM_BUDGET_MB). @defaultValue the engine's: 0.8 of the GPU's memory, half the machine's without one (0 to 10^7) */
  memoryBudgetMb?: number;
  /** Milliseconds from spawn to the engine's first `idle`. @defaultValue 120_000 (1 ms to 1 h) */
  startTimeoutMs?: number;
  /** stderr lines written between jobs (a job's go to its own onStderrLine). */
  onStderrLine?: (line: string) => void;
}

/**
 * A long-lived engine (`python -m danlu_engine serve`) that keeps base models loaded between jobs: give it
 * to runEngine as `warm` (or make it the process default with useWarmEngine). Jobs run one at a time, in
 * order; each resolves and rejects as a one-shot runEngine does. A crashed engine fails its job and is
 * started again for the next one. `close()` ends it (EOF on its stdin).
 */
export class WarmEngine implements WarmRunner {
  private server: ServeProcess | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: WarmEngineOptions = {}) {
    const budget = options.memoryBudgetMb;
    if (budget !== undefined && !(budget >= 0 && budget <= 1e7)) {
      throw new DanluError(`WarmEngine: memoryBudgetMb=${budget} is not a number of MiB in [0, 10^7].`, {
        code: "INVALID_OPTION",
      });
    }
  }

  /** The engine's process id (null before the first job or after a crash). */
  get pid(): number | null {
    return this.server && !this.server.dead ? (this.server.child.pid ?? null) : null;
  }

  run(
    command: EngineCommand,
    spec: unknown,
    options: EngineRunOptions,
    settings: ProcessSettings,
  ): Promise<EngineRunResult> {
    const next = this.queue.then(async () => {
      if (this.closed) throw new DanluError("This warm engine was closed.", { code: "ENGINE_CLOSED" });
      if (!this.server || this.server.dead) this.server = new ServeProcess(this.options);
      await this.server.started;
      if (options.signal?.aborted) throw new EngineCancelledError("Cancelled before the engine started.");
      return this.server.job(command, spec, options, settings);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Ends the engine after the jobs already given to it; SIGKILL if it has not exited after `timeoutMs`. */
  async close(timeoutMs = 30_000): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.server?.end(timeoutMs);
  }
}

/** One `serve` process: its start, the job now running, its end. */
class ServeProcess {
  readonly child: ChildProcess;
  readonly started: Promise<void>;
  dead = false;
  private onStarted: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private current: {
    job: WarmJob;
    settle: (exitCode: number | null, how: string | null) => void;
    stop: () => void;
    onReady: () => void;
    activity: () => void;
  } | null = null;
  private exited: Promise<void>;

  constructor(private readonly options: WarmEngineOptions) {
    const launcher = options.launcher ?? engineLauncher();
    const budget = options.memoryBudgetMb;
    this.child = spawn(launcher.executable, [...launcher.args, "serve"], {
      cwd: options.cwd,
      env: {
        ...process.env,
        ...launcher.env,
        ...(budget === undefined ? {} : { DANLU_WARM_BUDGET_MB: String(budget) }),
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    liveServers.add(this.child);
    this.child.stdin!.on("error", () => undefined); // a dead engine: its close event reports it
    this.started = new Promise((resolve, reject) => (this.onStarted = { resolve, reject }));
    this.started.catch(() => undefined);
    const startTimer = setTimeout(
      () => this.fatal(`The warm engine did not start within ${options.startTimeoutMs ?? 120_000} ms.`),
      options.startTimeoutMs ?? 120_000,
    );
    this.exited = new Promise((resolve) => {
      this.child.on("error", (error) => {
        if (this.child.pid === undefined) this.ended(null, null, `could not be started: ${error.message}`);
        resolve();
      });
      this.child.on("close", (code, signal) => {
        clearTimeout(startTimer);
        this.ended(code, signal, null);
        resolve();
      });
    });
    this.started.then(
      () => clearTimeout(startTimer),
      () => clearTimeout(startTimer),
    );
    forEachLine(this.child.stdout!, (line) => this.onStdoutLine(line));
    forEachLine(this.child.stderr!, (line) => {
      if (this.current) this.current.job.stderrLine(line);
      else options.onStderrLine?.(line);
    });
  }

  job(
    command: EngineCommand,
    spec: unknown,
    options: EngineRunOptions,
    settings: ProcessSettings,
  ): Promise<EngineRunResult> {
    return new Promise((resolve, reject) => {
      const job = new WarmJob(command, options, settings.stderrTailLines);
      const timers = new Set<NodeJS.Timeout>();
      const timer = (ms: number, callback: () => void) => {
        const t = setTimeout(callback, ms);
        timers.add(t);
        return t;
      };
      let stopping = false;
      let killed = false;
      const stop = () => {
        // SIGTERM: the job saves its state and ends (the engine stays); SIGKILL if it does not in time
        // a job that reported its end is only writing idle: a SIGTERM now would end the idle server
        if (stopping || this.dead || job.finished) return;
        stopping = true;
        this.child.kill("SIGTERM");
        timer(settings.killTimeoutMs, () => {
          killed = true;
          this.child.kill("SIGKILL");
        });
      };
      const fail = (reason: EngineProcessFailure, message: string) => {
        job.failure ??= { reason, message };
        if (job.base.ready) stop();
        else this.child.kill("SIGKILL"); // not yet in the job: a SIGTERM would end the server anyway
      };
      const onAbort = () => {
        job.aborted = true;
        if (job.base.ready) stop(); // before ready, the engine may not be in the job yet: wait for ready
      };
      let idleTimer: NodeJS.Timeout | null = null;
      const activity = () => {
        if (job.failure && job.base.ready) stop();
        if (settings.idleTimeoutMs === null || stopping) return;
        if (idleTimer) clearTimeout(idleTimer);
        idleTimer = timer(settings.idleTimeoutMs, () =>
          fail(
            "idle-timeout",
            `The warm engine (${command}) wrote no event for ${settings.idleTimeoutMs} ms.`,
          ),
        );
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      timer(settings.readyTimeoutMs, () => {
        if (!job.base.ready)
          fail(
            "ready-timeout",
            `The warm engine did not start the job within ${settings.readyTimeoutMs} ms.`,
          );
      });
      const settle = (exitCode: number | null, how: string | null) => {
        for (const t of timers) clearTimeout(t);
        options.signal?.removeEventListener("abort", onAbort);
        this.current = null;
        const died =
          how ?? (killed ? `was killed (SIGKILL) ${settings.killTimeoutMs} ms after SIGTERM` : null);
        try {
          resolve(job.conclude(exitCode, died));
        } catch (error) {
          reject(error);
        }
      };
      const onReady = () => {
        if (job.aborted || job.failure) stop();
      };
      this.current = { job, settle, stop, onReady, activity };
      this.child.stdin!.write(`${JSON.stringify({ command, spec })}\n`);
    });
  }

  private onStdoutLine(line: string): void {
    let event: EngineEvent;
    try {
      event = parseEventLine(line);
    } catch (error) {
      if (!(error instanceof EventLineError)) throw error;
      this.fatal(`The warm engine failed: ${error.message}`);
      return;
    }
    const current = this.current;
    if (event.event === "idle") {
      if (this.onStarted) {
        this.onStarted.resolve();
        this.onStarted = null;
      } else if (current) current.settle(event.exit_code, null);
      else this.fatal("The warm engine reported idle twice.");
      return;
    }
    if (!current) {
      this.fatal(`The warm engine wrote ${event.event} outside a job.`);
      return;
    }
    const problem = current.job.accept(event);
    if (problem) {
      current.job.failure ??= { reason: "protocol", message: problem };
      this.child.kill("SIGKILL");
      return;
    }
    if (event.event === "ready") current.onReady();
    current.activity();
  }

  /** The engine broke the protocol or hung before serving: kill it; its job and start fail. */
  private fatal(message: string): void {
    this.onStarted?.reject(new EngineProcessError("protocol", message, { stderrTail: [] }));
    this.onStarted = null;
    if (this.current) this.current.job.failure ??= { reason: "protocol", message };
    this.child.kill("SIGKILL");
  }

  private ended(code: number | null, signal: NodeJS.Signals | null, spawnError: string | null): void {
    if (this.dead) return;
    this.dead = true;
    liveServers.delete(this.child);
    const how = spawnError ?? describeExit(code, signal);
    this.onStarted?.reject(
      new EngineProcessError(spawnError ? "spawn" : "crash", `The warm engine ${how} before serving.`, {
        stderrTail: [],
      }),
    );
    this.onStarted = null;
    this.current?.settle(null, how);
  }

  async end(timeoutMs: number): Promise<void> {
    if (this.dead) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Warm engines still running when this process exits get SIGKILL (nothing would read their events). */
const liveServers = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveServers) child.kill("SIGKILL");
});
