import type { IdentityScores } from "./identity.ts";

/** Everything measured for one saved epoch. */
export interface EpochScores {
  epoch: number;
  meanLoss: number | null;
  valLoss: number | null;
  /** Mean pixel distance from the base model on prompts without the trigger (drift.ts); null: not measured. */
  drift: number | null;
  /** Null when the run is not a face/person LoRA (or no faces were measured). */
  identity: IdentityScores | null;
}

export interface Recommendation {
  /** The epoch to use, or null when nothing supports a choice. */
  epoch: number | null;
  /** Which signal decided, in a sentence. */
  reason: string;
  /** What each signal alone would pick. */
  picks: { signal: string; epoch: number }[];
  /** Where the evidence is weak or the signals disagree. */
  caveats: string[];
}

/** Drift at or above this (mean absolute pixel difference, 0..1) reads as "changes unrelated images". */
export const DRIFT_LIMIT = 0.1;
/** Identity similarities this close count as a tie, broken by the lower drift. */
const IDENTITY_TIE = 0.02;
/** An epoch needs a face in at least this share of its images for its identity score to count. */
const MIN_FACE_RATE = 0.5;

function identityPick(scores: readonly EpochScores[]): EpochScores | null {
  const measured = scores.filter((s) => s.identity?.meanSimilarity !== null && s.identity !== null);
  const reliable = measured.filter((s) => (s.identity?.faceRate ?? 0) >= MIN_FACE_RATE);
  const pool = reliable.length > 0 ? reliable : measured;
  const best = Math.max(...pool.map((s) => s.identity?.meanSimilarity ?? -Infinity));
  const tied = pool.filter((s) => (s.identity?.meanSimilarity ?? -Infinity) >= best - IDENTITY_TIE);
  return tied.sort((a, b) => (a.drift ?? 0) - (b.drift ?? 0) || a.epoch - b.epoch)[0] ?? null;
}

function valLossPick(scores: readonly EpochScores[]): EpochScores | null {
  const withVal = scores.filter((s) => s.valLoss !== null);
  return withVal.sort((a, b) => (a.valLoss ?? 0) - (b.valLoss ?? 0))[0] ?? null;
}

/** The most trained epoch that still leaves unrelated prompts alone; else the least drifting one. */
function driftPick(scores: readonly EpochScores[]): EpochScores | null {
  const measured = scores.filter((s) => s.drift !== null);
  const calm = measured.filter((s) => (s.drift ?? 0) < DRIFT_LIMIT);
  if (calm.length > 0) return calm.at(-1) ?? null;
  return [...measured].sort((a, b) => (a.drift ?? 0) - (b.drift ?? 0))[0] ?? null;
}

const fixed = (value: number | null | undefined, digits = 3) =>
  value == null ? "n/a" : value.toFixed(digits);

/** Picks an epoch: face identity first, then validation loss, then drift; says why and what disagrees. */
export function recommendEpoch(
  scores: readonly EpochScores[],
  context: { weakModel: string | null },
): Recommendation {
  const picks: Recommendation["picks"] = [];
  const caveats: string[] = [];
  if (context.weakModel) caveats.push(context.weakModel);
  const byIdentity = identityPick(scores);
  const byVal = valLossPick(scores);
  const byDrift = driftPick(scores);
  if (byIdentity) picks.push({ signal: "face identity", epoch: byIdentity.epoch });
  if (byVal) picks.push({ signal: "validation loss", epoch: byVal.epoch });
  if (byDrift) picks.push({ signal: "drift", epoch: byDrift.epoch });

  const faceChecked = scores.some((s) => s.identity !== null);
  if (faceChecked && !byIdentity) {
    caveats.push("No face was found in any generated image, so identity could not rank the epochs.");
  }
  if (!scores.some((s) => s.valLoss !== null)) {
    caveats.push(
      "The run kept no validation loss; training loss is shown but not used (it is noisy and falls while overfitting).",
    );
  }
  const chosen = byIdentity ?? byVal ?? byDrift;
  if (!chosen) {
    return {
      epoch: null,
      reason: "Nothing was measured that could rank the epochs; judge the grid by eye.",
      picks,
      caveats,
    };
  }
  let reason: string;
  if (chosen === byIdentity) {
    const id = chosen.identity;
    reason = `Epoch ${chosen.epoch} keeps the trained face best: similarity ${fixed(id?.meanSimilarity)} to the training faces, a face in ${Math.round((id?.faceRate ?? 0) * 100)}% of its images (ties within ${IDENTITY_TIE} go to the lower drift).`;
  } else if (chosen === byVal) {
    reason = `Epoch ${chosen.epoch} has the lowest validation loss (${fixed(chosen.valLoss, 4)}).`;
  } else {
    reason =
      (chosen.drift ?? 0) < DRIFT_LIMIT
        ? `Epoch ${chosen.epoch} is the most trained epoch whose drift (${fixed(chosen.drift)}) stays under ${DRIFT_LIMIT}: it has learned the most without changing images that do not ask for it. Drift cannot tell whether the subject was learned; check the grid.`
        : `Every epoch drifts at least ${DRIFT_LIMIT}; epoch ${chosen.epoch} drifts least (${fixed(chosen.drift)}). The LoRA changes unrelated images at weight 1: try a lower weight (0.6-0.8).`;
  }
  if (new Set(picks.map((p) => p.epoch)).size > 1) {
    caveats.push(
      `The signals disagree (${picks.map((p) => `${p.signal}: epoch ${p.epoch}`).join(", ")}); look at the grid before trusting one.`,
    );
  }
  if (chosen !== byDrift && chosen.drift !== null && chosen.drift >= DRIFT_LIMIT) {
    caveats.push(
      `Epoch ${chosen.epoch} drifts ${fixed(chosen.drift)} (>= ${DRIFT_LIMIT}) on prompts without the trigger: it leaks into unrelated images; a lower weight may help.`,
    );
  }
  return { epoch: chosen.epoch, reason, picks, caveats };
}
