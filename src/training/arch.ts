import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { TrainConfig } from "../config/index.ts";
import type { Arch } from "../engine/spec.ts";
import { DanluError } from "../errors.ts";
import { readSafetensorsHeader } from "../lora/index.ts";

/**
 * The base model's architecture, known before the engine starts: the plan needs it (SDXL buckets may be
 * multiples of 32, SD1/2 need 64). Flags win; otherwise a cheap look at the file: a safetensors header
 * (a few KB) or a diffusers folder's configs. The engine checks the weights themselves when it loads them.
 */
export async function detectArch(
  config: Pick<TrainConfig, "pretrained_model_name_or_path" | "sdxl" | "v2">,
): Promise<Arch> {
  if (config.sdxl === true) return "sdxl";
  if (config.v2 === true) return "sd2";
  const path = config.pretrained_model_name_or_path;
  if (!existsSync(path)) {
    throw new DanluError(`the base model '${path}' does not exist`, {
      code: "FILE_NOT_FOUND",
      hint: "pass --pretrained-model-name-or-path with a .safetensors/.ckpt file or a diffusers folder (danlu model make-tiny writes a small one for trying things out)",
    });
  }
  if (statSync(path).isDirectory()) return archOfDiffusersFolder(path);
  if (path.endsWith(".safetensors")) return archOfSingleFile(path);
  return "sd15"; // a .ckpt: the engine reads it (safely) and says if it is something else
}

function archOfDiffusersFolder(dir: string): Arch {
  if (existsSync(join(dir, "text_encoder_2"))) return "sdxl";
  const configPath = join(dir, "unet", "config.json");
  if (!existsSync(configPath)) {
    throw new DanluError(`'${dir}' is a folder but not a diffusers model (no unet/config.json)`, {
      code: "BAD_MODEL",
      hint: "point at the folder that holds model_index.json, or at a single .safetensors checkpoint",
    });
  }
  const unet = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
  if (unet.addition_embed_type === "text_time") return "sdxl";
  // SD2 uses linear projections in its transformer blocks and a 1024-wide OpenCLIP text tower.
  return unet.use_linear_projection === true ? "sd2" : "sd15";
}

async function archOfSingleFile(path: string): Promise<Arch> {
  const header = await readSafetensorsHeader(path);
  const names = Object.keys(header.tensors);
  if (names.some((name) => name.startsWith("conditioner.embedders.1."))) return "sdxl";
  if (names.some((name) => name.startsWith("cond_stage_model.model."))) return "sd2";
  return "sd15";
}
