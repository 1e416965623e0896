import type { GenJob } from "../engine/spec.ts";
import type { CellSettings } from "./grid-plan.ts";
import type { RunFolder } from "./run-folder.ts";

/**
 * The images `danlu eval` draws besides the grid: identity images (trigger prompts, LoRA at weight 1)
 * and drift pairs (prompts WITHOUT the trigger, base model alone and each epoch at weight 1, same seeds).
 */

/** Prompts that never name the subject; drift is measured on these plus the run's own trigger-less sample prompts. */
export const NEUTRAL_PROMPTS = ["a photo of a city street", "a bowl of fruit on a wooden table"];

export interface EvalJobs {
  jobs: GenJob[];
  /** Identity images per epoch: job prefixes. */
  identity: Map<number, string[]>;
  /** Drift prefixes per epoch (0: the base model), index-aligned across epochs (same prompt and seed). */
  drift: Map<number, string[]>;
  identityPrompts: string[];
  driftPrompts: string[];
}

/** Whether a prompt names the trigger (case-insensitive, as a word). */
export function mentions(prompt: string, trigger: string | null): boolean {
  if (!trigger) return false;
  const escaped = trigger.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^\\w])${escaped}($|[^\\w])`, "i").test(prompt);
}

export interface EvalPlanInput {
  run: RunFolder;
  trigger: string | null;
  /** Settings the images are drawn with (size, steps, sampler, CFG, first seed). */
  base: CellSettings;
  seeds: number;
  withIdentity: boolean;
  toJob: (settings: CellSettings, prefix: string, count: number) => GenJob;
}

/** Every identity and drift job of an evaluation. */
export function planEvalJobs(input: EvalPlanInput): EvalJobs {
  const { run, trigger, base, seeds } = input;
  const samples = run.spec.sample.prompts.map((p) => p.prompt);
  const triggered = samples.filter((p) => mentions(p, trigger));
  const identityPrompts = triggered.length > 0 ? triggered : trigger ? [`a photo of ${trigger}`] : [];
  const driftPrompts = [...samples.filter((p) => !mentions(p, trigger)), ...NEUTRAL_PROMPTS];
  const jobs: GenJob[] = [];
  const identity = new Map<number, string[]>();
  const drift = new Map<number, string[]>();
  const add = (into: Map<number, string[]>, epoch: number, prompt: string, prefix: string) => {
    jobs.push(input.toJob({ ...base, epoch, weight: 1, prompt }, prefix, seeds));
    into.set(epoch, [...(into.get(epoch) ?? []), prefix]);
  };
  for (const { epoch } of run.epochs) {
    if (input.withIdentity) identityPrompts.forEach((p, i) => add(identity, epoch, p, `id-e${epoch}-p${i}`));
  }
  for (const epoch of [0, ...run.epochs.map((e) => e.epoch)]) {
    driftPrompts.forEach((p, i) => add(drift, epoch, p, `drift-e${epoch}-p${i}`));
  }
  return { jobs, identity, drift, identityPrompts: input.withIdentity ? identityPrompts : [], driftPrompts };
}
