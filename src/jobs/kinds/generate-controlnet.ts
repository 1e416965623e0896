import { z } from "zod";
import type { ControlNetOptions } from "../../generate/controlnet.ts";
import { CONTROLNET_DEFAULTS as CN } from "../../generate/controlnet.ts";
import { PREPROCESSORS } from "../../generate/preprocess/index.ts";
import { fileRef, resolveRef } from "./common.ts";
import type { KindContext } from "./types.ts";

/** The gen job's ControlNet units: `danlu gen --controlnet` with the model in DATA/models. */
export const controlNetParams = z.strictObject({
  model: z.string().describe("a ControlNet file or folder name in the service's models folder"),
  image: fileRef.describe("the image the preprocessor turns into the map (preprocessor none: the map)"),
  weight: z.number().min(0).max(10).default(CN.weight).describe("the unit's strength (0: no effect)"),
  start: z.number().min(0).max(1).default(CN.start).describe("fraction of the steps where it starts"),
  end: z.number().min(0).max(1).default(CN.end).describe("fraction of the steps where it stops"),
  preprocessor: z
    .enum(PREPROCESSORS)
    .optional()
    .describe("none, canny, depth or openpose (unset: from the model's name, as A1111)"),
});

export function controlNetOptionsOf(
  ctx: KindContext,
  units: z.infer<typeof controlNetParams>[],
): ControlNetOptions[] {
  return units.map((u) => ({
    model: ctx.paths.model(u.model),
    image: resolveRef(ctx, u.image),
    weight: u.weight,
    start: u.start,
    end: u.end,
    ...(u.preprocessor ? { preprocessor: u.preprocessor } : {}),
  }));
}
