import type { KnownModel } from "./registry.ts";

/**
 * The ControlNet side of the catalogue: the ONNX preprocessors `danlu gen --controlnet` runs in Node
 * (src/generate/preprocess/) and ControlNet models. Licences are the repositories' own; nothing
 * non-commercial. No sizes or checksums: none are pinned here, so each file's sha256 is recorded on
 * first download.
 */
export const CONTROLNET_MODELS: readonly KnownModel[] = [
  {
    name: "dwpose",
    kind: "preprocessor",
    repo: "yzd-v/DWPose",
    revision: "main",
    licence: "Apache-2.0",
    about: "openpose preprocessor: DWPose body, hands and face (YOLOX-L person detector + 384 px pose)",
    files: [{ path: "yolox_l.onnx" }, { path: "dw-ll_ucoco_384.onnx" }],
  },
  {
    name: "depth-anything-v2-small",
    kind: "preprocessor",
    repo: "onnx-community/depth-anything-v2-small",
    revision: "main",
    licence: "Apache-2.0",
    about: "depth preprocessor: Depth Anything V2 Small (relative depth, 518 px)",
    files: [{ path: "onnx/model.onnx" }],
  },
  ...sd15ControlNet("control_v11p_sd15_openpose", "SD1.5 ControlNet 1.1 OpenPose (fp16)"),
  ...sd15ControlNet("control_v11f1p_sd15_depth", "SD1.5 ControlNet 1.1 depth (fp16)"),
  ...sd15ControlNet("control_v11p_sd15_canny", "SD1.5 ControlNet 1.1 canny (fp16)"),
  ...sdxlControlNet("controlnet-canny-sdxl-1.0", "SDXL ControlNet canny (diffusers, fp16)"),
  ...sdxlControlNet("controlnet-depth-sdxl-1.0", "SDXL ControlNet depth (diffusers, fp16)"),
];

/** lllyasviel's ControlNet 1.1 as comfyanonymous's fp16 single files (A1111 keys), OpenRAIL as lllyasviel/ControlNet-v1-1. */
function sd15ControlNet(name: string, about: string): KnownModel[] {
  return [
    {
      name,
      kind: "controlnet",
      repo: "comfyanonymous/ControlNet-v1-1_fp16_safetensors",
      revision: "main",
      licence: "OpenRAIL",
      about,
      files: [{ path: `${name}_fp16.safetensors` }],
    },
  ];
}

/** The diffusers team's SDXL ControlNets (diffusers folders, fp16 weights), OpenRAIL++-M. */
function sdxlControlNet(name: string, about: string): KnownModel[] {
  return [
    {
      name,
      kind: "controlnet",
      repo: `diffusers/${name}`,
      revision: "main",
      licence: "OpenRAIL++-M",
      about,
      files: [{ path: "config.json" }, { path: "diffusion_pytorch_model.fp16.safetensors" }],
    },
  ];
}
