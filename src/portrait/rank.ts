import { analyzeFile, identitySimilarity, type FaceAnalyzer } from "../faces/index.ts";
import { openImage } from "../dataset/images.ts";

/**
 * Stage 6 of the portrait pipeline: each style's candidates ranked by how much the face looks like the
 * customer (identity similarity to the mean of the kept photos), behind a face-quality gate: exactly one
 * face, large enough, sharp enough. Candidates that fail the gate rank after every one that passes, so a
 * style always returns its N best and says which of them failed and why.
 */

export interface RankOptions {
  /** A face's box side at least this share of the image's short side. @defaultValue 0.1 */
  minFaceShare?: number;
  /** The face crop's sharpness (src/faces) at least this. @defaultValue 2 */
  minSharpness?: number;
}

export const RANK_DEFAULTS = { minFaceShare: 0.1, minSharpness: 2 } as const;

export interface RankedImage {
  file: string;
  /** Identity similarity to the customer (0-1); 0 without a face. */
  score: number;
  /** "ok", or why the face-quality gate refused it. */
  gate: string;
}

export async function rankCandidates(
  files: readonly string[],
  identity: Float32Array,
  analyzer: FaceAnalyzer,
  options: RankOptions = {},
): Promise<RankedImage[]> {
  const o = { ...RANK_DEFAULTS, ...options };
  const ranked: RankedImage[] = [];
  for (const file of files) {
    const faces = await analyzeFile(analyzer, file);
    const face = faces[0];
    const score = face ? Math.round(identitySimilarity(face.descriptor, identity) * 1000) / 1000 : 0;
    ranked.push({ file, score, gate: face ? await gate(file, faces.length, face, o) : "no face" });
  }
  return ranked.sort((a, b) => Number(b.gate === "ok") - Number(a.gate === "ok") || b.score - a.score);
}

async function gate(
  file: string,
  count: number,
  face: { box: { width: number; height: number }; sharpness: number },
  o: Required<RankOptions>,
): Promise<string> {
  if (count > 1) return `${count} faces`;
  const meta = await openImage(file).autoOrient().metadata();
  const shortSide = Math.min(meta.autoOrient.width, meta.autoOrient.height);
  const side = Math.min(face.box.width, face.box.height);
  if (side < o.minFaceShare * shortSide) return `face too small (${Math.round(side)} px)`;
  if (face.sharpness < o.minSharpness) return `face not sharp (${face.sharpness.toFixed(1)})`;
  return "ok";
}
