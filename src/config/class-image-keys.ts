import { int, optionalStr, str } from "./key-kinds.ts";

/**
 * Prior preservation with generated class images: when reg_data_dir holds fewer than class_images_target
 * images, the missing ones are generated with the base model from class_prompt before training (cached in
 * output_dir/class_images, keyed by model, prompt, size and seed).
 */
export const CLASS_IMAGE_KEYS = {
  class_images_target: int(
    0,
    "regularization images wanted; missing ones are generated from class_prompt (0: off)",
    {
      min: 0,
    },
  ),
  class_prompt: optionalStr('prompt for generated class images (e.g. "photo of a woman")'),
  class_negative_prompt: str("", "negative prompt for generated class images"),
  class_images_steps: int(30, "sampling steps per generated class image", { min: 1 }),
  class_images_sampler: str("DPM++ 2M Karras", "A1111 sampler name for generated class images"),
};
