import { z } from "zod";

/**
 * The `network` section of the train spec (engine: danlu_engine/network NetworkOptions, same names).
 * module "lora" is sd-scripts' networks.lora, "lycoris" is lycoris.kohya; every value is resolved.
 */
const blockValues = z.array(z.number().nonnegative()).length(25).nullable(); // null: one dim for all blocks

export const specNetwork = z.strictObject({
  module: z.enum(["lora", "lycoris"]),
  algo: z.enum(["lora", "locon", "loha", "lokr", "ia3"]),
  dim: z.number().int().positive(),
  alpha: z.number().positive(),
  conv_dim: z.number().int().nonnegative(), // 0: no k x k convs
  conv_alpha: z.number().nonnegative(),
  dora_wd: z.boolean(),
  use_tucker: z.boolean(),
  factor: z.number().int(), // LoKr: -1 balanced
  decompose_both: z.boolean(),
  full_matrix: z.boolean(),
  dropout: z.number().min(0).max(1),
  rank_dropout: z.number().min(0).max(1),
  module_dropout: z.number().min(0).max(1),
  block_dims: blockValues,
  block_alphas: blockValues,
  conv_block_dims: blockValues,
  conv_block_alphas: blockValues,
  weights: z.string().nullable(), // network_weights: continue from this file (kinds and dims from it)
  args: z.record(z.string(), z.string()), // ss_network_args as sd-scripts writes them
  train_unet: z.boolean(),
  train_text_encoder: z.boolean(),
});
export type SpecNetwork = z.infer<typeof specNetwork>;
