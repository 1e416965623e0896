import { InvalidArgumentError, Option, type Command } from "commander";
import { RESIZE_METHODS } from "../engine/spec-lora.ts";
import {
  bakeLoras,
  extractLora,
  mergeLoras,
  parseWeighted,
  resizeLora,
  LORA_TOOL_DEFAULTS as D,
  type Precision,
  type ResizeMethod,
  type ToolResult,
} from "../lora/tools.ts";

const PRECISIONS = ["float", "fp16", "bf16"] as const;

function positiveInt(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidArgumentError("expected a whole number >= 1");
  return value;
}

function positiveNumber(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new InvalidArgumentError("expected a number >= 0");
  return value;
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** The kept share per module (Frobenius norm and sum of singular values), then the mean and the worst. */
function printResult(result: ToolResult, json: boolean, what: string): void {
  if (json) {
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    return;
  }
  const modules = result.modules ?? [];
  if (modules.length > 0) {
    const width = Math.max(...modules.map((m) => m.module.length));
    for (const m of modules) {
      const line = `${m.module.padEnd(width)}  rank ${String(m.rank).padStart(4)} -> ${String(m.new_rank).padEnd(4)}`;
      process.stdout.write(
        `${line}  kept ${percent(m.fro_kept)} (Frobenius), ${percent(m.sum_kept)} (sum of SVs)\n`,
      );
    }
    process.stdout.write(
      `kept on average ${percent(result.mean_fro_kept ?? 1)} of each module's Frobenius norm (least: ${percent(result.min_fro_kept ?? 1)})\n`,
    );
  }
  process.stdout.write(`wrote ${result.out}${what}\n`);
}

const precision = (help: string, fallback?: Precision): Option => {
  const option = new Option("--precision <p>", help).choices(PRECISIONS);
  return fallback ? option.default(fallback) : option;
};

export function registerLoraTools(lora: Command): void {
  lora
    .command("resize")
    .description(
      "lower a LoRA's rank by SVD: a fixed rank, or per module by sv_ratio / sv_fro / sv_cumulative",
    )
    .argument("<input>", "a LoRA .safetensors (kohya, diffusers/PEFT or ComfyUI layout)")
    .argument("<output>", "the new .safetensors file, in the input's layout")
    .requiredOption("--rank <n>", "the new rank; with a dynamic method, the largest rank kept", positiveInt)
    .option("--conv-rank <n>", "the rank for 3x3 conv (LoCon) modules (default: --rank)", positiveInt)
    .addOption(
      new Option("--method <m>", "how each module's rank is chosen")
        .choices(RESIZE_METHODS)
        .default(D.resizeMethod),
    )
    .option(
      "--param <x>",
      "sv_ratio: keep singular values above largest/x; sv_fro: keep share x of the Frobenius norm; sv_cumulative: share x of the sum",
      positiveNumber,
    )
    .addOption(precision("save precision (default: the input's)"))
    .option("--json", "print the report as JSON")
    .action(async (input: string, output: string, o: ResizeFlags) => {
      const result = await resizeLora({ input, out: output, ...o });
      printResult(result, o.json === true, "");
    });

  lora
    .command("merge")
    .description("several LoRAs with weights into one: ranks stacked (exact) or SVD of the sum to --rank")
    .argument("<inputs...>", "LoRA files, each optionally FILE:WEIGHT (default weight 1)")
    .requiredOption("-o, --out <file>", "the merged .safetensors")
    .addOption(
      new Option("--mode <mode>", "concat: exact, ranks add up; svd: to --rank")
        .choices(["concat", "svd"])
        .default(D.mergeMode),
    )
    .option("--rank <n>", "rank of an SVD merge", positiveInt)
    .addOption(precision("save precision (default: the first input's)"))
    .option("--json", "print the report as JSON")
    .action(async (inputs: string[], o: MergeFlags) => {
      const result = await mergeLoras({ inputs: inputs.map(parseWeighted), ...o });
      printResult(result, o.json === true, ` (${o.mode})`);
    });

  lora
    .command("bake")
    .description("merge LoRAs into a base checkpoint and save one single-file checkpoint (LDM key names)")
    .argument("<model>", "the base checkpoint (.safetensors/.ckpt or a diffusers folder)")
    .argument("<loras...>", "LoRA files, each optionally FILE:WEIGHT (default weight 1)")
    .requiredOption("-o, --out <file>", "the new checkpoint .safetensors")
    .addOption(precision("precision of the checkpoint", D.bakePrecision))
    .option("--json", "print the result as JSON")
    .action(
      async (model: string, loras: string[], o: { out: string; precision: Precision; json?: boolean }) => {
        const result = await bakeLoras({ model, loras: loras.map(parseWeighted), ...o });
        printResult(
          result,
          o.json === true,
          ` (${String(result.arch)}, ${String(result.layers_changed)} layers changed)`,
        );
      },
    );

  lora
    .command("extract")
    .description(
      "a LoRA from a fine-tuned checkpoint and its base (SVD of the weight differences, kohya names)",
    )
    .argument("<base>", "the base checkpoint")
    .argument("<tuned>", "the fine-tuned checkpoint (same architecture)")
    .requiredOption("-o, --out <file>", "the new LoRA .safetensors")
    .option("--rank <n>", "rank of every module", positiveInt, D.extractRank)
    .option("--no-text-encoder", "leave the text encoder(s) out")
    .option(
      "--min-diff <x>",
      "skip layers whose largest change is at most x",
      positiveNumber,
      D.extractMinDiff,
    )
    .addOption(precision("save precision", D.extractPrecision))
    .option("--json", "print the report as JSON")
    .action(async (base: string, tuned: string, o: ExtractFlags) => {
      const result = await extractLora({ base, tuned, ...o });
      printResult(result, o.json === true, ` (${String(result.skipped)} layers unchanged and left out)`);
    });
}

interface ResizeFlags {
  rank: number;
  convRank?: number;
  method: ResizeMethod;
  param?: number;
  precision?: Precision;
  json?: boolean;
}
interface MergeFlags {
  out: string;
  mode: "concat" | "svd";
  rank?: number;
  precision?: Precision;
  json?: boolean;
}
interface ExtractFlags {
  out: string;
  rank: number;
  textEncoder: boolean;
  minDiff: number;
  precision: Precision;
  json?: boolean;
}
