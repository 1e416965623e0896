/**
 * Runs one trainer as a child process and turns what it reports into figures. Both trainers are
 * measured the same way: the parent timestamps the start, the `ready` marker (after the heavy imports)
 * and the first step as their lines arrive; step-to-step intervals come from the child's own clock; peak
 * resident memory is the kernel's high-water mark (VmHWM in /proc/PID/status) of the process that holds
 * the model, polled until it exits. CPU seconds per step (user + system time of that process between the
 * first and the last step, /proc/PID/stat) hardly depend on what else the machine runs, unlike steps/s.
 */
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";

/** What a trainer's output line means to the benchmark (null: nothing). */
export type Marker =
  | { kind: "ready"; pid: number }
  | { kind: "phase"; name: string }
  | { kind: "peak_rss"; mb: number } // the child's own getrusage figure, reported as it exits
  | { kind: "step"; step: number; t: number; memoryMb: number | null }; // t: seconds, the child's clock
export type LineParser = (line: string, stream: "stdout" | "stderr") => Marker | null;

export interface RunSpec {
  trainer: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Images per optimizer step (images/s = steps/s x this). */
  batch: number;
  parse: LineParser;
  /** Everything the child writes goes here. */
  logPath: string;
}

export interface RunFigures {
  trainer: string;
  steps: number;
  wallS: number;
  /** From spawning the process to the end of the first optimizer step. */
  firstStepFromStartS: number;
  /** From the ready marker (imports done, before the model loads) to the end of the first step. */
  firstStepFromReadyS: number;
  /** Steady state: steps 2..N over the child's clock (the first step carries one-off warm-up costs). */
  stepsPerS: number;
  /** CPU time (user + system, all threads) of the training process per step, steps 2..N; null if unread. */
  cpuSPerStep: number | null;
  imagesPerS: number;
  peakRssMb: number | null;
  peakGpuMb: number | null;
  /** Seconds from start at which each phase began (danlu's engine reports them; sd-scripts does not). */
  phases: { name: string; atS: number }[];
}

const POLL_MS = 200;
/** Kernel clock ticks per second, the unit of /proc/PID/stat times (100 on Linux unless configured). */
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** User + system CPU seconds the process has used so far, or null when it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields 3.. (the name may hold spaces)
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime: fields 14 and 15
  } catch {
    return null;
  }
}

/** The process's peak resident set in MiB so far, or null when it is gone. */
export function peakRssMb(pid: number): number | null {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match?.[1] ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

interface Observed {
  readyAt: number | null;
  pid: number | null;
  steps: { step: number; t: number; at: number; memoryMb: number | null; cpuS: number | null }[];
  phases: { name: string; atS: number }[];
  peakRss: number | null;
}

function observe(observed: Observed, marker: Marker, now: number): void {
  if (marker.kind === "ready") [observed.readyAt, observed.pid] = [now, marker.pid];
  else if (marker.kind === "phase") observed.phases.push({ name: marker.name, atS: now });
  else if (marker.kind === "peak_rss") observed.peakRss = Math.max(observed.peakRss ?? 0, marker.mb);
  else
    observed.steps.push({
      ...marker,
      at: now,
      cpuS: observed.pid === null ? null : cpuSeconds(observed.pid),
    });
}

function sampleRss(observed: Observed): void {
  if (observed.pid === null) return;
  const rss = peakRssMb(observed.pid);
  if (rss !== null) observed.peakRss = Math.max(observed.peakRss ?? 0, rss);
}

/** Runs the child to the end; rejects when it exits non-zero or reports fewer than two steps. */
export async function measureRun(spec: RunSpec): Promise<RunFigures> {
  const log = createWriteStream(spec.logPath);
  const started = performance.now();
  const seconds = (): number => (performance.now() - started) / 1000;
  const child = spawn(spec.command, spec.args, {
    env: spec.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const observed: Observed = { readyAt: null, pid: null, steps: [], phases: [], peakRss: null };
  for (const stream of ["stdout", "stderr"] as const) {
    createInterface({ input: child[stream] }).on("line", (line) => {
      log.write(`${line}\n`);
      const marker = spec.parse(line, stream);
      if (!marker) return;
      observe(observed, marker, seconds());
      sampleRss(observed);
    });
  }
  const poll = setInterval(() => sampleRss(observed), POLL_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (exitCode) => resolve(exitCode));
  });
  const wallS = seconds();
  clearInterval(poll);
  await new Promise((resolve) => log.end(resolve));
  if (code !== 0) throw new Error(`${spec.trainer} exited with ${code}; its output is in ${spec.logPath}`);
  return figures(spec, observed, wallS);
}

function figures(spec: RunSpec, observed: Observed, wallS: number): RunFigures {
  const { steps, readyAt } = observed;
  const first = steps[0];
  const last = steps.at(-1);
  if (!first || !last || steps.length < 2 || readyAt === null) {
    throw new Error(
      `${spec.trainer} reported ${steps.length} steps (ready: ${readyAt !== null}); see ${spec.logPath}`,
    );
  }
  const stepsPerS = (steps.length - 1) / (last.t - first.t);
  const cpuSPerStep =
    first.cpuS !== null && last.cpuS !== null ? (last.cpuS - first.cpuS) / (steps.length - 1) : null;
  const gpu = steps.map((s) => s.memoryMb).filter((m): m is number => m !== null);
  return {
    trainer: spec.trainer,
    steps: steps.length,
    wallS,
    firstStepFromStartS: first.at,
    firstStepFromReadyS: first.at - readyAt,
    stepsPerS,
    cpuSPerStep,
    imagesPerS: stepsPerS * spec.batch,
    peakRssMb: observed.peakRss,
    peakGpuMb: gpu.length ? Math.max(...gpu) : null,
    phases: observed.phases,
  };
}
