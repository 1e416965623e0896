import type { TensorToWrite } from "../safetensors.ts";
import type { UnetFamily } from "./names.ts";

/** The layouts `danlu lora convert` reads and writes. */
export const LORA_LAYOUTS = ["kohya", "diffusers", "comfyui"] as const;
export type LoraLayout = (typeof LORA_LAYOUTS)[number];
export type ConvertArch = "sd15" | "sd2" | "sdxl";

/**
 * One LoRA module, independent of the layout: which part of the model, the module path there (UNet: the
 * diffusers path; text encoders: the transformers CLIP path with its `text_model.` level), and its tensors'
 * bytes as read (converting never touches the values).
 */
export interface LoraModule {
  part: "unet" | "te1" | "te2"; // te1 is SD1.x/SD2.x's only text encoder too
  path: string;
  down: TensorToWrite;
  up: TensorToWrite;
  /** The .alpha tensor as stored; null when the layout keeps alpha elsewhere (alphaValue) or not at all. */
  alpha: TensorToWrite | null;
  /** alpha as a number where the layout holds it outside a tensor (diffusers adapter metadata). */
  alphaValue: number | null;
}

export interface LoraContent {
  arch: ConvertArch;
  modules: LoraModule[];
  metadata: Record<string, string>;
}

export function familyOf(arch: ConvertArch): UnetFamily {
  return arch === "sdxl" ? "sdxl" : "sd";
}
