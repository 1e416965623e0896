import { z } from "zod";

/**
 * The optional blocks of a generate job (genJob in spec.ts), one per feature; null: the feature is off.
 * The engine's readers are engine/danlu_engine/generate/spec.py (InpaintSpec, HiresSpec).
 */

/** A1111's "Masked content": what the masked area starts from. */
export const MASKED_CONTENT = ["original", "fill", "latent-noise", "latent-nothing"] as const;
export type MaskedContent = (typeof MASKED_CONTENT)[number];

/** Inpainting of the job's init_image (engine/danlu_engine/generate/inpaint.py). */
export const genInpaint = z.strictObject({
  mask: z.string(), // white = repaint, black = keep; the init image's size (checked before the engine starts)
  mask_blur: z.number().int().nonnegative(), // Gaussian blur sigma of the mask, px (A1111 "Mask blur")
  masked_content: z.enum(MASKED_CONTENT),
  only_masked: z.boolean(), // A1111 "Inpaint area: Only masked": the mask's box is sampled at width x height
  padding: z.number().int().nonnegative(), // px around the mask's box with only_masked
});

/** A1111's hires fix, txt2img only (engine/danlu_engine/generate/hires.py). */
export const genHires = z.strictObject({
  scale: z.number().min(1), // "Hires upscale"
  width: z.number().int().positive(), // the second pass's size: width x scale rounded down to a multiple of 8
  height: z.number().int().positive(),
  steps: z.number().int().nonnegative(), // the second pass's steps; 0: the job's steps
  denoising: z.number().gt(0).max(1),
  upscaler: z.string(), // an A1111 name: src/generate/upscalers.ts
});

/**
 * One ControlNet unit (A1111's "ControlNet N"; engine/danlu_engine/generate/controlnet.py). `image` is the
 * map the ControlNet sees: the preprocessor's output, saved next to the images, or the user's own map.
 */
export const genControlNet = z.strictObject({
  model: z.string(), // a diffusers ControlNet folder or a single file (A1111 or diffusers keys)
  name: z.string(), // the model's name in the PNG text ("control_v11p_sd15_openpose")
  image: z.string(),
  module: z.string(), // the preprocessor in A1111's wording ("openpose_full", "canny", "none")
  weight: z.number().nonnegative(), // controlnet_conditioning_scale; 0: no effect
  start: z.number().min(0).max(1), // control_guidance_start, a fraction of the steps
  end: z.number().min(0).max(1), // control_guidance_end (> start)
  processor_res: z.number().int().positive(), // PNG text ("Processor Res")
  threshold_a: z.number(), // PNG text: the preprocessor's parameters (canny: low, high)
  threshold_b: z.number(),
});
export type GenControlNet = z.infer<typeof genControlNet>;
