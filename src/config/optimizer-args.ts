/**
 * optimizer_args as sd-scripts writes them: a list of "key=value" strings, e.g.
 * ["weight_decay=0.01", "betas=0.9,0.999", "decouple=True"]. Each optimizer accepts the constructor
 * arguments listed in OPTIMIZER_ARGS (mirrored by engine/danlu_engine/train/optimizers.py); anything else
 * is an error naming the argument and the optimizer's accepted ones, never a setting silently dropped.
 */
import { OPTIMIZER_TYPES, type OptimizerType } from "../engine/spec.ts";

export { OPTIMIZER_TYPES, type OptimizerType };

export interface OptimizerSettings {
  weight_decay: number;
  betas: [number, number];
  eps: number;
}

/** torch.optim.AdamW's defaults (also bitsandbytes' AdamW8bit). */
export const OPTIMIZER_DEFAULTS: OptimizerSettings = { weight_decay: 0.01, betas: [0.9, 0.999], eps: 1e-8 };

export const OPTIMIZER_ARG_KEYS = ["weight_decay", "betas", "eps"] as const;

/** Optimizers that estimate the step size themselves: lr is a multiplier, 1.0 unless set. */
export const ADAPTIVE_LR_OPTIMIZERS: ReadonlySet<string> = new Set(["Prodigy", "DAdaptAdam"]);

export type OptimizerArgValue = number | boolean | number[];
type Kind = "nonneg" | "positive" | "number" | "int" | "bool" | "betas" | "pair";

const ADAM: Record<string, Kind> = { weight_decay: "nonneg", betas: "betas", eps: "positive" };
const D_ADAPT: Record<string, Kind> = {
  ...ADAM,
  decouple: "bool",
  use_bias_correction: "bool",
  d0: "positive",
  growth_rate: "positive",
};

export const OPTIMIZER_ARGS: Record<OptimizerType, Record<string, Kind>> = {
  AdamW: ADAM,
  AdamW8bit: ADAM,
  Lion: { weight_decay: "nonneg", betas: "betas" },
  Lion8bit: { weight_decay: "nonneg", betas: "betas" },
  Prodigy: { ...D_ADAPT, beta3: "positive", safeguard_warmup: "bool", d_coef: "positive", slice_p: "int" },
  Adafactor: {
    eps: "pair",
    clip_threshold: "positive",
    decay_rate: "number",
    beta1: "number",
    weight_decay: "nonneg",
    scale_parameter: "bool",
    relative_step: "bool",
    warmup_init: "bool",
  },
  DAdaptAdam: D_ADAPT,
  AdamWScheduleFree: { ...ADAM, warmup_steps: "int", r: "number", weight_lr_power: "number" },
};

function parseNumber(text: string, what: string): number {
  const value = Number(text.trim());
  if (text.trim() === "" || !Number.isFinite(value))
    throw new Error(`${what} must be a number, got "${text}"`);
  return value;
}

function parsePair(text: string, what: string): [number, number] {
  // sd-scripts evaluates the value as Python, so "(0.9, 0.999)" and "0.9,0.999" both occur.
  const parts = text.replace(/[()[\]\s]/g, "").split(",");
  if (parts.length !== 2) throw new Error(`${what} must be two numbers like 0.9,0.999, got "${text}"`);
  return [parseNumber(parts[0] ?? "", what), parseNumber(parts[1] ?? "", what)];
}

function parseValue(key: string, kind: Kind, text: string): OptimizerArgValue {
  if (kind === "bool") {
    const lower = text.trim().toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
    throw new Error(`${key} must be True or False, got "${text}"`);
  }
  if (kind === "pair") return parsePair(text, key);
  if (kind === "betas") {
    const betas = parsePair(text, key);
    if (betas.some((b) => b < 0 || b >= 1)) throw new Error(`betas must each be in [0, 1), got "${text}"`);
    return betas;
  }
  const value = parseNumber(text, key);
  if (kind === "nonneg" && value < 0) throw new Error(`${key} must be >= 0, got "${text}"`);
  if (kind === "positive" && value <= 0) throw new Error(`${key} must be > 0, got "${text}"`);
  if (kind === "int" && !Number.isInteger(value))
    throw new Error(`${key} must be a whole number, got "${text}"`);
  return value;
}

function splitEntry(entry: string): [string, string] {
  const eq = entry.indexOf("=");
  if (eq <= 0) throw new Error(`"${entry}" is not key=value`);
  return [entry.slice(0, eq).trim(), entry.slice(eq + 1)];
}

/** The args checked for one optimizer; throws Error naming the first bad entry. */
export function optimizerArgsFor(
  type: OptimizerType,
  args: readonly string[],
): Record<string, OptimizerArgValue> {
  const accepted = OPTIMIZER_ARGS[type];
  const out: Record<string, OptimizerArgValue> = {};
  for (const entry of args) {
    const [key, text] = splitEntry(entry);
    const kind = Object.hasOwn(accepted, key) ? accepted[key] : undefined;
    if (kind === undefined)
      throw new Error(
        `"${key}" is not ${/^[AEIOU]/.test(type) ? "an" : "a"} ${type} argument danlu supports (${Object.keys(accepted).join(", ")})`,
      );
    out[key] = parseValue(key, kind, text);
  }
  return out;
}

/**
 * The check that needs no optimizer: each entry is key=value, its key belongs to some optimizer, and its
 * value fits that key for at least one of them (optimizerArgsFor checks against the chosen optimizer).
 */
export function checkOptimizerArgsSyntax(args: readonly string[]): void {
  for (const entry of args) {
    const [key, text] = splitEntry(entry);
    const kinds = [
      ...new Set(Object.values(OPTIMIZER_ARGS).flatMap((a) => (Object.hasOwn(a, key) ? [a[key]] : []))),
    ];
    if (kinds.length === 0) throw new Error(`"${key}" is not an argument of any optimizer danlu supports`);
    const errors: string[] = [];
    for (const kind of kinds as Kind[]) {
      try {
        parseValue(key, kind, text);
        errors.length = 0;
        break;
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
    if (errors.length) throw new Error(errors[0]);
  }
}

/** AdamW's settings from the list (the spec's weight_decay/betas/eps); throws Error for a bad entry. */
export function parseOptimizerArgs(args: readonly string[]): OptimizerSettings {
  const given = optimizerArgsFor("AdamW", args);
  return {
    weight_decay: (given.weight_decay as number | undefined) ?? OPTIMIZER_DEFAULTS.weight_decay,
    betas: (given.betas as [number, number] | undefined) ?? [...OPTIMIZER_DEFAULTS.betas],
    eps: (given.eps as number | undefined) ?? OPTIMIZER_DEFAULTS.eps,
  };
}
