import { LineTail } from "./lines.ts";
import type { EngineEvent } from "./protocol.ts";
import { concludeRun, type RunFailure } from "./run-ending.ts";
import type { EngineCommand, EngineRunBase, EngineRunOptions, EngineRunResult } from "./run-types.ts";

type Event<K extends EngineEvent["event"]> = Extract<EngineEvent, { event: K }>;

/**
 * One job of a warm engine (`serve`): the events between its request and its `idle`, checked in the order
 * EngineProcess checks a one-shot run's, and the same results and errors, with `idle.exit_code` in place
 * of the process's exit code.
 */
export class WarmJob {
  readonly base: EngineRunBase = { ready: null, events: [], lastProgress: null };
  readonly stderrTail: LineTail;
  private outcome: Event<"done" | "cancelled" | "error"> | null = null;
  private result: Event<"result"> | null = null;
  failure: RunFailure = null;
  aborted = false;

  constructor(
    readonly command: EngineCommand,
    readonly options: EngineRunOptions,
    stderrTailLines: number,
  ) {
    this.stderrTail = new LineTail(stderrTailLines);
  }

  /** The job reported its end (done, cancelled or error): nothing left to cancel. */
  get finished(): boolean {
    return this.outcome !== null;
  }

  /** Records an event; a message when it breaks the protocol's order (null when it is fine). */
  accept(event: EngineEvent): string | null {
    const ready = this.base.ready;
    if (event.event === "idle") return "idle is not a job's event";
    const outOfOrder = event.event === "ready" ? ready !== null : ready === null && event.event !== "error";
    if (outOfOrder) {
      const expected = ready ? "exactly one ready event" : `ready first, got ${event.event}`;
      return `The warm engine (${this.command}) broke the protocol: expected ${expected}.`;
    }
    if (event.event === "progress") this.base.lastProgress = event;
    else this.base.events.push(event);
    if (event.event === "ready") this.base.ready = event;
    if (event.event === "result") this.result = event;
    if (event.event === "done" || event.event === "cancelled") this.outcome ??= event;
    if (event.event === "error") this.outcome = event;
    try {
      this.options.onEvent?.(event);
    } catch (error) {
      this.failure ??= { error };
    }
    return null;
  }

  stderrLine(line: string): void {
    this.stderrTail.push(line);
    try {
      this.options.onStderrLine?.(line);
    } catch (error) {
      this.failure ??= { error };
    }
  }

  /** The result once the job ended: `exitCode` from its idle event, or null with `how` when the server died. */
  conclude(exitCode: number | null, how: string | null): EngineRunResult {
    return concludeRun({
      failure: this.failure,
      outcome: this.outcome,
      result: this.result,
      base: this.base,
      exitCode,
      engine: `the warm engine (${this.command})`,
      how: how ?? `ended the job with exit code ${exitCode}`,
      aborted: this.aborted,
      context: { stderrTail: this.stderrTail.get(), logPath: this.options.logPath },
    });
  }
}
