import type { TrainConfig } from "../config/index.ts";
import type { TrainSpec } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";

/** The new tokens of pivotal tuning: <s0>, <s1>, ... (the names diffusers' advanced script uses). */
export function pivotalTokens(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `<s${i}>`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Every whole-word occurrence of `trigger` in `text` replaced by the tokens written together. */
export function replaceTrigger(text: string, trigger: string, tokens: string[]): string {
  const word = new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(trigger)}(?![\\p{L}\\p{N}_])`, "gu");
  return text.replace(word, tokens.join(""));
}

function triggerOf(config: TrainConfig): string {
  const trigger = (config.pivotal_token ?? config.trigger_word ?? "").trim();
  if (trigger === "") {
    throw new DanluError("pivotal_tuning is on but neither pivotal_token nor trigger_word is set", {
      hint: 'set pivotal_token to the word in your captions that names the subject (e.g. pivotal_token = "TOK")',
    });
  }
  return trigger;
}

/**
 * The spec with pivotal tuning applied (unchanged when it is off): the trigger replaced in every caption,
 * validation caption and sample prompt, and the engine's pivotal section filled in. Deterministic: a
 * plain text replacement after the plan's caption shuffling and dropout.
 */
export function applyPivotal(config: TrainConfig, spec: TrainSpec): TrainSpec {
  if (!config.pivotal_tuning) return spec;
  const trigger = triggerOf(config);
  const tokens = pivotalTokens(config.pivotal_num_tokens);
  const swap = (text: string) => replaceTrigger(text, trigger, tokens);
  const epochs = spec.epochs.map((batches) => batches.map((b) => ({ ...b, captions: b.captions.map(swap) })));
  if (!epochs.some((batches) => batches.some((b) => b.captions.some((c) => c.includes(tokens.join("")))))) {
    throw new DanluError(`pivotal_token "${trigger}" appears as a word in no training caption`, {
      hint: "put the trigger word in the captions (first, as the guides do) or set pivotal_token to the word they use",
    });
  }
  return {
    ...spec,
    epochs,
    validation: {
      ...spec.validation,
      images: spec.validation.images.map((v) => ({ ...v, caption: swap(v.caption) })),
    },
    sample: { ...spec.sample, prompts: spec.sample.prompts.map((p) => ({ ...p, prompt: swap(p.prompt) })) },
    pivotal: {
      tokens,
      init_word: config.pivotal_init_word,
      lr: config.pivotal_lr,
      train_steps: Math.floor(config.pivotal_fraction * spec.training.total_steps),
    },
  };
}
