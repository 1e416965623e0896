import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { DanluError } from "../errors.ts";
import { readLoraContent, layoutFile } from "./convert/convert.ts";
import { detectLayout } from "./convert/detect.ts";
import type { ConvertArch, LoraLayout } from "./convert/modules.ts";
import { readSafetensorsHeader, writeSafetensors } from "./safetensors.ts";

/**
 * Every reader of LoRA files (info, the engine's lora-* tools) works on kohya names; a file in the
 * diffusers/PEFT or ComfyUI layout that `danlu lora convert` writes is read through a kohya copy in a
 * temporary folder, removed when `use` is done. Only names change, so what is read is the same LoRA.
 */
export interface KohyaView {
  /** The kohya-layout file to read: the file itself when it is one already. */
  path: string;
  /** The layout of the file given; null when its keys fit no layout wholly (read as kohya, as before). */
  layout: LoraLayout | null;
  /** Known when the file was converted. */
  arch?: ConvertArch;
}

export async function withKohyaView<T>(path: string, use: (view: KohyaView) => Promise<T>): Promise<T> {
  const layout = detectLayout(Object.keys((await readSafetensorsHeader(path)).tensors));
  if (layout === null || layout === "kohya") return use({ path, layout });
  const dir = await mkdtemp(join(tmpdir(), "danlu-kohya-view-"));
  try {
    const { content } = await readLoraContent(path).catch((error: unknown) => {
      if (!(error instanceof DanluError) || error.code !== "ARCH_UNKNOWN") throw error;
      throw new DanluError(`${error.message} (it is in the ${layout} layout)`, {
        code: error.code,
        hint: `convert it, naming the base model: danlu lora convert ${path} OUT.safetensors --to kohya --arch sd15|sd2|sdxl`,
      });
    });
    const { tensors, metadata } = layoutFile(content, "kohya");
    const view = join(dir, basename(path));
    await writeSafetensors(view, tensors, metadata);
    return await use({ path: view, layout, arch: content.arch });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** withKohyaView for several files at once. */
export async function withKohyaViews<T>(
  paths: string[],
  use: (views: KohyaView[]) => Promise<T>,
): Promise<T> {
  const [first, ...rest] = paths;
  if (first === undefined) return use([]);
  return withKohyaView(first, (view) => withKohyaViews(rest, (views) => use([view, ...views])));
}
