import { DanluError } from "../errors.ts";
import { fileUrl, type KnownModel, type ModelSource } from "./registry.ts";

/**
 * Where `danlu models pull` downloads from. The Hugging Face hub cannot be reached from mainland China,
 * so a pull can go to a mirror of the hub (HF_ENDPOINT, the variable huggingface_hub reads too), to
 * ModelScope for models published there, or be replaced by files downloaded by hand (`danlu models add`).
 */
export const DEFAULT_HUB = "https://huggingface.co";
export const DEFAULT_MODELSCOPE = "https://www.modelscope.cn";
export const HUB_MIRROR_EXAMPLE = "https://hf-mirror.com";

/** huggingface, modelscope, or auto: the hub first, ModelScope when the hub cannot be reached. */
export type SourceChoice = ModelSource | "auto";
export const SOURCE_CHOICES: readonly SourceChoice[] = ["huggingface", "modelscope", "auto"];

/** --source, else $DANLU_MODEL_SOURCE, else huggingface ("hf" is short for huggingface). */
export function sourceChoice(explicit?: string): SourceChoice {
  const text = explicit ?? process.env.DANLU_MODEL_SOURCE ?? "huggingface";
  const choice = text === "hf" ? "huggingface" : text;
  if (!SOURCE_CHOICES.includes(choice as SourceChoice)) {
    throw new DanluError(`unknown model source "${text}"`, {
      hint: `use one of: ${SOURCE_CHOICES.join(", ")} (--source or $DANLU_MODEL_SOURCE)`,
      code: "BAD_OPTION",
    });
  }
  return choice as SourceChoice;
}

/** The hub or a mirror of it (same /{repo}/resolve/{revision}/{path} layout): --hub, $DANLU_HUB_URL, $HF_ENDPOINT. */
export function hubUrl(explicit?: string): string {
  return explicit ?? process.env.DANLU_HUB_URL ?? process.env.HF_ENDPOINT ?? DEFAULT_HUB;
}

/** $MODELSCOPE_ENDPOINT, else https://www.modelscope.cn. */
export function modelScopeUrl(): string {
  return process.env.MODELSCOPE_ENDPOINT ?? DEFAULT_MODELSCOPE;
}

/** The sources to try for one model, in order. */
export function sourcesFor(model: KnownModel, choice: SourceChoice): ModelSource[] {
  if (choice === "huggingface") return ["huggingface"];
  if (choice === "auto") return model.modelscope ? ["huggingface", "modelscope"] : ["huggingface"];
  if (!model.modelscope) {
    throw new DanluError(`${model.name} is not published on ModelScope as far as danlu knows`, {
      hint: waysRound(model).join("\n"),
      code: "BAD_OPTION",
    });
  }
  return ["modelscope"];
}

export function sourceUrl(source: ModelSource, hub?: string): string {
  return source === "modelscope" ? modelScopeUrl() : hubUrl(hub);
}

/**
 * The ways to get a model when the hub cannot be reached, one line each: a hub mirror, ModelScope
 * (only for models published there), or by hand followed by `danlu models add`.
 */
export function waysRound(model: KnownModel, dirFlag = ""): string[] {
  const files = model.files.map((f) => fileUrl("huggingface", DEFAULT_HUB, model, f));
  const byHand = model.modelscope
    ? `${files.join(" ")} (or the same names from ${DEFAULT_MODELSCOPE}/models/${model.modelscope})`
    : files.join(" ");
  return [
    `if ${new URL(DEFAULT_HUB).host} cannot be reached, any of:`,
    `  a mirror of the hub: HF_ENDPOINT=${HUB_MIRROR_EXAMPLE} danlu models pull ${model.name}${dirFlag}`,
    model.modelscope
      ? `  ModelScope: danlu models pull ${model.name} --source modelscope${dirFlag}`
      : `  ModelScope: ${model.name} is not published there as far as danlu knows`,
    `  by hand: download ${byHand} into one folder, then: danlu models add ${model.name} FOLDER${dirFlag}`,
  ];
}

/** One line for hints that send a person to pull a model: the pull, then the ways round an unreachable hub. */
export function pullHint(name: string): string {
  return (
    `danlu models pull ${name}; if huggingface.co cannot be reached: HF_ENDPOINT=${HUB_MIRROR_EXAMPLE} ` +
    `danlu models pull ${name}, or --source modelscope, or download the files by hand and run ` +
    `danlu models add ${name} FOLDER`
  );
}
