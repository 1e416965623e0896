import { z } from "zod";
import { choice, custom, optionalNum, optionalStr } from "./key-kinds.ts";
import { NETWORK_MODULES, parseNetworkArgs } from "./network-args.ts";

const networkArgsSchema = z.array(z.string()).superRefine((args, ctx) => {
  try {
    parseNetworkArgs(args);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

/** Network keys beyond dim/alpha, spelled as sd-scripts spells them (train_network.py). */
export const NETWORK_KEYS = {
  network_module: choice(
    NETWORK_MODULES,
    "networks.lora",
    "network kind: networks.lora (kohya LoRA, LoCon with conv_dim) or lycoris.kohya (algo=locon|loha|lokr|ia3|dora)",
  ),
  network_args: custom(
    networkArgsSchema,
    [],
    'network settings as "key=value": conv_dim, conv_alpha, rank_dropout, module_dropout, block_dims (networks.lora); ' +
      "algo, conv_dim, conv_alpha, dropout, rank_dropout, module_dropout, use_tucker, factor, decompose_both, " +
      "full_matrix, dora_wd (lycoris.kohya)",
    'list of "key=value"',
    (text) => text,
    "list",
  ),
  network_dropout: optionalNum("dropout on the LoRA's down output while training (sd-scripts: about 0.1)", {
    min: 0,
    max: 1,
  }),
  network_weights: optionalStr(
    "continue training from this LoRA/LyCORIS file (its kind, dims and alphas are used)",
    "path",
  ),
};
