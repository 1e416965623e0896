/**
 * Trigger words of a LoRA, from its metadata: modelspec.trigger_phrase when the trainer wrote one, then
 * the tags found in every caption of a dataset folder (ss_tag_frequency counts against ss_dataset_dirs'
 * img_count: a trigger is kept first in every caption), else the most frequent tags.
 */
export interface TriggerWord {
  word: string;
  source: "trigger_phrase" | "every caption" | "most frequent";
  count: number | null;
}

function parse<T>(text: string | undefined): T | null {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

export function triggerWords(metadata: Record<string, string>, fallbackCount = 3): TriggerWord[] {
  const words: TriggerWord[] = [];
  const seen = new Set<string>();
  const add = (word: string, source: TriggerWord["source"], count: number | null): void => {
    const clean = word.trim();
    if (clean && !seen.has(clean.toLowerCase())) {
      seen.add(clean.toLowerCase());
      words.push({ word: clean, source, count });
    }
  };
  for (const phrase of (metadata["modelspec.trigger_phrase"] ?? "").split(","))
    add(phrase, "trigger_phrase", null);
  const frequency = parse<Record<string, Record<string, number>>>(metadata.ss_tag_frequency) ?? {};
  const dirs = parse<Record<string, { img_count?: number }>>(metadata.ss_dataset_dirs) ?? {};
  const inEvery: [string, number][] = [];
  for (const [dir, tags] of Object.entries(frequency)) {
    const images = dirs[dir]?.img_count;
    if (!images) continue;
    for (const [tag, count] of Object.entries(tags ?? {})) if (count >= images) inEvery.push([tag, count]);
  }
  inEvery.sort((a, b) => b[1] - a[1]).forEach(([tag, count]) => add(tag, "every caption", count));
  if (words.length === 0) {
    const totals = new Map<string, number>();
    for (const tags of Object.values(frequency))
      for (const [tag, count] of Object.entries(tags ?? {}))
        totals.set(tag.trim(), (totals.get(tag.trim()) ?? 0) + count);
    [...totals]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, fallbackCount)
      .forEach(([tag, count]) => add(tag, "most frequent", count));
  }
  return words;
}
