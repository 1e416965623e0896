// Sample prompts during training: sd-scripts' prompt file formats and sampler names.
export { loadSamplePrompts, parseSamplePromptText } from "./prompt-file.ts";
export type { SamplePrompts } from "./prompt-file.ts";
export { parsePromptLine, SD_SCRIPTS_SAMPLE_DEFAULTS, withDefaults } from "./prompt-line.ts";
export type { PromptFields, SamplePrompt, SamplePromptDefaults } from "./prompt-line.ts";
export { canonicalSampler, SAMPLE_SAMPLER_NAMES, SAMPLE_SAMPLERS } from "./samplers.ts";
export type { SampleSampler } from "./samplers.ts";
