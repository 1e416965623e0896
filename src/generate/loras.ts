import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { DanluError } from "../errors.ts";
import type { GenLora } from "../engine/spec.ts";
import type { PromptLora } from "./prompt.ts";

const LORA_EXTENSIONS = [".safetensors"];

/** `FILE[:weight]` from --lora: the weight after the last colon when it is a number, else 1. */
export function parseLoraFlag(value: string): { path: string; weight: number } {
  const colon = value.lastIndexOf(":");
  if (colon > 1) {
    const weight = Number(value.slice(colon + 1));
    if (value.slice(colon + 1).trim() !== "" && Number.isFinite(weight)) {
      return { path: value.slice(0, colon), weight };
    }
  }
  return { path: value, weight: 1 };
}

function loraFilesIn(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return found;
  for (const entry of readdirSync(dir).sort()) {
    const ext = extname(entry).toLowerCase();
    if (LORA_EXTENSIONS.includes(ext)) found.set(basename(entry, extname(entry)), join(dir, entry));
  }
  return found;
}

function nameOf(path: string): string {
  return basename(path, extname(path));
}

/**
 * The LoRAs of one generation: --lora files, then `<lora:name>` tags resolved by file name in
 * --lora-dir or next to the --lora files (as A1111 looks in models/Lora). An unknown name is an error
 * that lists the names there.
 */
export function resolveLoras(
  flags: { path: string; weight: number }[],
  tags: PromptLora[],
  loraDir: string | undefined,
): GenLora[] {
  const loras: GenLora[] = flags.map(({ path, weight }) => {
    const full = resolve(path);
    if (!existsSync(full)) {
      throw new DanluError(`--lora ${path}: no such file.`, {
        code: "FILE_NOT_FOUND",
        hint: "Give the path of a LoRA .safetensors file, optionally with :weight (e.g. alice.safetensors:0.8).",
      });
    }
    return { path: full, name: nameOf(full), unet_weight: weight, te_weight: weight };
  });
  if (tags.length === 0) return loras;
  const dirs = [...new Set([...(loraDir ? [resolve(loraDir)] : []), ...loras.map((l) => dirname(l.path))])];
  const available = new Map<string, string>();
  for (const dir of dirs)
    for (const [name, path] of loraFilesIn(dir)) if (!available.has(name)) available.set(name, path);
  for (const tag of tags) {
    const path = available.get(tag.name);
    if (path === undefined) {
      const where = dirs.length > 0 ? dirs.join(", ") : "(no folder: give --lora-dir)";
      const names = [...available.keys()];
      throw new DanluError(
        `The prompt names <lora:${tag.name}>, but there is no ${tag.name}.safetensors in ${where}.`,
        {
          code: "LORA_NOT_FOUND",
          hint:
            names.length > 0
              ? `LoRAs there: ${names.join(", ")}.`
              : "Put the LoRA files in a folder and pass it with --lora-dir.",
        },
      );
    }
    loras.push({ path, name: tag.name, unet_weight: tag.unetWeight, te_weight: tag.teWeight });
  }
  return loras;
}
