import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { DanluError } from "../../errors.ts";
import {
  readSafetensorsHeader,
  readTensorsBytes,
  serializeSafetensors,
  writeSafetensors,
  type TensorToWrite,
} from "../safetensors.ts";
import { detectArch, detectLayout } from "./detect.ts";
import { readComfy, writeComfy } from "./layout-comfyui.ts";
import { ADAPTER_METADATA_KEY, readDiffusers, writeDiffusers } from "./layout-diffusers.ts";
import { readKohya, writeKohya } from "./layout-kohya.ts";
import type { ConvertArch, LoraContent, LoraLayout } from "./modules.ts";
import { groupModules, kindOf } from "../lora-keys.ts";
import { loadersFor, loadersLine } from "../loaders.ts";

export interface ConvertOptions {
  to: LoraLayout;
  arch?: ConvertArch;
}

export interface ConvertReport {
  input: string;
  output: string;
  from: LoraLayout;
  to: LoraLayout;
  arch: ConvertArch;
  modules: number;
}

/** A LoRA file read into layout-free modules (tensor bytes untouched). */
export async function readLoraContent(
  path: string,
  arch?: ConvertArch,
): Promise<{ layout: LoraLayout; content: LoraContent }> {
  const header = await readSafetensorsHeader(path);
  const keys = Object.keys(header.tensors);
  const layout = detectLayout(keys);
  if (layout === null) {
    throw new DanluError(`${path}: the keys fit none of the kohya, diffusers or ComfyUI LoRA layouts`, {
      code: "BAD_LORA",
      hint: "`danlu lora info FILE` tells what the file is",
    });
  }
  const bytes = await readTensorsBytes(header, keys);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [key, entry] of Object.entries(header.tensors))
    tensors[key] = { dtype: entry.dtype, shape: entry.shape, data: bytes.get(key) as Uint8Array };
  const resolved = detectArch(path, keys, header.metadata, arch);
  const modules =
    layout === "kohya"
      ? readKohya(tensors, resolved)
      : layout === "diffusers"
        ? readDiffusers(tensors, header.metadata)
        : readComfy(tensors, resolved);
  return { layout, content: { arch: resolved, modules, metadata: header.metadata } };
}

/** The tensors and metadata of `content` in `layout`; sshs_model_hash (when kept) is the new data's sha256. */
export function layoutFile(
  content: LoraContent,
  layout: LoraLayout,
): { tensors: Record<string, TensorToWrite>; metadata: Record<string, string> } {
  const metadata = { ...content.metadata };
  delete metadata[ADAPTER_METADATA_KEY]; // diffusers' PEFT config: rebuilt below when writing diffusers
  let tensors: Record<string, TensorToWrite>;
  if (layout === "diffusers") {
    const written = writeDiffusers(content);
    tensors = written.tensors;
    metadata[ADAPTER_METADATA_KEY] = written.adapterMetadata;
  } else {
    tensors = layout === "kohya" ? writeKohya(content) : writeComfy(content);
  }
  if (metadata.sshs_model_hash !== undefined) {
    const bytes = serializeSafetensors(tensors);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    metadata.sshs_model_hash = createHash("sha256").update(bytes.subarray(dataStart)).digest("hex");
  }
  return { tensors, metadata };
}

/**
 * Rewrites a LoRA in another layout (kohya, diffusers/PEFT, ComfyUI). Only names (and, for diffusers, where
 * alpha lives) change: every weight's bytes are copied as they are, so converting there and back gives
 * the same tensors, metadata and data section (and so the same sshs_model_hash).
 */
export async function convertLora(
  input: string,
  output: string,
  options: ConvertOptions,
): Promise<ConvertReport> {
  if (resolve(input) === resolve(output)) {
    throw new DanluError(`the output ${output} is the input file`, {
      code: "BAD_ARGUMENT",
      hint: "name a new file",
    });
  }
  await refuseWhatDiffusersCannotRead(input, options.to);
  const { layout, content } = await readLoraContent(input, options.arch);
  const { tensors, metadata } = layoutFile(content, options.to);
  await writeSafetensors(output, tensors, metadata);
  return { input, output, from: layout, to: options.to, arch: content.arch, modules: content.modules.length };
}

/** The diffusers layout holds LoRA/LoCon factors only: a LyCORIS kind is named, with what loads it. */
async function refuseWhatDiffusersCannotRead(input: string, to: LoraLayout): Promise<void> {
  if (to !== "diffusers") return;
  const header = await readSafetensorsHeader(input);
  const kinds = groupModules(header.tensors).map(kindOf);
  const { not } = loadersFor(kinds);
  const refused = not.find((entry) => entry.tool === "diffusers");
  if (refused) {
    throw new DanluError(
      `${input} holds ${refused.kinds.join("/")} modules, which the diffusers layout cannot express: diffusers' load_lora_weights reads LoRA/LoCon factors only`,
      {
        code: "BAD_ARGUMENT",
        hint: `${loadersLine(kinds)}; use the file as it is there, or bake it into a checkpoint (danlu lora bake MODEL ${input} -o OUT.safetensors) for diffusers`,
      },
    );
  }
}
