/** Text for the figures: one table row per run, then danlu / kohya ratios per round and their median. */
import type { RunFigures } from "./measure.ts";

const fixed = (value: number | null, digits: number): string =>
  value === null ? "-" : value.toFixed(digits);

export const RUN_HEADER =
  "| run | trainer | steps | steps/s | images/s | first step from start (s) | from ready (s) | peak RSS (MiB) | peak GPU (MiB) | wall (s) |";

export function runRow(index: number, run: RunFigures): string {
  return `| ${index} | ${run.trainer} | ${run.steps} | ${fixed(run.stepsPerS, 3)} | ${fixed(run.imagesPerS, 3)} | ${fixed(
    run.firstStepFromStartS,
    1,
  )} | ${fixed(run.firstStepFromReadyS, 1)} | ${fixed(run.peakRssMb, 0)} | ${fixed(run.peakGpuMb, 0)} | ${fixed(run.wallS, 1)} |`;
}

export function runTable(runs: RunFigures[]): string {
  const rule = RUN_HEADER.replace(/[^|]+/g, "---");
  return [RUN_HEADER, rule, ...runs.map((run, i) => runRow(i + 1, run))].join("\n");
}

/** When the engine's phases began, relative to the first step (where the time to first step goes). */
export function phaseLine(run: RunFigures): string | null {
  if (!run.phases.length) return null;
  const firsts = run.phases.filter((phase, i) => run.phases.findIndex((p) => p.name === phase.name) === i);
  const parts = firsts.map((phase) => `${phase.name} at ${phase.atS.toFixed(1)} s`);
  return `${run.trainer} phases: ${parts.join(", ")}; first step done at ${run.firstStepFromStartS.toFixed(1)} s`;
}

export interface Ratios {
  stepsPerS: number;
  firstStepFromStart: number;
  firstStepFromReady: number;
  peakRss: number | null;
}

/** danlu / kohya for one (danlu, kohya) pair measured back to back. */
export function ratios(danlu: RunFigures, kohya: RunFigures): Ratios {
  return {
    stepsPerS: danlu.stepsPerS / kohya.stepsPerS,
    firstStepFromStart: danlu.firstStepFromStartS / kohya.firstStepFromStartS,
    firstStepFromReady: danlu.firstStepFromReadyS / kohya.firstStepFromReadyS,
    peakRss: danlu.peakRssMb !== null && kohya.peakRssMb !== null ? danlu.peakRssMb / kohya.peakRssMb : null,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function ratioTable(pairs: Ratios[]): string {
  const row = (label: string, r: Ratios): string =>
    `| ${label} | ${fixed(r.stepsPerS, 2)} | ${fixed(r.firstStepFromStart, 2)} | ${fixed(r.firstStepFromReady, 2)} | ${fixed(r.peakRss, 2)} |`;
  const rss = pairs.map((p) => p.peakRss).filter((v): v is number => v !== null);
  const middle: Ratios = {
    stepsPerS: median(pairs.map((p) => p.stepsPerS)),
    firstStepFromStart: median(pairs.map((p) => p.firstStepFromStart)),
    firstStepFromReady: median(pairs.map((p) => p.firstStepFromReady)),
    peakRss: rss.length ? median(rss) : null,
  };
  return [
    "| danlu / kohya | steps/s | first step from start | first step from ready | peak RSS |",
    "| --- | --- | --- | --- | --- |",
    ...pairs.map((pair, i) => row(`round ${i + 1}`, pair)),
    row("median", middle),
  ].join("\n");
}
