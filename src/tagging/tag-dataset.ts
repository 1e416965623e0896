import type { ModelKind } from "../models-store/registry.ts";
import { loadCaptioner, type Captioner, type FlorenceTask } from "./caption/captioner.ts";
import { DEFAULT_FORMAT, type FormatOptions } from "./wd/select.ts";
import { tagFolder, type TagFolderReport } from "./wd/tag-folder.ts";
import { parseTagReplacements, splitTagList } from "./wd/tag-names.ts";

/**
 * `danlu tag` and the service's tag job: which models caption a folder and how tags are written. Model
 * names are resolved by the caller (the CLI: a name in the models folder or a path; the service: a name
 * in its models folder only).
 */
export type CaptionTask = "caption" | "detailed" | "more-detailed";

export interface TagSettings {
  /** WD tagger names; several are merged. */
  models: readonly string[];
  /** A captioning model whose sentence goes first. */
  captionModel?: string | undefined;
  captionTask: CaptionTask;
  /** Unset: the model's precision=recall value, else 0.35. Above 1 turns the category off. */
  generalThreshold?: number | undefined;
  /** Unset: 0.85. */
  characterThreshold?: number | undefined;
  rating: FormatOptions["rating"];
  characterFirst: boolean;
  expandCharacters: boolean;
  /** Replace underscores by spaces (kaomoji such as ^_^ keep theirs). */
  underscores: boolean;
  /** Tags never written, separated like the caption. */
  undesired: string;
  /** "source,target;source2,target2" (\, and \; escape). */
  replace?: string | undefined;
  /** Tags moved to the front when present, in this order. */
  alwaysFirst: string;
  /** Add new tags to existing captions instead of overwriting them. */
  append: boolean;
  separator: string;
  captionExtension: string;
  /** Images per model run. */
  batchSize: number;
  recursive: boolean;
  /** Use probabilities stored in manifest.json for unchanged images (new thresholds, no model run). */
  reuseProbabilities: boolean;
  /** onnxruntime threads (unset: the number of cores). */
  threads?: number | undefined;
}

/** The defaults of every optional setting: the CLI's flags and the job's params both use them. */
export const TAG_DEFAULTS = {
  captionTask: "detailed",
  rating: "none",
  characterFirst: false,
  expandCharacters: false,
  underscores: true,
  undesired: "",
  alwaysFirst: "",
  append: false,
  separator: ", ",
  captionExtension: ".txt",
  batchSize: 4,
  recursive: false,
  reuseProbabilities: false,
} as const satisfies Partial<TagSettings>;

export const FLORENCE_TASKS: Record<CaptionTask, FlorenceTask> = {
  caption: "<CAPTION>",
  detailed: "<DETAILED_CAPTION>",
  "more-detailed": "<MORE_DETAILED_CAPTION>",
};

/** A model name to its folder; `name` is what manifest.json keys the model's probabilities by. */
export type ModelResolver = (name: string, kind: ModelKind) => Promise<{ name: string; folder: string }>;

export interface TagDatasetResult {
  report: TagFolderReport;
  /** The captioning model's name, when one wrote sentences. */
  captioner: string | null;
}

export function tagFormatOptions(s: TagSettings): FormatOptions {
  return {
    ...DEFAULT_FORMAT,
    rating: s.rating,
    characterFirst: s.characterFirst,
    expandCharacters: s.expandCharacters,
    removeUnderscores: s.underscores,
    undesired: new Set(splitTagList(s.undesired, s.separator)),
    replacements: s.replace ? parseTagReplacements(s.replace) : new Map(),
    alwaysFirst: splitTagList(s.alwaysFirst, s.separator),
  };
}

/** Tags every image of `dir` (writes IMAGE.txt), with the taggers and captioner the settings name. */
export async function tagDataset(
  dir: string,
  s: TagSettings,
  options: { resolveModel: ModelResolver; onProgress?: (done: number, total: number) => void },
): Promise<TagDatasetResult> {
  const taggers = [];
  for (const model of s.models) {
    const { name, folder } = await options.resolveModel(model, "tagger");
    taggers.push({ name, folder, general: s.generalThreshold, character: s.characterThreshold });
  }
  let captioner: Captioner | undefined;
  if (s.captionModel) {
    const { name, folder } = await options.resolveModel(s.captionModel, "captioner");
    captioner = await loadCaptioner(folder, name, {
      task: FLORENCE_TASKS[s.captionTask],
      threads: s.threads,
    });
  }
  try {
    const report = await tagFolder({
      dir,
      taggers,
      captioner,
      format: tagFormatOptions(s),
      separator: s.separator,
      existing: s.append ? "append" : "overwrite",
      captionExtension: s.captionExtension,
      batchSize: s.batchSize,
      recursive: s.recursive,
      reuseProbabilities: s.reuseProbabilities,
      threads: s.threads,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return { report, captioner: captioner?.name ?? null };
  } finally {
    await captioner?.dispose();
  }
}
