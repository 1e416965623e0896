import type { BlockNorm } from "./block-norms.ts";
import { describeLora, type LoraSummary } from "./describe.ts";
import { readBlockNorms, readLoraInfo, type LoraInfo } from "./lora-info.ts";

export interface LoraInspection {
  info: LoraInfo;
  summary: LoraSummary;
  /** Per-block weight norms (undefined when not asked for: they read every weight once). */
  blockNorms: BlockNorm[] | undefined;
}

/** `danlu lora info` and the service's lora-info job: the facts, the summary and (optionally) block norms. */
export async function inspectLora(
  path: string,
  options: { hash: boolean; norms: boolean },
): Promise<LoraInspection> {
  const info = await readLoraInfo(path, { hash: options.hash });
  const summary = describeLora(info);
  const sdxl = summary.architecture.startsWith("SDXL");
  const blockNorms = options.norms ? await readBlockNorms(info, sdxl) : undefined;
  return { info, summary, blockNorms };
}
