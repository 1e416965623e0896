/** Sampler names as A1111 shows them; the engine maps each to a diffusers scheduler (generate/samplers.py). */
export const A1111_SAMPLERS = [
  "DPM++ 2M",
  "DPM++ 2M Karras",
  "DPM++ 2M SDE",
  "DPM++ 2M SDE Karras",
  "DPM++ SDE",
  "DPM++ SDE Karras",
  "DPM++ 2S",
  "Euler",
  "Euler a",
  "Heun",
  "LMS",
  "LMS Karras",
  "DPM2",
  "DPM2 Karras",
  "DPM2 a",
  "DPM2 a Karras",
  "DDIM",
  "PLMS",
  "UniPC",
] as const;

/**
 * A1111 names danlu refuses, with what to use instead: diffusers has no ancestral DPM++ 2S, and mapping it
 * to the non-ancestral solver would write a sampler into the PNG parameters that did not make the image.
 */
const REFUSED_SAMPLERS: Record<string, string> = {
  "dpm++ 2s a":
    "diffusers has no ancestral DPM++ 2S solver. Use DPM++ 2S (the same single-step solver without " +
    "ancestral noise) or an ancestral sampler: Euler a, DPM2 a.",
};

/** Why danlu does not offer the sampler `name` (an A1111 name it refuses), or undefined. */
export function refusedSamplerReason(name: string): string | undefined {
  return REFUSED_SAMPLERS[name.trim().toLowerCase()];
}

/** The canonical spelling of a sampler name given in any letter case, or undefined. */
export function canonicalSampler(name: string): string | undefined {
  const wanted = name.trim().toLowerCase();
  return A1111_SAMPLERS.find((s) => s.toLowerCase() === wanted);
}
