/**
 * Models `danlu models pull NAME` knows how to fetch from the Hugging Face hub. Sizes and sha256
 * values are given where they were published for the pinned revision (the hub's LFS object ids,
 * as recorded by several independent projects); files without one are checked by size when known
 * and their sha256 is recorded on first download (shown by `danlu models list`).
 */
import { CONTROLNET_MODELS } from "./registry-controlnet.ts";

export const MODEL_KINDS = ["tagger", "captioner", "preprocessor", "controlnet"] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

export interface KnownFile {
  /** Path inside the repository and inside the local model folder. */
  path: string;
  size?: number;
  sha256?: string;
}

export interface KnownModel {
  name: string;
  kind: ModelKind;
  /** The Hugging Face repository. */
  repo: string;
  /**
   * The ModelScope repository with the same files, only where one is known to be published; pulled
   * from its `master`. Files with a sha256 here are checked against it whichever source they come from.
   */
  modelscope?: string;
  /** A commit id where known, so the checksums stay valid; otherwise "main". */
  revision: string;
  licence: string;
  about: string;
  files: KnownFile[];
}

/** The tag list shared by SmilingWolf's v3 taggers (same file in swinv2 and eva02-large). */
const V3_TAGS: KnownFile = {
  path: "selected_tags.csv",
  size: 308_468,
  sha256: "298633d94d0031d2081c0893f29c82eab7f0df00b08483ba8f29d1e979441217",
};

/**
 * SmilingWolf's taggers that fireicewolf mirrors on ModelScope under the same names (a third-party
 * copy, linked as the China download by several tagger projects). The other v2 taggers and the
 * captioners have no ModelScope repository we know of.
 */
const MODELSCOPE_WD_MIRRORS = new Set([
  "wd-vit-tagger-v3",
  "wd-swinv2-tagger-v3",
  "wd-convnext-tagger-v3",
  "wd-vit-large-tagger-v3",
  "wd-eva02-large-tagger-v3",
  "wd-v1-4-moat-tagger-v2",
]);

function wdTagger(
  name: string,
  about: string,
  revision = "main",
  model: Omit<KnownFile, "path"> = {},
): KnownModel {
  const isV3 = name.endsWith("-v3");
  return {
    name,
    kind: "tagger",
    repo: `SmilingWolf/${name}`,
    ...(MODELSCOPE_WD_MIRRORS.has(name) ? { modelscope: `fireicewolf/${name}` } : {}),
    revision,
    licence: "Apache-2.0",
    about,
    files: [
      { path: "model.onnx", ...model },
      isV3 && revision !== "main" ? V3_TAGS : { path: "selected_tags.csv" },
    ],
  };
}

export const KNOWN_MODELS: readonly KnownModel[] = [
  wdTagger("wd-vit-tagger-v3", "WD v3 ViT tagger (448 px)", "7f6b584d0bd3f55c4531f14ba3d4761b2bccdc0f", {
    size: 378_536_310,
  }),
  wdTagger(
    "wd-swinv2-tagger-v3",
    "WD v3 SwinV2 tagger (448 px)",
    "627aef95638667ddcaa3ac8ae625e88ea5b02f51",
    {
      size: 467_460_978,
      sha256: "e6774bff34d43bd49f75a47db4ef217dce701c9847b546523eb85ff6dbba1db1",
    },
  ),
  wdTagger("wd-convnext-tagger-v3", "WD v3 ConvNeXt tagger (448 px)"),
  wdTagger(
    "wd-vit-large-tagger-v3",
    "WD v3 ViT-Large tagger (448 px)",
    "ae469aa2e4706a3af08d3673cf73a11d1add314c",
    {
      sha256: "e4c8001b000a6c98f2db10794f7c406daa79873d071d6ca924330fa053fa1845",
    },
  ),
  wdTagger(
    "wd-eva02-large-tagger-v3",
    "WD v3 EVA02-Large tagger (448 px, slow)",
    "b25b82a03f7282e41aa2f257a52c7583b710bd1c",
    {
      sha256: "9e768793060c7939b277ccb382783e8670e8a042d29d77aa736be0c8cc898bfc",
    },
  ),
  wdTagger("wd-v1-4-moat-tagger-v2", "WD v1.4 MOAT tagger v2 (448 px)"),
  wdTagger("wd-v1-4-swinv2-tagger-v2", "WD v1.4 SwinV2 tagger v2 (448 px)"),
  wdTagger("wd-v1-4-convnextv2-tagger-v2", "WD v1.4 ConvNeXtV2 tagger v2 (448 px)"),
  wdTagger("wd-v1-4-convnext-tagger-v2", "WD v1.4 ConvNeXt tagger v2 (448 px)"),
  wdTagger("wd-v1-4-vit-tagger-v2", "WD v1.4 ViT tagger v2 (448 px)"),
  {
    name: "vit-gpt2-image-captioning",
    kind: "captioner",
    repo: "Xenova/vit-gpt2-image-captioning",
    revision: "main",
    licence: "Apache-2.0",
    about: "short captions (ViT encoder + GPT-2 decoder, 8-bit)",
    files: transformersJsFiles(["encoder_model", "decoder_model_merged"]),
  },
  {
    name: "florence-2-base-ft",
    kind: "captioner",
    repo: "onnx-community/Florence-2-base-ft",
    revision: "main",
    licence: "MIT",
    about: "detailed captions (Florence-2 base, 8-bit)",
    files: transformersJsFiles(["vision_encoder", "embed_tokens", "encoder_model", "decoder_model_merged"]),
  },
  ...CONTROLNET_MODELS,
];

/** The JSON files every transformers.js model folder has, plus the 8-bit ONNX graphs named. */
function transformersJsFiles(graphs: string[]): KnownFile[] {
  const json = ["config.json", "generation_config.json", "preprocessor_config.json"];
  const tokenizer = ["tokenizer.json", "tokenizer_config.json"];
  return [...json, ...tokenizer, ...graphs.map((graph) => `onnx/${graph}_quantized.onnx`)].map((path) => ({
    path,
  }));
}

export function findKnownModel(
  name: string,
  catalogue: readonly KnownModel[] = KNOWN_MODELS,
): KnownModel | undefined {
  return catalogue.find((model) => model.name === name);
}

/** Where a pull downloads from: the Hugging Face hub (or a mirror of it), or ModelScope. */
export type ModelSource = "huggingface" | "modelscope";

/**
 * `{hub}/{repo}/resolve/{revision}/{path}` on the hub and its mirrors (hf-mirror.com);
 * `{endpoint}/models/{repo}/resolve/master/{path}` on ModelScope.
 */
export function fileUrl(source: ModelSource, endpoint: string, model: KnownModel, file: KnownFile): string {
  const base = endpoint.replace(/\/+$/, "");
  if (source === "modelscope") return `${base}/models/${model.modelscope}/resolve/master/${file.path}`;
  return `${base}/${model.repo}/resolve/${model.revision}/${file.path}`;
}
