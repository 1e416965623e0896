import { bool, int, num, optionalStr, str } from "./key-kinds.ts";

/**
 * Pivotal tuning (as diffusers' advanced SDXL LoRA script does it): new tokens <s0><s1>... stand in the
 * captions for the trigger word and train as embeddings beside the LoRA for the first part of the run.
 */
export const PIVOTAL_KEYS = {
  pivotal_tuning: bool(
    false,
    "train new tokens <s0><s1>... for the trigger word, saved as {name}_emb.safetensors",
  ),
  pivotal_token: optionalStr(
    "the word the new tokens replace in captions and sample prompts (unset: trigger_word)",
  ),
  pivotal_num_tokens: int(2, "how many new tokens replace the trigger word", { min: 1, max: 16 }),
  pivotal_lr: num(3e-4, "AdamW learning rate of the new token embeddings", { gt: 0 }),
  pivotal_fraction: num(0.5, "fraction of the optimizer steps the embeddings train for; then they freeze", {
    min: 0,
    max: 1,
  }),
  pivotal_init_word: str(
    "",
    'initialise the new embeddings from this word\'s tokens ("": random, std of the table)',
  ),
};
