import type { TensorEntry } from "./safetensors.ts";

/**
 * Key layout of kohya-format network files: `{prefix}_{module path with _}.{tensor}`, prefix lora_unet,
 * lora_te (SD1/2), lora_te1/lora_te2 (SDXL). The tensor names tell the network kind (REFERENCE.md §4).
 */
export type LoraPart = "unet" | "te" | "te1" | "te2" | "other";
export type ModuleKind = "lora" | "locon" | "dora" | "loha" | "lokr" | "ia3" | "full" | "unknown";

export interface ModuleKeys {
  name: string; // e.g. lora_unet_down_blocks_0_attentions_0_proj_in
  part: LoraPart;
  tensors: Record<string, TensorEntry>; // by suffix: "lora_down.weight", "alpha", ...
}

export function partOf(moduleName: string): LoraPart {
  const match = /^lora_(unet|te[12]?)_/.exec(moduleName);
  return (match?.[1] as LoraPart | undefined) ?? "other";
}

/** Groups tensors by module (the key up to its first "."). */
export function groupModules(tensors: Record<string, TensorEntry>): ModuleKeys[] {
  const byName = new Map<string, ModuleKeys>();
  for (const [key, entry] of Object.entries(tensors)) {
    const dot = key.indexOf(".");
    const name = dot < 0 ? key : key.slice(0, dot);
    const suffix = dot < 0 ? "" : key.slice(dot + 1);
    let module = byName.get(name);
    if (!module) {
      module = { name, part: partOf(name), tensors: {} };
      byName.set(name, module);
    }
    module.tensors[suffix] = entry;
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The network kind from the module's tensor names; LoRA on a k x k conv (k > 1) is LoCon. */
export function kindOf(module: ModuleKeys): ModuleKind {
  const t = module.tensors;
  if (t["lora_down.weight"] && t["lora_up.weight"]) {
    if (t["dora_scale"]) return "dora";
    const down = t["lora_down.weight"].shape;
    return t["lora_mid.weight"] || (down.length === 4 && ((down[2] ?? 1) > 1 || (down[3] ?? 1) > 1))
      ? "locon"
      : "lora";
  }
  if (t["hada_w1_a"] && t["hada_w1_b"] && t["hada_w2_a"] && t["hada_w2_b"]) return "loha";
  if ((t["lokr_w1"] || t["lokr_w1_a"]) && (t["lokr_w2"] || t["lokr_w2_a"])) return "lokr";
  if (t["weight"] && t["on_input"]) return "ia3";
  if (t["diff"]) return "full";
  return "unknown";
}

/** The module's rank where its kind has one (the inner dimension of the low-rank factors). */
export function rankOf(module: ModuleKeys, kind: ModuleKind): number | null {
  const t = module.tensors;
  switch (kind) {
    case "lora":
    case "locon":
    case "dora":
      return t["lora_down.weight"]?.shape[0] ?? null;
    case "loha":
      return t["hada_w1_b"]?.shape[0] ?? null;
    case "lokr":
      // w1/w2 may each be full or a product a·b; the rank is the inner size of a factored one. With a
      // Tucker core (lokr_t2 [dim, dim, k, k]) LyCORIS stores w2_a as [dim, b], otherwise [b, dim].
      if (t["lokr_t2"]) return t["lokr_t2"].shape[0] ?? null;
      return t["lokr_w2_a"]?.shape[1] ?? t["lokr_w1_a"]?.shape[1] ?? null;
    default:
      return null;
  }
}

/** The layer's size as people read it: "320→640" for a Linear, "320→640 3x3" for a conv. */
export function shapeOf(module: ModuleKeys): string | null {
  const down = module.tensors["lora_down.weight"]?.shape;
  const up = module.tensors["lora_up.weight"]?.shape;
  if (!down || !up) return null;
  const kernel = down.length === 4 ? ` ${down[2]}x${down[3]}` : "";
  return `${down[1]}→${up[0]}${kernel}`;
}

/** Key patterns of files that are something other than a kohya LoRA, for a clear error. */
export function describeNonLora(keys: string[]): string | null {
  const has = (pattern: RegExp): boolean => keys.some((key) => pattern.test(key));
  if (has(/^(model\.diffusion_model|first_stage_model|cond_stage_model|conditioner\.embedders)\./)) {
    return "a base model checkpoint (UNet/VAE/text encoder weights)";
  }
  if (has(/\.lora_[AB]\.|\.lora\.(down|up)\.weight$|_lora\.(down|up)\.weight$/)) {
    return "a diffusers/PEFT-format LoRA (lora_A/lora_B keys); danlu reads kohya-format files";
  }
  if (has(/^(emb_params|clip_l|clip_g|string_to_param)/)) return "a textual-inversion embedding";
  if (has(/^(down_blocks|up_blocks|mid_block|conv_in|encoder|decoder|text_model)\./)) {
    return "a diffusers model component (UNet/VAE/text encoder weights)";
  }
  return null;
}
