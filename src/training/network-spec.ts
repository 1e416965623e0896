import { resolve } from "node:path";
import type { TrainConfig } from "../config/index.ts";
import { MODULE_ARGS, type NetworkArgValue, parseNetworkArgs } from "../config/network-args.ts";
import type { Arch } from "../engine/spec.ts";
import type { SpecNetwork } from "../engine/spec-network.ts";
import { DanluError } from "../errors.ts";

function fail(message: string, hint: string): never {
  throw new DanluError(message, { code: "CONFIG_INVALID", hint });
}

const num = (v: NetworkArgValue | undefined): number | undefined => (typeof v === "number" ? v : undefined);
const list = (v: NetworkArgValue | undefined): number[] | null => (Array.isArray(v) ? v : null);

/** Rules sd-scripts/LyCORIS would break on or silently ignore, refused by name. */
function checkCombination(
  module: string,
  algo: string,
  values: Record<string, NetworkArgValue>,
  arch: Arch,
): void {
  for (const key of Object.keys(values)) {
    const lokrOnly = ["factor", "decompose_both", "full_matrix"].includes(key);
    if (lokrOnly && algo !== "lokr")
      fail(`network_args ${key} is a LoKr setting (algo is ${algo})`, "use algo=lokr");
  }
  if (["loha", "lokr", "ia3"].includes(algo) && values["dropout"]) {
    fail(`network_args dropout: LyCORIS has no dropout for ${algo}`, "use rank_dropout or module_dropout");
  }
  if (algo === "ia3" && (values["rank_dropout"] || values["use_tucker"] || values["dora_wd"])) {
    fail("network_args: IA3 takes only module_dropout", "remove rank_dropout, use_tucker and dora_wd");
  }
  if (values["dora_wd"] && ["loha", "lokr"].includes(algo)) {
    fail(
      `network_args dora_wd: danlu trains DoRA on lora/locon, not ${algo}`,
      "use algo=locon with dora_wd=True",
    );
  }
  const blocks = ["block_dims", "block_alphas", "conv_block_dims", "conv_block_alphas"].filter(
    (k) => k in values,
  );
  if (blocks.length > 0 && arch === "sdxl") {
    fail(`network_args ${blocks[0]}: per-block dims are for SD1.5/SD2 (25 blocks)`, "remove it for SDXL");
  }
  if ("block_alphas" in values && !("block_dims" in values))
    fail("network_args block_alphas needs block_dims", "");
  if ("conv_block_alphas" in values && !("conv_block_dims" in values)) {
    fail("network_args conv_block_alphas needs conv_block_dims", "");
  }
  if (module === "networks.lora" && values["conv_alpha"] !== undefined && !values["conv_dim"]) {
    fail("network_args conv_alpha without conv_dim", "set conv_dim to train the 3x3 convs (LoCon)");
  }
}

/** The spec's network section: network_module + network_args resolved the way sd-scripts/LyCORIS read them. */
export function networkSpec(config: TrainConfig, arch: Arch): SpecNetwork {
  const module = config.network_module;
  const { raw, values } = parseNetworkArgs(config.network_args);
  const allowed = MODULE_ARGS[module];
  for (const key of Object.keys(values)) {
    if (!allowed.includes(key)) {
      fail(
        `network_args ${key}=${raw[key]}: ${module} has no ${key}`,
        `${module} reads: ${allowed.join(", ")}`,
      );
    }
  }
  const lycoris = module === "lycoris.kohya";
  let algo = lycoris ? String(values["algo"] ?? "lora") : "lora";
  let dora = values["dora_wd"] === true;
  const args = { ...raw };
  if (algo === "dora") {
    [algo, dora] = ["locon", true]; // LyCORIS spells DoRA as algo=locon, dora_wd=True
    Object.assign(args, { algo: "locon", dora_wd: "True" });
  }
  checkCombination(module, algo, values, arch);
  const dim = config.network_dim;
  const alpha = config.network_alpha;
  // LyCORIS: conv layers on by default (conv_dim = network_dim); sd-scripts: only with conv_dim.
  const convDim = lycoris ? num(values["conv_dim"]) || dim : (num(values["conv_dim"]) ?? 0);
  const convAlpha = lycoris ? num(values["conv_alpha"]) || alpha : (num(values["conv_alpha"]) ?? 1);
  return {
    module: lycoris ? "lycoris" : "lora",
    algo: algo as SpecNetwork["algo"],
    dim,
    alpha,
    conv_dim: convDim,
    conv_alpha: convAlpha,
    dora_wd: dora,
    use_tucker: values["use_tucker"] === true,
    factor: num(values["factor"]) ?? -1,
    decompose_both: values["decompose_both"] === true,
    full_matrix: values["full_matrix"] === true,
    dropout: num(values["dropout"]) ?? config.network_dropout ?? 0,
    rank_dropout: num(values["rank_dropout"]) ?? 0,
    module_dropout: num(values["module_dropout"]) ?? 0,
    block_dims: list(values["block_dims"]),
    block_alphas: list(values["block_alphas"]),
    conv_block_dims: list(values["conv_block_dims"]),
    conv_block_alphas: list(values["conv_block_alphas"]),
    weights: config.network_weights ? resolve(config.network_weights) : null,
    args,
    train_unet: !config.network_train_text_encoder_only,
    train_text_encoder: !config.network_train_unet_only,
  };
}
