import type { RunRecord } from "../engine/spec.ts";
import { ABSENT_MEANS } from "./resume-record.ts";

/** One difference between a saved run and this one, as a person reads it, and how to put it back. */
export interface RecordChange {
  /** "learning_rate: 0.0001 -> 0.00005", "dataset: 2 images added (sks/d.png, sks/e.png)" */
  text: string;
  /** "learning_rate = 0.0001", "the dataset as it was"; null: nothing a setting can restore. */
  restore: string | null;
}

type JsonValue = RunRecord["settings"][string];

/** A setting's value as a config file spells it (null: not set). */
export function formatValue(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return "unset";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** Key order does not matter: {a, b} equals {b, a}. */
function canonical(value: JsonValue | undefined): string {
  if (value === null || value === undefined || typeof value !== "object")
    return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

function settingChanges(saved: RunRecord["settings"], now: RunRecord["settings"]): RecordChange[] {
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(now)])];
  const absentMeans = ABSENT_MEANS as Record<string, JsonValue | undefined>;
  const value = (record: RunRecord["settings"], key: string) => record[key] ?? absentMeans[key];
  return keys
    .filter((key) => canonical(value(saved, key)) !== canonical(value(now, key)))
    .map((key) => ({
      text: `${key}: ${formatValue(value(saved, key))} -> ${formatValue(value(now, key))}`,
      restore: `${key} = ${formatValue(value(saved, key))}`,
    }));
}

function fileChange(
  label: string,
  key: string,
  saved: RunRecord["vae"],
  now: RunRecord["vae"],
): RecordChange[] {
  if (saved?.id === now?.id) return [];
  const show = (file: RunRecord["vae"]) => (file ? `${file.path} (id ${file.id.slice(0, 8)})` : "none");
  return [
    {
      text: `${label}: ${show(saved)} -> ${show(now)}`,
      restore: `${key} = ${saved ? JSON.stringify(saved.path) : "unset"}`,
    },
  ];
}

/** "a.png, b.png" or "a.png, b.png, c.png and 4 more" */
function names(list: string[]): string {
  const shown = list.slice(0, 3).join(", ");
  return list.length > 3 ? `${shown} and ${list.length - 3} more` : shown;
}

function counted(count: number, one: string, verb: string, list: string[]): string {
  return `${count} ${one}${count === 1 ? "" : "s"} ${verb} (${names(list)})`;
}

/** Folders added, removed or with other repeats; images added, removed, with other bytes or captions. */
export function datasetChanges(saved: RunRecord["dataset"], now: RunRecord["dataset"]): RecordChange[] {
  const changes: RecordChange[] = [];
  const newFolders = Object.keys(now.folders).filter((f) => !(f in saved.folders));
  const goneFolders = Object.keys(saved.folders).filter((f) => !(f in now.folders));
  const inFolder = (folders: string[]) => (image: string) => folders.some((f) => image.startsWith(`${f}/`));
  for (const folder of newFolders) changes.push({ text: `dataset: folder ${folder} added`, restore: null });
  for (const folder of goneFolders)
    changes.push({ text: `dataset: folder ${folder} removed`, restore: null });
  for (const [folder, { repeats }] of Object.entries(now.folders)) {
    const was = saved.folders[folder]?.repeats;
    if (was !== undefined && was !== repeats) {
      changes.push({
        text: `dataset: folder ${folder} repeats: ${was} -> ${repeats}`,
        restore: `${was} repeats for ${folder}`,
      });
    }
  }
  const added = Object.keys(now.images).filter((i) => !(i in saved.images) && !inFolder(newFolders)(i));
  const removed = Object.keys(saved.images).filter((i) => !(i in now.images) && !inFolder(goneFolders)(i));
  const kept = Object.keys(now.images).filter((i) => i in saved.images);
  const edited = kept.filter((i) => saved.images[i]?.file !== now.images[i]?.file);
  const recaptioned = kept.filter((i) => saved.images[i]?.caption !== now.images[i]?.caption);
  const parts = [
    added.length > 0 ? counted(added.length, "image", "added", added) : "",
    removed.length > 0 ? counted(removed.length, "image", "removed", removed) : "",
    edited.length > 0 ? counted(edited.length, "image file", "changed", edited) : "",
    recaptioned.length > 0 ? counted(recaptioned.length, "caption", "changed", recaptioned) : "",
  ].filter(Boolean);
  if (parts.length > 0) changes.push({ text: `dataset: ${parts.join("; ")}`, restore: null });
  return changes;
}

/** Everything but the run's length (resume-check.ts decides that): empty when it is the same run. */
export function recordChanges(saved: RunRecord, now: RunRecord): RecordChange[] {
  return [
    ...(saved.arch === now.arch ? [] : [{ text: `arch: ${saved.arch} -> ${now.arch}`, restore: null }]),
    ...fileChange("base model", "pretrained_model_name_or_path", saved.base_model, now.base_model),
    ...fileChange("vae", "vae", saved.vae, now.vae),
    ...settingChanges(saved.settings, now.settings),
    ...datasetChanges(saved.dataset, now.dataset),
  ];
}
