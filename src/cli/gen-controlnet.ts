import { Option } from "commander";
import { assignPreprocessors, parseControlNetFlag, type ControlNetOptions } from "../generate/controlnet.ts";
import { PREPROCESSORS } from "../generate/preprocess/index.ts";

/** `danlu gen`'s ControlNet flags (added to the command in cli/gen.ts). */
export const CONTROLNET_HELP = `
ControlNet (as A1111's extension): --controlnet MODEL:IMAGE[:weight[:start:end]], repeatable, one unit
each (weight default 1; start/end: the fraction of the steps it acts on, default 0:1). MODEL is a
ControlNet file (.safetensors, A1111 or diffusers keys) or diffusers folder, or a name installed with
danlu models pull (control_v11p_sd15_openpose, ...); SD1.5 ControlNets need an SD1.5 model, SDXL ones
SDXL. --control-preprocessor (${PREPROCESSORS.join(", ")}; once for all units or once per unit) turns
IMAGE into the map; by default it follows the model's name (openpose, depth, canny, else none: IMAGE is
already the map). openpose (DWPose) and depth (Depth Anything V2) need danlu models pull dwpose /
depth-anything-v2-small. Maps are saved next to the images as NNNNN-SEED-controlK-NAME.png.`;

export const CONTROLNET_EXAMPLE = `  danlu gen --model sd15.safetensors --prompt "a dancer" --controlnet control_v11p_sd15_openpose:pose.jpg \\
      --controlnet control_v11f1p_sd15_depth:room.jpg:0.6:0:0.8 --out gen`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Fresh Option objects for a command (gen, grid). */
export function controlNetOptionList(): Option[] {
  return [
    new Option("--controlnet <model:image>", "ControlNet unit MODEL:IMAGE[:weight[:start:end]] (repeatable)")
      .argParser(collect)
      .default([]),
    new Option(
      "--control-preprocessor <name>",
      `ControlNet preprocessor: ${PREPROCESSORS.join(", ")} (once, or once per unit; default: from the model's name)`,
    )
      .argParser(collect)
      .default([]),
  ];
}

export const CONTROLNET_OPTIONS = controlNetOptionList();

/** The units from the flags (commander names them controlnet and controlPreprocessor). */
export function controlNetOptions(flags: {
  controlnet?: string[];
  controlPreprocessor?: string[];
}): ControlNetOptions[] {
  return assignPreprocessors(
    (flags.controlnet ?? []).map(parseControlNetFlag),
    flags.controlPreprocessor ?? [],
  );
}
