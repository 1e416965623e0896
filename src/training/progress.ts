import type { EngineEvent, PHASES, ProgressEvent } from "../engine/protocol.ts";

type PhaseName = (typeof PHASES)[number];
type PhaseEvent = Extract<EngineEvent, { event: "phase" }>;

/** "45s", "3m32s", "1h05m", "2d03h"; "?" when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** Seconds left at the current speed (optimizer steps per second); null while the speed is unknown. */
export function remainingSeconds(step: number, totalSteps: number, itPerS: number): number | null {
  if (!(itPerS > 0)) return null;
  return Math.max(0, totalSteps - step) / itPerS;
}

/**
 * Exponential moving average of the loss with bias correction (the first values are not pulled toward 0):
 * the per-step diffusion loss is noisy (it depends on the random timestep), its trend is what matters.
 */
export class LossEma {
  private average = 0;
  private weight = 0;

  /** @param beta how much of the past each step keeps. @defaultValue 0.95 (about the last 20 steps) */
  constructor(private readonly beta = 0.95) {
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`LossEma: beta ${beta} must be in [0, 1)`);
  }

  update(loss: number): number {
    this.average = this.beta * this.average + (1 - this.beta) * loss;
    this.weight = this.beta * this.weight + (1 - this.beta);
    return this.average / this.weight;
  }
}

/** "1.0e-4" (learning rates span decades; one decimal of mantissa is enough to follow a schedule). */
export function formatLearningRate(lr: number): string {
  if (lr === 0) return "0";
  const [mantissa, exponent] = lr.toExponential(1).split("e");
  return `${mantissa}e${exponent?.replace("+", "")}`;
}

/** MiB -> "512 MiB" or "6.8 GiB". */
export function formatMemory(mib: number): string {
  return mib < 1024 ? `${Math.round(mib)} MiB` : `${(mib / 1024).toFixed(1)} GiB`;
}

/** "3.21 it/s", or "2.50 s/it" when a step takes more than a second (easier to read than 0.40 it/s). */
export function formatSpeed(itPerS: number): string {
  if (!(itPerS > 0)) return "? it/s";
  return itPerS >= 1 ? `${itPerS.toFixed(2)} it/s` : `${(1 / itPerS).toFixed(2)} s/it`;
}

export function formatLoss(loss: number): string {
  if (!Number.isFinite(loss)) return String(loss);
  return Math.abs(loss) >= 1000 ? loss.toPrecision(4) : loss.toFixed(4);
}

/** `step 120/800 | loss 0.1234 [| val 0.1302] | lr 1.0e-4 | 3.21 it/s | ETA 3m32s | GPU 6.8 GiB | epoch 2/10` */
export function formatProgressLine(
  event: ProgressEvent,
  smoothedLoss: number,
  totalEpochs: number | null,
  validationLoss: number | null = null,
): string {
  const parts = [
    `step ${event.step}/${event.total_steps}`,
    `loss ${formatLoss(smoothedLoss)}`,
    ...(validationLoss === null ? [] : [`val ${formatLoss(validationLoss)}`]),
    `lr ${formatLearningRate(event.lr)}`,
    formatSpeed(event.it_per_s),
    `ETA ${formatDuration(remainingSeconds(event.step, event.total_steps, event.it_per_s))}`,
  ];
  if (event.memory_mb !== null) parts.push(`GPU ${formatMemory(event.memory_mb)}`);
  parts.push(totalEpochs ? `epoch ${event.epoch}/${totalEpochs}` : `epoch ${event.epoch}`);
  return parts.join(" | ");
}

const PHASE_LABELS: Record<PhaseName, string> = {
  load_model: "loading model",
  cache_latents: "caching latents",
  cache_text: "caching text embeddings",
  train: "training",
  sample: "sampling images",
  save: "saving",
};

/** "loading model", "caching latents 12/40". */
export function formatPhase(event: PhaseEvent): string {
  const count = event.current !== null && event.total !== null ? ` ${event.current}/${event.total}` : "";
  return `${PHASE_LABELS[event.name]}${count}`;
}

/** Where the progress line goes: a terminal (rewritten in place) or a log/pipe (plain lines). */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** @defaultValue process.stderr */
  stream?: ProgressStream;
  /** The run's epochs, for "epoch 2/10"; null shows "epoch 2". @defaultValue null */
  totalEpochs?: number | null;
  /** Without a TTY: a plain line at least this often (seconds) while steps advance. @defaultValue 30 */
  plainEverySeconds?: number;
  /** Without a TTY: also a plain line every this many steps; 0 = by time only. @defaultValue 0 */
  plainEverySteps?: number;
  /** Milliseconds clock, replaceable in tests. @defaultValue Date.now */
  now?: () => number;
}

/** On a TTY, redraws at most this often: the engine may report many steps per second. */
const TTY_REDRAW_MS = 100;

/** A live progress display fed with engine events (the caller prints logs through `note`). */
export class ProgressRenderer {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly ema = new LossEma();
  private readonly now: () => number;
  private shown = ""; // what the TTY line shows now ("" = nothing)
  private lastDrawMs = -Infinity;
  private lastPlain = { ms: -Infinity, step: -1, text: "" };
  private lastProgressLine = "";
  private validationLoss: number | null = null; // the latest validation loss, shown after the loss

  constructor(private readonly options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.now = options.now ?? Date.now;
  }

  update(event: EngineEvent): void {
    if (event.event === "validation") this.validationLoss = event.loss;
    if (event.event === "progress") this.onProgress(event);
    else if (event.event === "phase" && event.name !== "train") this.onPhase(event);
  }

  /** Prints a whole line (a log message, a checkpoint) above the live line. */
  note(text: string): void {
    const current = this.shown;
    this.clear();
    this.stream.write(`${text}\n`);
    if (current) this.draw(current, true);
  }

  /** Clears the live line (TTY); without a TTY, prints the last progress line if it was not printed yet. */
  finish(): void {
    if (this.tty) this.clear();
    else if (this.lastProgressLine && this.lastPlain.text !== this.lastProgressLine)
      this.plain(this.lastProgressLine, -1);
  }

  private onProgress(event: ProgressEvent): void {
    const line = formatProgressLine(
      event,
      this.ema.update(event.loss),
      this.options.totalEpochs ?? null,
      this.validationLoss,
    );
    this.lastProgressLine = line;
    const last = event.step >= event.total_steps;
    if (this.tty) {
      this.draw(line, last);
      return;
    }
    const everySteps = this.options.plainEverySteps ?? 0;
    const dueBySteps = everySteps > 0 && event.step - this.lastPlain.step >= everySteps;
    const dueByTime = this.now() - this.lastPlain.ms >= (this.options.plainEverySeconds ?? 30) * 1000;
    const first = this.lastPlain.step < 0; // the first step shows at once that training has begun
    if (first || last || dueBySteps || dueByTime) this.plain(line, event.step);
  }

  private onPhase(event: PhaseEvent): void {
    const text = formatPhase(event);
    const done = event.current !== null && event.current === event.total;
    if (this.tty) {
      this.draw(text, done);
      return;
    }
    // One line when a phase starts, then at most one per interval, and one at its end.
    const started = !this.lastPlain.text.startsWith(PHASE_LABELS[event.name]);
    const due = this.now() - this.lastPlain.ms >= (this.options.plainEverySeconds ?? 30) * 1000;
    if (started || due || done) this.plain(text, this.lastPlain.step);
  }

  private draw(text: string, force: boolean): void {
    const nowMs = this.now();
    if (!force && nowMs - this.lastDrawMs < TTY_REDRAW_MS) return;
    const width = (this.stream.columns ?? 80) - 1; // the last column would wrap on some terminals
    const fitted = text.length > width ? text.slice(0, width) : text;
    this.stream.write(`\r${fitted}\x1b[K`);
    this.shown = text;
    this.lastDrawMs = nowMs;
  }

  private clear(): void {
    if (!this.tty || !this.shown) return;
    this.stream.write("\r\x1b[K");
    this.shown = "";
  }

  private plain(text: string, step: number): void {
    this.stream.write(`${text}\n`);
    this.lastPlain = { ms: this.now(), step, text };
  }
}
