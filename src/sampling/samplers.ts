/**
 * Sampler names as sd-scripts' --sample_sampler and a prompt's `--ss` spell them (library/train_util.py
 * get_my_scheduler). The `k_` names are aliases of the plain ones; danlu hands the engine the plain name.
 */
export const SAMPLE_SAMPLERS = [
  "ddim",
  "pndm",
  "lms",
  "euler",
  "euler_a",
  "heun",
  "dpm_2",
  "dpm_2_a",
  "dpmsolver",
  "dpmsolver++",
  "dpmsingle",
] as const;
export type SampleSampler = (typeof SAMPLE_SAMPLERS)[number];

const ALIASES: Record<string, SampleSampler> = {
  k_lms: "lms",
  k_euler: "euler",
  k_euler_a: "euler_a",
  k_dpm_2: "dpm_2",
  k_dpm_2_a: "dpm_2_a",
};

/** Every name sd-scripts accepts, aliases included (for validation and help text). */
export const SAMPLE_SAMPLER_NAMES = [...SAMPLE_SAMPLERS, ...Object.keys(ALIASES)] as [string, ...string[]];

/** The canonical sampler for a name sd-scripts accepts (case-insensitive), or undefined. */
export function canonicalSampler(name: string): SampleSampler | undefined {
  const lower = name.trim().toLowerCase();
  if ((SAMPLE_SAMPLERS as readonly string[]).includes(lower)) return lower as SampleSampler;
  return ALIASES[lower];
}
