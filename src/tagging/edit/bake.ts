import type { CaptionEntry } from "./caption.ts";
import { tagFrequency, type TagCount } from "./frequency.ts";

/**
 * "Bake into the trigger" (the guides' recipe): the trigger word goes first, and the tags for the
 * subject's fixed traits (eye colour, hair, a birthmark) are removed, so the trigger learns them;
 * tags for what varies (clothes, background) stay and remain promptable.
 */

/**
 * Proposed traits: tags present in at least `minShare` (0..1) of the images, most common first. The
 * trigger itself is never proposed.
 */
export function proposeTraitTags(
  entries: readonly CaptionEntry[],
  minShare: number,
  trigger: string,
): TagCount[] {
  return tagFrequency(entries).filter((count) => count.tag !== trigger && count.share >= minShare);
}

/** The trigger first (moved there if the caption already has it), then the tags that are not traits. */
export function bakeTrigger(tags: readonly string[], trigger: string, traits: ReadonlySet<string>): string[] {
  return [trigger, ...tags.filter((tag) => tag !== trigger && !traits.has(tag))];
}

/**
 * The trigger word a folder already has: the first tag, when two or more images are captioned and
 * all start with the same tag (what `bake` leaves behind). Null otherwise: one caption is no evidence.
 */
export function sharedFirstTag(entries: readonly CaptionEntry[]): string | null {
  const captioned = entries.filter((entry) => entry.tags.length > 0);
  const firsts = new Set(captioned.map((entry) => entry.tags[0]));
  const [only] = firsts;
  return captioned.length >= 2 && firsts.size === 1 && only !== undefined ? only : null;
}
