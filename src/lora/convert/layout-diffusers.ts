import { DanluError } from "../../errors.ts";
import { decodeValues } from "../dtypes.ts";
import type { TensorToWrite } from "../safetensors.ts";
import type { LoraContent, LoraModule } from "./modules.ts";
import { groupBySuffix, rankOf, requirePair } from "./tensors.ts";

/**
 * diffusers/PEFT layout, as `save_lora_weights` writes it: `unet.{path}.lora_A.weight` (down) and
 * `.lora_B.weight` (up), `text_encoder.` / `text_encoder_2.` + the CLIP path; alphas are not tensors but
 * the PEFT config in the `lora_adapter_metadata` metadata key (JSON, keys prefixed by component:
 * `unet.r`, `unet.lora_alpha`, `unet.rank_pattern`, `unet.alpha_pattern`, `unet.target_modules`).
 * Older diffusers files (`.lora.down.weight` / `.lora.up.weight`, `.alpha` tensors) are read too.
 */
export const ADAPTER_METADATA_KEY = "lora_adapter_metadata";
const COMPONENTS = { unet: "unet", te1: "text_encoder", te2: "text_encoder_2" } as const;
type Part = keyof typeof COMPONENTS;
const PEFT = { down: "lora_A.weight", up: "lora_B.weight", alpha: "alpha" };
const OLD = { down: "lora.down.weight", up: "lora.up.weight", alpha: "alpha" };

/** Pattern keys name modules from the component without transformers' `text_model.` level: PEFT matches a
 * pattern as a suffix of the module path, so this form fits the CLIP model with and without that level. */
function patternKey(module: LoraModule): string {
  return module.part === "unet" ? module.path : module.path.replace(/^text_model\./, "");
}

function mostCommon(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 0;
}

function adapterConfig(modules: LoraModule[], alphaOf: (m: LoraModule) => number): Record<string, unknown> {
  const r = mostCommon(modules.map(rankOf));
  const alpha = mostCommon(modules.map(alphaOf));
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  for (const m of modules) {
    if (rankOf(m) !== r) rankPattern[patternKey(m)] = rankOf(m);
    if (alphaOf(m) !== alpha) alphaPattern[patternKey(m)] = alphaOf(m);
  }
  return {
    r,
    lora_alpha: alpha,
    rank_pattern: rankPattern,
    alpha_pattern: alphaPattern,
    target_modules: modules.map(patternKey).sort(),
  };
}

export function alphaNumber(module: LoraModule): number {
  if (module.alpha) return decodeValues(module.alpha.dtype, module.alpha.data)[0] ?? rankOf(module);
  return module.alphaValue ?? rankOf(module);
}

export function writeDiffusers(content: LoraContent): {
  tensors: Record<string, TensorToWrite>;
  adapterMetadata: string;
} {
  const tensors: Record<string, TensorToWrite> = {};
  const config: Record<string, unknown> = {};
  for (const part of Object.keys(COMPONENTS) as Part[]) {
    const modules = content.modules.filter((m) => m.part === part);
    if (modules.length === 0) continue;
    for (const m of modules) {
      tensors[`${COMPONENTS[part]}.${m.path}.${PEFT.down}`] = m.down;
      tensors[`${COMPONENTS[part]}.${m.path}.${PEFT.up}`] = m.up;
    }
    for (const [key, value] of Object.entries(adapterConfig(modules, alphaNumber)))
      config[`${COMPONENTS[part]}.${key}`] = value;
  }
  return { tensors, adapterMetadata: JSON.stringify(config, null, 2) };
}

function componentAlpha(config: Record<string, unknown>, component: string, key: string): number | null {
  const pattern = config[`${component}.alpha_pattern`] as Record<string, number> | undefined;
  const value = pattern?.[key] ?? config[`${component}.lora_alpha`];
  return typeof value === "number" ? value : null;
}

export function readDiffusers(
  tensors: Record<string, TensorToWrite>,
  metadata: Record<string, string>,
): LoraModule[] {
  const old = Object.keys(tensors).some((k) => k.endsWith(`.${OLD.down}`));
  let config: Record<string, unknown> = {};
  if (metadata[ADAPTER_METADATA_KEY]) {
    try {
      config = JSON.parse(metadata[ADAPTER_METADATA_KEY]) as Record<string, unknown>;
    } catch {
      throw new DanluError(`metadata ${ADAPTER_METADATA_KEY} is not valid JSON`, { code: "BAD_LORA" });
    }
  }
  return [...groupBySuffix(tensors, old ? OLD : PEFT)].map(([name, t]) => {
    const entry = (Object.entries(COMPONENTS) as [Part, string][]).find(([, c]) => name.startsWith(`${c}.`));
    if (!entry)
      throw new DanluError(`${name}: not under unet., text_encoder. or text_encoder_2.`, {
        code: "BAD_LORA",
      });
    const [part, component] = entry;
    const path = name.slice(component.length + 1);
    const { down, up } = requirePair(name, t);
    const module: LoraModule = { part, path, down, up, alpha: t.alpha ?? null, alphaValue: null };
    if (!module.alpha) module.alphaValue = componentAlpha(config, component, patternKey(module));
    return module;
  });
}
