import { DanluError } from "../../errors.ts";
import type { TensorToWrite } from "../safetensors.ts";
import { familyOf, type ConvertArch, type LoraContent, type LoraModule } from "./modules.ts";
import { diffusersToLdm, ldmToDiffusers, underscoredToPath } from "./names.ts";
import { alphaTensor, groupBySuffix, requirePair } from "./tensors.ts";

/**
 * kohya layout (sd-scripts, A1111/Forge): `lora_unet_{path with _}`, `lora_te_` (SD1/2) or `lora_te1_` /
 * `lora_te2_` (SDXL) + the CLIP path, each with `.lora_down.weight`, `.lora_up.weight`, `.alpha`.
 */
const SUFFIXES = { down: "lora_down.weight", up: "lora_up.weight", alpha: "alpha" };

function unetPath(name: string, arch: ConvertArch): string {
  const path = underscoredToPath(name);
  if (arch !== "sdxl") return path;
  const diffusers = ldmToDiffusers(path, "sdxl");
  if (diffusers === null) {
    throw new DanluError(`lora_unet_${name}: no diffusers module for the SDXL (LDM) path ${path}`, {
      code: "BAD_LORA",
    });
  }
  return diffusers;
}

export function readKohya(tensors: Record<string, TensorToWrite>, arch: ConvertArch): LoraModule[] {
  return [...groupBySuffix(tensors, SUFFIXES)].map(([name, t]) => {
    const m = /^lora_(unet|te1|te2|te)_(.+)$/.exec(name);
    if (!m) throw new DanluError(`${name} is not a kohya LoRA module name`, { code: "BAD_LORA" });
    const [, prefix = "", rest = ""] = m;
    const part = prefix === "unet" ? "unet" : prefix === "te2" ? "te2" : "te1";
    const path = part === "unet" ? unetPath(rest, arch) : underscoredToPath(rest);
    const { down, up } = requirePair(name, t);
    return { part, path, down, up, alpha: t.alpha ?? null, alphaValue: null };
  });
}

export function kohyaName(module: LoraModule, arch: ConvertArch): string {
  if (module.part !== "unet") {
    const prefix = arch === "sdxl" ? `lora_${module.part}` : "lora_te";
    return `${prefix}_${module.path.replaceAll(".", "_")}`;
  }
  const path = arch === "sdxl" ? diffusersToLdm(module.path, familyOf(arch)) : module.path;
  if (path === null) {
    throw new DanluError(`UNet module ${module.path} has no SDXL (LDM) name`, { code: "BAD_LORA" });
  }
  return `lora_unet_${path.replaceAll(".", "_")}`;
}

export function writeKohya(content: LoraContent): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const module of content.modules) {
    const name = kohyaName(module, content.arch);
    out[`${name}.${SUFFIXES.down}`] = module.down;
    out[`${name}.${SUFFIXES.up}`] = module.up;
    const alpha = alphaTensor(module);
    if (alpha) out[`${name}.${SUFFIXES.alpha}`] = alpha;
  }
  return out;
}
