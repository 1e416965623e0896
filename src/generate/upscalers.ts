/**
 * Hires-fix upscalers by their A1111 names (engine/danlu_engine/generate/hires.py): the latent ones resize the
 * first pass's latents, Lanczos and Nearest its decoded image. ESRGAN-style model upscalers are not offered.
 */
export const HIRES_UPSCALERS = [
  "Latent",
  "Latent (antialiased)",
  "Latent (bicubic)",
  "Latent (bicubic antialiased)",
  "Latent (nearest)",
  "Latent (nearest-exact)",
  "Lanczos",
  "Nearest",
] as const;

/** The A1111 spelling of an upscaler name given in any case, else undefined. */
export function canonicalUpscaler(name: string): string | undefined {
  return HIRES_UPSCALERS.find((known) => known.toLowerCase() === name.trim().toLowerCase());
}
