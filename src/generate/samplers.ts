/** Sampler names as A1111 shows them; the engine maps each to a diffusers scheduler (generate/samplers.py). */
export const A1111_SAMPLERS = [
  "DPM++ 2M",
  "DPM++ 2M Karras",
  "DPM++ 2M SDE",
  "DPM++ 2M SDE Karras",
  "DPM++ SDE",
  "DPM++ SDE Karras",
  "DPM++ 2S a",
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

/** The canonical spelling of a sampler name given in any letter case, or undefined. */
export function canonicalSampler(name: string): string | undefined {
  const wanted = name.trim().toLowerCase();
  return A1111_SAMPLERS.find((s) => s.toLowerCase() === wanted);
}
