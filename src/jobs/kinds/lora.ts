import { basename, extname, join } from "node:path";
import { z } from "zod";
import { convertLora } from "../../lora/convert/convert.ts";
import { LORA_LAYOUTS } from "../../lora/convert/modules.ts";
import { inspectLora } from "../../lora/index.ts";
import { defineKind, jobFileRef, outputName, resolveRef, runRelative } from "./common.ts";
import type { KindContext } from "./types.ts";

/** `danlu lora info|convert` as jobs (pure TypeScript); merge/resize/bake/extract are in lora-tools.ts. */

/** The file a kind writes: `name` (checked, `.safetensors`) in the run folder. */
export function outPath(ctx: KindContext, name: string): string {
  return join(ctx.runDir, outputName(name, ".safetensors"));
}

export const stem = (file: string) => basename(file, extname(file));

export const loraInfo = defineKind({
  name: "lora-info",
  summary:
    "what a LoRA file holds: architecture, network, dim/alpha, training metadata, hash check, block norms (danlu lora info)",
  usesEngine: false,
  params: z.strictObject({
    lora: jobFileRef.describe("the LoRA file, from one of your jobs"),
    modules: z.boolean().default(true).describe("include the per-module list"),
    hash: z.boolean().default(true).describe("check sshs_model_hash (reads the whole file)"),
    norms: z.boolean().default(true).describe("per-block weight norms (read every weight once)"),
  }),
  async run(p, ctx) {
    ctx.stage("reading");
    const { info, summary, blockNorms } = await inspectLora(resolveRef(ctx, p.lora), p);
    const { path: _path, modules, ...facts } = info;
    return {
      info: { ...facts, ...(p.modules ? { modules } : {}) },
      summary,
      block_norms: blockNorms ?? null,
    };
  },
});

export const loraConvert = defineKind({
  name: "lora-convert",
  summary:
    "rewrite a LoRA in the kohya, diffusers/PEFT or ComfyUI layout, weights byte for byte (danlu lora convert)",
  usesEngine: false,
  params: z.strictObject({
    lora: jobFileRef.describe("the LoRA file, from one of your jobs (layout detected from its keys)"),
    to: z.enum(LORA_LAYOUTS).describe("the layout to write"),
    arch: z
      .enum(["sd15", "sd2", "sdxl"])
      .optional()
      .describe("the base model family, when the file does not tell"),
    out: z
      .string()
      .optional()
      .describe("the new file's name in this job's folder (unset: {input}-{to}.safetensors)"),
  }),
  async run(p, ctx) {
    ctx.stage("converting");
    const input = resolveRef(ctx, p.lora);
    const output = outPath(ctx, p.out ?? `${stem(input)}-${p.to}.safetensors`);
    const report = await convertLora(input, output, { to: p.to, ...(p.arch ? { arch: p.arch } : {}) });
    return {
      file: runRelative(ctx, report.output),
      from: report.from,
      to: report.to,
      arch: report.arch,
      modules: report.modules,
    };
  },
});
