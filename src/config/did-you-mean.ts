/**
 * Optimal-string-alignment distance (Damerau-Levenshtein where no substring is edited twice): insertions,
 * deletions, substitutions and swaps of two neighbouring characters each cost 1.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known key an unknown one most likely meant, or undefined when nothing is close. Dashes count as
 * underscores (a flag name written in a TOML file) and case is ignored.
 */
export function suggestKey(unknown: string, known: readonly string[]): string | undefined {
  const wanted = unknown.toLowerCase().replaceAll("-", "_");
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(wanted, key.toLowerCase());
    if (!best || distance < best.distance) best = { key, distance };
  }
  // Up to a third of the word may be wrong (at least 1, at most 3 edits): "learing_rate" yes, "seed" for "lr" no.
  const allowed = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  return best && best.distance <= allowed ? best.key : undefined;
}

/** " (did you mean x?)" or "". */
export function didYouMean(unknown: string, known: readonly string[]): string {
  const guess = suggestKey(unknown, known);
  return guess === undefined ? "" : ` (did you mean ${guess}?)`;
}
