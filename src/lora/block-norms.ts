import { decodeValues } from "./dtypes.ts";
import type { LoraModuleInfo } from "./lora-info.ts";
import { diffusersToLdm, underscoredToPath, type UnetFamily } from "./convert/names.ts";
import type { SafetensorsHeader, TensorEntry } from "./safetensors.ts";
import { readTensorsBytes } from "./safetensors.ts";

/**
 * How strongly a LoRA changes each block of the model, grouped as the LoRA Block Weight extension for A1111
 * names blocks: BASE (the text encoders), IN00-IN11 (LDM input_blocks), M00 (middle_block), OUT00-OUT11
 * (output_blocks). A module's strength is the Frobenius norm of its weight change up @ down * alpha/rank;
 * a block's is the root of the sum of its modules' squares (the norm of all its changes together).
 */
export interface BlockNorm {
  block: string;
  modules: number;
  norm: number;
}

/** ||U D||_F^2 = sum_ij (U^T U)_ij (D D^T)_ij: two rank x rank Gram matrices instead of the full product. */
export function productNormSquared(up: ArrayLike<number>, down: ArrayLike<number>, rank: number): number {
  const outSize = up.length / rank; // up: [out, rank] row-major
  const inSize = down.length / rank; // down: [rank, in] row-major
  let total = 0;
  for (let i = 0; i < rank; i++) {
    for (let j = i; j < rank; j++) {
      let gu = 0;
      for (let o = 0; o < outSize; o++) gu += (up[o * rank + i] ?? 0) * (up[o * rank + j] ?? 0);
      let gd = 0;
      for (let k = 0; k < inSize; k++) gd += (down[i * inSize + k] ?? 0) * (down[j * inSize + k] ?? 0);
      total += (i === j ? 1 : 2) * gu * gd;
    }
  }
  return total;
}

/** The block a UNet or text-encoder module belongs to; null when it fits no block (e.g. conv_in). */
export function blockOf(module: LoraModuleInfo, family: UnetFamily): string | null {
  if (module.part !== "unet") return module.part === "other" ? null : "BASE";
  const path = underscoredToPath(module.name.replace(/^lora_unet_/, ""));
  const ldm = /^(input_blocks|middle_block|output_blocks)\./.test(path) ? path : diffusersToLdm(path, family);
  const m = /^(input_blocks|middle_block|output_blocks)\.(\d+)/.exec(ldm ?? "");
  if (!m) return null;
  const index = String(m[1] === "middle_block" ? 0 : Number(m[2])).padStart(2, "0");
  return `${m[1] === "input_blocks" ? "IN" : m[1] === "middle_block" ? "M" : "OUT"}${index}`;
}

function order(block: string): number {
  const m = /^(BASE|IN|M|OUT)(\d*)$/.exec(block);
  const group = { BASE: 0, IN: 1, M: 2, OUT: 3 }[m?.[1] ?? "BASE"] ?? 0;
  return group * 100 + Number(m?.[2] || 0);
}

/** Per-block norms of the LoRA/LoCon/DoRA modules (other network kinds are left out). */
export async function blockNorms(
  header: SafetensorsHeader,
  modules: LoraModuleInfo[],
  family: UnetFamily,
): Promise<BlockNorm[]> {
  const squares = new Map<string, { modules: number; sum: number }>();
  for (const module of modules) {
    if (!["lora", "locon", "dora"].includes(module.kind) || !module.rank) continue;
    const block = blockOf(module, family);
    if (block === null) continue;
    const keys = [`${module.name}.lora_up.weight`, `${module.name}.lora_down.weight`];
    const bytes = await readTensorsBytes(header, keys);
    const [up, down] = keys.map((k) => decodeValues((header.tensors[k] as TensorEntry).dtype, bytes.get(k)!));
    const scale = (module.alpha ?? module.rank) / module.rank;
    const value = productNormSquared(up ?? [], down ?? [], module.rank) * scale * scale;
    const entry = squares.get(block) ?? { modules: 0, sum: 0 };
    squares.set(block, { modules: entry.modules + 1, sum: entry.sum + value });
  }
  return [...squares]
    .map(([block, { modules: count, sum }]) => ({ block, modules: count, norm: Math.sqrt(sum) }))
    .sort((a, b) => order(a.block) - order(b.block));
}
