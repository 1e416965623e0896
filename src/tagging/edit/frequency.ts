import type { CaptionEntry } from "./caption.ts";

export interface TagCount {
  tag: string;
  /** Images whose caption has the tag (a tag repeated in one caption counts once). */
  images: number;
  /** images / total images, 0..1 */
  share: number;
}

/** Tag frequency over the entries, most frequent first, ties in alphabetical order. */
export function tagFrequency(entries: readonly CaptionEntry[]): TagCount[] {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    for (const tag of new Set(entry.tags)) counts.set(tag, (counts.get(tag) ?? 0) + 1);
  }
  const total = entries.length;
  return [...counts]
    .map(([tag, images]) => ({ tag, images, share: total === 0 ? 0 : images / total }))
    .sort((a, b) => b.images - a.images || compareText(a.tag, b.tag));
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A fixed-width table: count, percent of images, tag. */
export function formatFrequencyTable(counts: readonly TagCount[], totalImages: number): string {
  const width = Math.max(5, String(counts[0]?.images ?? 0).length);
  const lines = [`${"count".padStart(width)}  share  tag   (${totalImages} images, ${counts.length} tags)`];
  for (const { tag, images, share } of counts) {
    lines.push(`${String(images).padStart(width)}  ${(share * 100).toFixed(0).padStart(4)}%  ${tag}`);
  }
  return lines.join("\n");
}
