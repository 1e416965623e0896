import { DanluError } from "../../errors.ts";
import type { ConvertArch, LoraLayout } from "./modules.ts";

/** The layout from the key names; null when the keys fit none. */
export function detectLayout(keys: string[]): LoraLayout | null {
  if (keys.length > 0 && keys.every((k) => /^lora_(unet|te[12]?)_/.test(k))) return "kohya";
  if (keys.length > 0 && keys.every((k) => /^(unet|text_encoder|text_encoder_2)\./.test(k)))
    return "diffusers";
  if (keys.length > 0 && keys.every((k) => /^(diffusion_model|text_encoders)\./.test(k))) return "comfyui";
  return null;
}

function archFromMetadata(metadata: Record<string, string>): ConvertArch | null {
  const version = metadata.ss_base_model_version ?? "";
  const spec = metadata["modelspec.architecture"] ?? "";
  if (version.startsWith("sdxl") || spec.startsWith("stable-diffusion-xl")) return "sdxl";
  if (version.startsWith("sd_v2") || spec.startsWith("stable-diffusion-v2") || metadata.ss_v2 === "True")
    return "sd2";
  if (version.startsWith("sd_v1") || spec.startsWith("stable-diffusion-v1")) return "sd15";
  return null;
}

/** Key patterns that only one UNet family has (SDXL: no attention at the first level, deeper transformers). */
const SDXL_KEYS = [
  /^lora_te[12]_/,
  /^lora_unet_(input|output)_blocks_|^lora_unet_middle_block_/,
  /^text_encoder_2\./,
];
const SDXL_UNET = [/transformer_blocks[._][1-9]/, /text_encoders\.clip_g\./];
const SD_UNET = [/down_blocks[._]3[._]/, /down_blocks[._]0[._]attentions/, /input_blocks\.[12]\.1\./];

/**
 * SD1.x / SD2.x / SDXL: given, else from the keys (text encoders and UNet shapes say SDXL or not) and the
 * metadata (which tells SD2 from SD1); an SD1/SD2 question the keys cannot settle defaults to SD1.x only
 * when the layout does not depend on it.
 */
export function detectArch(
  path: string,
  keys: string[],
  metadata: Record<string, string>,
  given: ConvertArch | undefined,
): ConvertArch {
  if (given) return given;
  const fromMetadata = archFromMetadata(metadata);
  const has = (patterns: RegExp[]): boolean => keys.some((k) => patterns.some((p) => p.test(k)));
  if (has(SDXL_KEYS) || has(SDXL_UNET)) return "sdxl";
  if (keys.some((k) => k.startsWith("text_encoders.clip_h."))) return "sd2";
  if (fromMetadata) return fromMetadata;
  if (has(SD_UNET) || keys.some((k) => /^lora_te_|^lora_unet_/.test(k))) return "sd15";
  throw new DanluError(`${path}: cannot tell whether this LoRA is for SD1.x/SD2.x or SDXL`, {
    code: "ARCH_UNKNOWN",
    hint: "give --arch sd15, sd2 or sdxl",
  });
}
