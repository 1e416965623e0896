import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Arch } from "../engine/spec.ts";
import { readSafetensorsHeader } from "../lora/index.ts";

/**
 * How many LoRA files a run saves and about how large they are, so that a preset or a repeats/epochs
 * mix that multiplies a small run into dozens of files (50 epochs of 2 steps, 50 files) is seen in the
 * plan, with the keys that change it.
 */
export const SAVE_LIMITS = {
  /** More files than this is out of the ordinary (guides keep 10 to 20 epochs). */
  files: 20,
  /** More bytes in all than this (an SDXL LoRA at dim 32 is about 228 MB: 4 GB is 18 of them). */
  totalBytes: 4e9,
};

/**
 * Σ (in + out features) over networks.lora's default targets, per unit of rank: the Linear and 1x1 conv
 * layers of the UNet's transformer blocks (attention, feed-forward, proj_in/out) and of the text
 * encoders' layers (attention, MLP). A LoRA module of rank r holds r·(in + out) weights. Counted on
 * the real SD1.5 / SD2 / SDXL models; used when the base model's own layers cannot be read.
 */
const PARAMS_PER_RANK: Record<Arch, { unet: number; textEncoder: number }> = {
  sd15: { unet: 423_936, textEncoder: 165_888 },
  sd2: { unet: 432_128, textEncoder: 423_936 },
  sdxl: { unet: 2_659_840, textEncoder: 165_888 + 737_280 },
};

const UNET_LAYER =
  /(transformer_blocks\.\d+\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.(0\.proj|2))|\.proj_in|\.proj_out)\.weight$/;
const CLIP_LAYER = /encoder\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])\.weight$/;
const OPEN_CLIP_LAYER =
  /transformer\.resblocks\.\d+\.(attn\.out_proj\.weight|mlp\.c_fc\.weight|mlp\.c_proj\.weight)$/;
const OPEN_CLIP_QKV = /transformer\.resblocks\.\d+\.attn\.in_proj_weight$/; // q, k and v in one [3w, w]

/** Σ (in + out) per rank of the model's LoRA targets, from safetensors headers; null when none can be read. */
export async function loraParamsPerRank(
  modelPath: string,
  trainTextEncoder: boolean,
): Promise<number | null> {
  const files =
    existsSync(modelPath) && statSync(modelPath).isDirectory() ? diffusersFiles(modelPath) : [modelPath];
  if (files.length === 0 || !files.every((f) => f.endsWith(".safetensors"))) return null;
  let total = 0;
  for (const file of files) {
    const header = await readSafetensorsHeader(file).catch(() => null);
    if (!header) return null;
    for (const [key, { shape }] of Object.entries(header.tensors)) {
      const [out = 0, inn = 0] = shape;
      if (UNET_LAYER.test(key)) total += out + inn;
      else if (!trainTextEncoder) continue;
      else if (CLIP_LAYER.test(key) || OPEN_CLIP_LAYER.test(key)) total += out + inn;
      else if (OPEN_CLIP_QKV.test(key)) total += 3 * (out / 3 + inn);
    }
  }
  return total > 0 ? total : null;
}

function diffusersFiles(dir: string): string[] {
  return ["unet", "text_encoder", "text_encoder_2"].flatMap((part) => {
    const folder = join(dir, part);
    if (!existsSync(folder)) return [];
    return readdirSync(folder)
      .filter((name) => name.endsWith(".safetensors") || name.endsWith(".bin"))
      .map((name) => join(folder, name));
  });
}

export interface SaveSizeSettings {
  arch: Arch;
  modelPath: string;
  networkDim: number;
  trainTextEncoder: boolean;
  savePrecision: "fp16" | "bf16" | "float";
}

/** About how many bytes one saved LoRA file takes (weights only; the header and alphas are small). */
export async function estimateLoraFileBytes(s: SaveSizeSettings): Promise<number> {
  const fallback = PARAMS_PER_RANK[s.arch];
  const perRank =
    (await loraParamsPerRank(s.modelPath, s.trainTextEncoder)) ??
    fallback.unet + (s.trainTextEncoder ? fallback.textEncoder : 0);
  return perRank * s.networkDim * (s.savePrecision === "float" ? 4 : 2);
}

export interface SaveCount {
  files: number;
  bytesEach: number;
  epochs: number;
  stepsPerEpoch: number;
  saveEveryNEpochs: number;
  saveEveryNSteps: number;
  networkDim: number;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

/** A warning when the run saves more files, or more bytes, than usual; with the keys that change it. */
export function saveWarnings(c: SaveCount): string[] {
  const total = c.files * c.bytesEach;
  if (c.files <= SAVE_LIMITS.files && total <= SAVE_LIMITS.totalBytes) return [];
  const ways: string[] = [];
  if (c.saveEveryNSteps > 0) ways.push(`save_every_n_steps = 0 (now ${c.saveEveryNSteps})`);
  if (c.saveEveryNEpochs > 0 && c.epochs > 1) {
    const every = Math.max(c.saveEveryNEpochs + 1, Math.ceil(c.epochs / 10));
    const files = Math.ceil(c.epochs / every);
    ways.push(`save_every_n_epochs = ${every} (${files} files; now ${c.saveEveryNEpochs})`);
  }
  if (c.epochs > 1) {
    ways.push(
      `fewer epochs with more repeats each: max_train_epochs (now ${c.epochs} epochs of ${c.stepsPerEpoch} steps) ` +
        "and the repeats in the folder names (N_name)",
    );
  }
  return [
    `this run saves ${c.files} LoRA files, about ${formatBytes(total)} in all (${formatBytes(c.bytesEach)} each ` +
      `at network_dim ${c.networkDim}): more than usual (over ${SAVE_LIMITS.files} files or ` +
      `${formatBytes(SAVE_LIMITS.totalBytes)}). To save fewer: ${ways.join("; or ")}`,
  ];
}
