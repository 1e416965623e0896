/** Text for the figures: one table row per run, then danlu / kohya ratios per round and their median. */
import type { RunFigures } from "./measure.ts";

const fixed = (value: number | null, digits: number): string =>
  value === null ? "-" : value.toFixed(digits);

const RUN_COLUMNS: [string, (run: RunFigures) => string][] = [
  ["trainer", (run) => run.trainer],
  ["steps", (run) => String(run.steps)],
  ["steps/s", (run) => fixed(run.stepsPerS, 3)],
  ["images/s", (run) => fixed(run.imagesPerS, 3)],
  ["CPU s/step", (run) => fixed(run.cpuSPerStep, 2)],
  ["first step from start (s)", (run) => fixed(run.firstStepFromStartS, 1)],
  ["from ready (s)", (run) => fixed(run.firstStepFromReadyS, 1)],
  ["peak RSS (MiB)", (run) => fixed(run.peakRssMb, 0)],
  ["peak GPU (MiB)", (run) => fixed(run.peakGpuMb, 0)],
  ["wall (s)", (run) => fixed(run.wallS, 1)],
];

export const RUN_HEADER = `| run | ${RUN_COLUMNS.map(([name]) => name).join(" | ")} |`;

export function runRow(index: number, run: RunFigures): string {
  return `| ${index} | ${RUN_COLUMNS.map(([, cell]) => cell(run)).join(" | ")} |`;
}

export function runTable(runs: RunFigures[]): string {
  const rule = RUN_HEADER.replace(/[^|]+/g, "---");
  return [RUN_HEADER, rule, ...runs.map((run, i) => runRow(i + 1, run))].join("\n");
}

/** When the engine's phases began (seconds from process start): where the time to first step goes. */
export function phaseLine(run: RunFigures): string | null {
  if (!run.phases.length) return null;
  const firsts = run.phases.filter((phase, i) => run.phases.findIndex((p) => p.name === phase.name) === i);
  const parts = firsts.map((phase) => `${phase.name} at ${phase.atS.toFixed(1)} s`);
  return `${run.trainer} phases: ${parts.join(", ")}; first step done at ${run.firstStepFromStartS.toFixed(1)} s`;
}

/** danlu / kohya for one (danlu, kohya) pair measured back to back (null where a figure is missing). */
export type Ratios = Record<(typeof RATIO_COLUMNS)[number][0], number | null>;

const RATIO_COLUMNS = [
  ["steps/s", (run: RunFigures) => run.stepsPerS],
  ["CPU s/step", (run: RunFigures) => run.cpuSPerStep],
  ["first step from start", (run: RunFigures) => run.firstStepFromStartS],
  ["first step from ready", (run: RunFigures) => run.firstStepFromReadyS],
  ["peak RSS", (run: RunFigures) => run.peakRssMb],
] as const;

export function ratios(danlu: RunFigures, kohya: RunFigures): Ratios {
  const entries = RATIO_COLUMNS.map(([name, figure]) => {
    const [a, b] = [figure(danlu), figure(kohya)];
    return [name, a !== null && b !== null && b !== 0 ? a / b : null] as const;
  });
  return Object.fromEntries(entries) as Ratios;
}

function median(values: number[]): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? null) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export function ratioTable(pairs: Ratios[]): string {
  const names = RATIO_COLUMNS.map(([name]) => name);
  const row = (label: string, cells: (number | null)[]): string =>
    `| ${label} | ${cells.map((cell) => fixed(cell, 2)).join(" | ")} |`;
  const medians = names.map((name) =>
    median(pairs.map((p) => p[name]).filter((v): v is number => v !== null)),
  );
  return [
    `| danlu / kohya | ${names.join(" | ")} |`,
    `| --- | ${names.map(() => "---").join(" | ")} |`,
    ...pairs.map((pair, i) =>
      row(
        `round ${i + 1}`,
        names.map((name) => pair[name]),
      ),
    ),
    row("median", medians),
  ].join("\n");
}
