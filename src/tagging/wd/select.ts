import type { TagCategory, TagLabel } from "./labels.ts";
import { expandCharacterTag, underscoresToSpaces } from "./tag-names.ts";
import type { Thresholds } from "./thresholds.ts";

/**
 * From probabilities to caption tags. Everything here works on raw tag names (as in
 * selected_tags.csv) until `formatTags`, so the output of several taggers merges on the same names.
 */
export interface ScoredTag {
  name: string;
  category: TagCategory;
  probability: number;
}

/** Tag name -> category, built once per model (a tagger has about 10,000 labels). */
export function categoryMap(labels: readonly TagLabel[]): ReadonlyMap<string, TagCategory> {
  return new Map(labels.map((label) => [label.name, label.category]));
}

/**
 * Tags at or above their category's threshold, most probable first; ratings and "other" excluded.
 * Walks the probabilities given (the manifest keeps only those above a floor), not every label.
 */
export function selectTags(
  categories: ReadonlyMap<string, TagCategory>,
  probabilities: Record<string, number>,
  t: Thresholds,
): ScoredTag[] {
  const selected: ScoredTag[] = [];
  for (const [name, probability] of Object.entries(probabilities)) {
    const category = categories.get(name);
    const threshold = category === "general" ? t.general : category === "character" ? t.character : Infinity;
    if (category && probability >= threshold) selected.push({ name, category, probability });
  }
  return selected.sort(byProbability);
}

/** The rating with the highest probability (ratings are exclusive: argmax, no threshold). */
export function topRating(
  categories: ReadonlyMap<string, TagCategory>,
  probabilities: Record<string, number>,
): ScoredTag | undefined {
  let best: ScoredTag | undefined;
  for (const [name, probability] of Object.entries(probabilities)) {
    if (categories.get(name) !== "rating") continue;
    if (!best || probability > best.probability) best = { name, category: "rating", probability };
  }
  return best;
}

/** Union of several taggers' selections; a tag chosen by more than one keeps its highest probability. */
export function mergeSelections(selections: readonly ScoredTag[][]): ScoredTag[] {
  const merged = new Map<string, ScoredTag>();
  for (const tag of selections.flat()) {
    const seen = merged.get(tag.name);
    if (!seen || tag.probability > seen.probability) merged.set(tag.name, tag);
  }
  return [...merged.values()].sort(byProbability);
}

export interface FormatOptions {
  /** Where the rating tag goes; "none" leaves it out. */
  rating: "none" | "first" | "last";
  characterFirst: boolean;
  /** Underscores become spaces, except in kaomoji tags. */
  removeUnderscores: boolean;
  /** `name_(series)` -> `name`, `series`. */
  expandCharacters: boolean;
  /** Matched against both the raw and the formatted name. */
  undesired: ReadonlySet<string>;
  /** Formatted name -> replacement (applied after underscore handling, like sd-scripts). */
  replacements: ReadonlyMap<string, string>;
  /** Moved to the front in this order when present. */
  alwaysFirst: readonly string[];
}

export const DEFAULT_FORMAT: FormatOptions = {
  rating: "none",
  characterFirst: false,
  removeUnderscores: true,
  expandCharacters: false,
  undesired: new Set(),
  replacements: new Map(),
  alwaysFirst: [],
};

/** Turns selected raw tags (and an optional rating) into the caption's tag list. */
export function formatTags(selected: readonly ScoredTag[], rating: ScoredTag | undefined, o: FormatOptions) {
  const ordered = o.characterFirst
    ? [
        ...selected.filter((t) => t.category === "character"),
        ...selected.filter((t) => t.category !== "character"),
      ]
    : [...selected];
  if (rating && o.rating === "first") ordered.unshift(rating);
  if (rating && o.rating === "last") ordered.push(rating);

  const out: string[] = [];
  for (const tag of ordered) {
    if (o.undesired.has(tag.name)) continue;
    const parts =
      tag.category === "character" && o.expandCharacters ? expandCharacterTag(tag.name) : [tag.name];
    for (const part of parts) {
      const spaced = o.removeUnderscores ? underscoresToSpaces(part) : part;
      const name = o.replacements.get(spaced) ?? spaced;
      if (name === "" || o.undesired.has(name) || o.undesired.has(part) || out.includes(name)) continue;
      out.push(name);
    }
  }
  const first = o.alwaysFirst.filter((tag) => out.includes(tag));
  return [...first, ...out.filter((tag) => !first.includes(tag))];
}

function byProbability(a: ScoredTag, b: ScoredTag): number {
  return b.probability - a.probability;
}
