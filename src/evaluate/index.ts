export { runGrid, CELL_DEFAULTS, DEFAULT_WEIGHTS, DRAW_DEFAULTS } from "./grid.ts";
export type { GridOptions, GridResult } from "./grid.ts";
export { parseAxis, AXIS_KINDS } from "./axes.ts";
export type { Axis, AxisKind } from "./axes.ts";
export { readRunFolder } from "./run-folder.ts";
export type { RunFolder } from "./run-folder.ts";
export { runEval, EVAL_DEFAULTS } from "./eval.ts";
export type { EvalOptions, EvalResult } from "./eval.ts";
