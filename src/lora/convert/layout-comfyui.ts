import { DanluError } from "../../errors.ts";
import type { TensorToWrite } from "../safetensors.ts";
import { familyOf, type ConvertArch, type LoraContent, type LoraModule } from "./modules.ts";
import { diffusersToLdm, ldmToDiffusers } from "./names.ts";
import { alphaTensor, groupBySuffix, requirePair } from "./tensors.ts";

/**
 * ComfyUI's own layout (what its LoRA save node writes, loaded as "generic" keys): the model's state-dict
 * names with dots, `diffusion_model.{LDM path}` for the UNet and `text_encoders.{clip}.transformer.{CLIP
 * path}` for the text encoders (clip_l for SD1.x and SDXL's first, clip_h for SD2.x, clip_g for SDXL's
 * second), each with `.lora_down.weight`, `.lora_up.weight`, `.alpha` as in kohya files.
 */
const SUFFIXES = { down: "lora_down.weight", up: "lora_up.weight", alpha: "alpha" };
const UNET = "diffusion_model.";

function clipName(part: "te1" | "te2", arch: ConvertArch): string {
  if (part === "te2") return "clip_g";
  return arch === "sd2" ? "clip_h" : "clip_l";
}

export function writeComfy(content: LoraContent): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const m of content.modules) {
    let name: string;
    if (m.part === "unet") {
      const ldm = diffusersToLdm(m.path, familyOf(content.arch));
      if (ldm === null) throw new DanluError(`UNet module ${m.path} has no LDM name`, { code: "BAD_LORA" });
      name = UNET + ldm;
    } else {
      name = `text_encoders.${clipName(m.part, content.arch)}.transformer.${m.path}`;
    }
    out[`${name}.${SUFFIXES.down}`] = m.down;
    out[`${name}.${SUFFIXES.up}`] = m.up;
    const alpha = alphaTensor(m);
    if (alpha) out[`${name}.${SUFFIXES.alpha}`] = alpha;
  }
  return out;
}

export function readComfy(tensors: Record<string, TensorToWrite>, arch: ConvertArch): LoraModule[] {
  return [...groupBySuffix(tensors, SUFFIXES)].map(([name, t]) => {
    const { down, up } = requirePair(name, t);
    const base = { down, up, alpha: t.alpha ?? null, alphaValue: null };
    if (name.startsWith(UNET)) {
      const path = ldmToDiffusers(name.slice(UNET.length), familyOf(arch));
      if (path === null)
        throw new DanluError(`${name}: no diffusers module for this LDM path`, { code: "BAD_LORA" });
      return { part: "unet", path, ...base };
    }
    const m = /^text_encoders\.(clip_[lgh])\.transformer\.(.+)$/.exec(name);
    if (!m) throw new DanluError(`${name}: not a ComfyUI UNet or text-encoder module`, { code: "BAD_LORA" });
    return { part: m[1] === "clip_g" ? "te2" : "te1", path: m[2] ?? "", ...base };
  });
}
