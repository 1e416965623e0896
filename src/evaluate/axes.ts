import { DanluError } from "../errors.ts";

/**
 * Grid axes: `KIND=VALUES` as the user writes them after --x/--y/--z. Numbers are separated by commas
 * (`weight=0.6,0.8,1`, `seed=1,2,3`, `cfg=5,7.5`, `epoch=1,3,final` or `epoch=all`); prompts and
 * sampler names by `|` (prompts contain commas, "DPM++ 2M Karras" contains spaces).
 */

export const AXIS_KINDS = ["epoch", "weight", "prompt", "seed", "sampler", "cfg"] as const;
export type AxisKind = (typeof AXIS_KINDS)[number];

/** An epoch value: a saved epoch number, or 0 for the base model without the LoRA. */
export type AxisValue = number | string;

export interface Axis {
  kind: AxisKind;
  values: AxisValue[];
  /** The text drawn beside each value, in the same order. */
  labels: string[];
}

/** What `epoch=` resolves against: the epochs a run saved (ascending). */
export interface EpochChoices {
  saved: number[];
}

const SPLIT_ON_BAR: readonly AxisKind[] = ["prompt", "sampler"];

/** Parses one `KIND=VALUES` axis (`flag` names the option in errors, e.g. "--x"). */
export function parseAxis(text: string, flag: string, epochs: EpochChoices | null): Axis {
  const equals = text.indexOf("=");
  const kindText = (equals < 0 ? text : text.slice(0, equals)).trim().toLowerCase();
  const kind = AXIS_KINDS.find((k) => k === kindText || `${k}s` === kindText);
  if (!kind) {
    throw new DanluError(`${flag} '${text}': unknown axis '${kindText}'.`, {
      code: "BAD_AXIS",
      hint: `axes: ${AXIS_KINDS.join(", ")}; write KIND=VALUES, e.g. ${flag} weight=0.6,0.8,1.0`,
    });
  }
  const body = equals < 0 ? "" : text.slice(equals + 1);
  const parts = body
    .split(SPLIT_ON_BAR.includes(kind) ? "|" : ",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  if (kind === "epoch") return epochAxis(parts, flag, epochs);
  if (parts.length === 0) {
    throw new DanluError(`${flag} '${text}' has no values.`, {
      code: "BAD_AXIS",
      hint: `e.g. ${flag} ${kind}=${exampleOf(kind)}`,
    });
  }
  if (kind === "prompt" || kind === "sampler") return { kind, values: parts, labels: parts };
  const values = parts.map((part) => numberValue(part, kind, flag));
  return { kind, values, labels: values.map((v) => `${kind === "cfg" ? "CFG" : kind} ${v}`) };
}

function exampleOf(kind: AxisKind): string {
  const examples: Record<AxisKind, string> = {
    epoch: "all",
    weight: "0.6,0.8,1.0",
    prompt: "a photo of dln|dln on a beach",
    seed: "1,2,3",
    sampler: "Euler a|DPM++ 2M Karras",
    cfg: "5,7,9",
  };
  return examples[kind];
}

function numberValue(part: string, kind: AxisKind, flag: string): number {
  const value = Number(part);
  const integer = kind === "seed";
  if (!Number.isFinite(value) || (integer && (!Number.isInteger(value) || value < 0))) {
    throw new DanluError(`${flag}: '${part}' is not a valid ${kind}.`, {
      code: "BAD_AXIS",
      hint: integer ? "seeds are whole numbers >= 0" : `e.g. ${flag} ${kind}=${exampleOf(kind)}`,
    });
  }
  return value;
}

function epochAxis(parts: string[], flag: string, epochs: EpochChoices | null): Axis {
  if (!epochs || epochs.saved.length === 0) {
    throw new DanluError(`${flag}: an epoch axis needs a training run folder with saved epochs.`, {
      code: "BAD_AXIS",
      hint: "pass the run's output_dir (it holds {name}-000001.safetensors ... and logs/{name}/spec.json)",
    });
  }
  const chosen: number[] = [];
  for (const part of parts.length === 0 ? ["all"] : parts) {
    const lower = part.toLowerCase();
    if (lower === "all") chosen.push(...epochs.saved);
    else if (lower === "final" || lower === "last") chosen.push(epochs.saved.at(-1) ?? 0);
    else if (lower === "base" || lower === "0") chosen.push(0);
    else {
      const value = Number(part);
      if (!Number.isInteger(value) || !epochs.saved.includes(value)) {
        throw new DanluError(`${flag}: epoch '${part}' was not saved by this run.`, {
          code: "BAD_AXIS",
          hint: `saved epochs: ${epochs.saved.join(", ")} (also: all, final, base = no LoRA)`,
        });
      }
      chosen.push(value);
    }
  }
  const values = [...new Set(chosen)];
  return { kind: "epoch", values, labels: values.map((e) => (e === 0 ? "base (no LoRA)" : `epoch ${e}`)) };
}

/** Refuses two axes of the same kind (the second would silently override the first). */
export function checkDistinctAxes(axes: Axis[]): void {
  const seen = new Set<AxisKind>();
  for (const axis of axes) {
    if (seen.has(axis.kind)) {
      throw new DanluError(`two grid axes are both '${axis.kind}'.`, {
        code: "BAD_AXIS",
        hint: "give each of --x, --y and --z a different kind",
      });
    }
    seen.add(axis.kind);
  }
}
