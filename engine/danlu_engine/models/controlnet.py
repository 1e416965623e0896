"""ControlNet models: load a diffusers folder or a single file (A1111/LDM keys, with or without the
``control_model.`` prefix, or diffusers keys), name the base architecture it was trained for, and write tiny
random-weight ones for tests (``make-tiny --controlnet``).

Single files carry no config: it is the shipped UNet config of the arch with every size read from the shapes
(derive.unet_config, the path base checkpoints take), so real and tiny files load the same way, offline.
The LDM names are the UNet's (ldm_keys.unet_ldm_path) plus ControlNet's own: ``input_hint_block`` (the
conditioning image encoder: conv, SiLU, conv, ...), ``zero_convs.N.0`` and ``middle_block_out.0``.
"""
from __future__ import annotations

import json
import os
import re

import torch

from ..protocol import EngineError
from . import configs, derive
from .detect import UNET
from .ldm_keys import UnetLayout, unet_ldm_path

LDM_PREFIX = "control_model."
ARCH_NAMES = {"sd15": "SD1.5", "sd2": "SD2.x", "sdxl": "SDXL"}
TINY_HINT_CHANNELS = (8, 8, 16, 16)  # real models: (16, 32, 96, 256); four levels either way
TINY_ZERO_CONV_STD = 0.05  # real zero convs start at 0 and are trained; tiny ones must act on the output


def controlnet_ldm_key(key: str, layers_per_block: int, hint_blocks: int) -> str | None:
    """A diffusers ControlNetModel parameter key -> its LDM name (without ``control_model.``)."""
    m = re.fullmatch(r"controlnet_cond_embedding\.(conv_in|conv_out|blocks\.(\d+))\.(weight|bias)", key)
    if m:
        index = 0 if m.group(1) == "conv_in" else 2 * (hint_blocks + 1) if m.group(1) == "conv_out" else 2 * (int(m.group(2)) + 1)
        return f"input_hint_block.{index}.{m.group(3)}"
    m = re.fullmatch(r"controlnet_down_blocks\.(\d+)\.(weight|bias)", key)
    if m:
        return f"zero_convs.{m.group(1)}.0.{m.group(2)}"
    m = re.fullmatch(r"controlnet_mid_block\.(weight|bias)", key)
    if m:
        return f"middle_block_out.0.{m.group(1)}"
    return unet_ldm_path(key, UnetLayout(layers_per_block, ()))


def controlnet_arch(config: dict) -> str:
    """sd15 | sd2 | sdxl from a ControlNet config (SDXL's has the text-time embedding; SD2's 1024-wide context)."""
    if config.get("addition_embed_type") == "text_time":
        return "sdxl"
    return "sd2" if config.get("cross_attention_dim") == 1024 else "sd15"


def _config_from_unet(unet_cfg: dict, hint_channels: list[int], conditioning_channels: int) -> dict:
    import inspect

    from diffusers import ControlNetModel

    accepted = inspect.signature(ControlNetModel.__init__).parameters
    cfg = {k: v for k, v in unet_cfg.items() if k in accepted and not k.startswith("_")}
    cfg.pop("sample_size", None)
    return {**cfg, "conditioning_embedding_out_channels": list(hint_channels), "conditioning_channels": conditioning_channels}


def _ldm_shapes(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """LDM-named shapes without the prefix; diffusers-keyed files are renamed through the one mapping."""
    if any(k.startswith(LDM_PREFIX) for k in shapes):
        return {k[len(LDM_PREFIX):]: v for k, v in shapes.items() if k.startswith(LDM_PREFIX)}
    if "input_hint_block.0.weight" in shapes:
        return dict(shapes)
    if "controlnet_cond_embedding.conv_in.weight" not in shapes:
        return {}
    per_block = len({m.group(1) for k in shapes if (m := re.match(r"down_blocks\.0\.resnets\.(\d+)\.", k))})
    hint_blocks = len({m.group(1) for k in shapes if (m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.", k))})
    out = {}
    for key, shape in shapes.items():
        ldm = controlnet_ldm_key(key, per_block, hint_blocks)
        if ldm is not None:
            out[ldm] = shape
    return out


def single_file_config(path: str, shapes: dict[str, tuple[int, ...]]) -> tuple[str, dict]:
    """(arch, ControlNetModel config) of a single-file ControlNet, from its tensor shapes."""
    ldm = _ldm_shapes(shapes)
    if "input_hint_block.0.weight" not in ldm:
        raise EngineError("BAD_MODEL", f"{path} is not a ControlNet (no input_hint_block / controlnet_cond_embedding "
                          "tensors); give a ControlNet model such as control_v11p_sd15_openpose")
    arch = "sdxl" if "label_emb.0.0.weight" in ldm else "sd15"
    fake = {UNET + k: v for k, v in ldm.items()}
    fake[UNET + "out.2.weight"] = (4, ldm["input_blocks.0.0.weight"][0], 3, 3)  # a ControlNet has no output head
    unet_cfg = derive.unet_config(arch, arch, fake, path)
    if arch == "sd15" and unet_cfg["cross_attention_dim"] == 1024:
        arch = "sd2"
        unet_cfg = derive.unet_config("sd2", "sd2-512", fake, path)
    hint = sorted(int(m.group(1)) for k in ldm if (m := re.fullmatch(r"input_hint_block\.(\d+)\.weight", k)))
    widths = [ldm[f"input_hint_block.{i}.weight"][0] for i in hint[:-1]]  # conv_in, then each block's output
    channels = widths[0::2]  # conv_in's, then every second block (the strided ones) widens
    return arch, _config_from_unet(unet_cfg, channels, ldm["input_hint_block.0.weight"][1])


def _load_single_file(path: str):
    from accelerate import init_empty_weights
    from diffusers import ControlNetModel

    from .checkpoint_file import open_checkpoint

    ckpt = open_checkpoint(path)
    arch, cfg = single_file_config(path, ckpt.shapes)
    with init_empty_weights(include_buffers=False):
        model = ControlNetModel.from_config(cfg)
    targets = model.state_dict()
    per_block, hint_blocks = cfg["layers_per_block"], 2 * (len(cfg["conditioning_embedding_out_channels"]) - 1)
    names = set(ckpt.shapes)
    prefix = LDM_PREFIX if any(k.startswith(LDM_PREFIX) for k in names) else ""
    ldm_keyed = prefix or "input_hint_block.0.weight" in names
    state = {}
    with ckpt.reader() as get:
        for key, target in targets.items():
            stored = key
            if ldm_keyed:
                ldm = controlnet_ldm_key(key, per_block, hint_blocks)
                stored = prefix + ldm if ldm is not None else key
            if stored not in names:
                raise EngineError("BAD_MODEL", f"{path}: ControlNet tensor {stored} is missing; the file is incomplete "
                                  "or not a ControlNet of the architecture it looks like")
            tensor = get(stored)
            if {tensor.ndim, target.ndim} == {2, 4}:  # proj_in/out stored as a Linear or as a 1x1 conv
                tensor = tensor.reshape(target.shape)
            if tuple(tensor.shape) != tuple(target.shape):
                raise EngineError("BAD_MODEL", f"{path}: tensor {stored} has shape {tuple(tensor.shape)}, "
                                  f"expected {tuple(target.shape)}")
            state[key] = tensor.to(torch.float32)
    model.load_state_dict(state, strict=True, assign=True)
    return arch, model


def load_controlnet(path: str):
    """(arch, ControlNetModel in float32, eval mode) from a diffusers folder (config.json) or a single file."""
    from diffusers import ControlNetModel

    from . import build

    if not os.path.exists(path):
        raise EngineError("FILE_NOT_FOUND", f"ControlNet model not found: {path}")
    if os.path.isdir(path):
        config_path = os.path.join(path, "config.json")
        try:
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise EngineError("BAD_MODEL", f"{path} is not a diffusers ControlNet folder (config.json: {e})") from e
        if config.get("_class_name") != "ControlNetModel":
            raise EngineError("BAD_MODEL", f"{path} holds a {config.get('_class_name')}, not a ControlNetModel")
        # the diffusers repositories often hold only the fp16 variant (diffusion_pytorch_model.fp16.safetensors)
        plain = any(os.path.exists(os.path.join(path, f"diffusion_pytorch_model.{ext}")) for ext in ("safetensors", "bin"))
        variant = None if plain or not os.path.exists(os.path.join(path, "diffusion_pytorch_model.fp16.safetensors")) else "fp16"
        model = ControlNetModel.from_pretrained(path, local_files_only=True, variant=variant)
        arch = controlnet_arch(config)
    else:
        arch, model = _load_single_file(path)
    return arch, build.freeze(model)


def check_fits(name: str, arch: str, controlnet, unet) -> None:
    """A ControlNet must be made for the model's architecture and widths; else a BAD_SPEC naming both."""
    model_arch = "sdxl" if unet.config.addition_embed_type == "text_time" else (
        "sd2" if unet.config.cross_attention_dim == 1024 else "sd15")
    if arch != model_arch:
        raise EngineError("BAD_SPEC", f"ControlNet {name} is for {ARCH_NAMES[arch]}; the model is {ARCH_NAMES[model_arch]}",
                          f"use a ControlNet made for {ARCH_NAMES[model_arch]} (or a {ARCH_NAMES[arch]} model)")
    ours, theirs = list(controlnet.config.block_out_channels), list(unet.config.block_out_channels)
    if ours != theirs or controlnet.config.cross_attention_dim != unet.config.cross_attention_dim:
        raise EngineError("BAD_SPEC", f"ControlNet {name} does not fit the model: widths {ours} vs the UNet's {theirs}",
                          "use a ControlNet trained for this base model family")


def tiny_controlnet(arch: str, seed: int):
    """A random-weight ControlNetModel matching the tiny UNet of ``arch``, zero convs not zero."""
    from diffusers import ControlNetModel

    unet_cfg = configs.tiny_configs(arch)["unet"]
    cfg = _config_from_unet(unet_cfg, list(TINY_HINT_CHANNELS), 3)
    cfg["conditioning_embedding_out_channels"] = list(TINY_HINT_CHANNELS)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ControlNetModel.from_config(cfg)
        zero = [model.controlnet_cond_embedding.conv_out, model.controlnet_mid_block, *model.controlnet_down_blocks]
        for module in zero:
            torch.nn.init.normal_(module.weight, std=TINY_ZERO_CONV_STD)
            torch.nn.init.normal_(module.bias, std=TINY_ZERO_CONV_STD)
    return model


def write_tiny_controlnet(arch: str, out: str, single_file: bool, seed: int) -> list[str]:
    """A diffusers folder (config.json + diffusion_pytorch_model.safetensors) or one A1111-style LDM file."""
    from safetensors.torch import save_file

    from . import build  # noqa: F401  (quietens diffusers' logging before the float16 cast)

    if arch not in configs.ARCHS:
        raise EngineError("BAD_SPEC", f"arch must be one of {', '.join(configs.ARCHS)}, got {arch!r}")
    model = tiny_controlnet(arch, seed).to(torch.float16)
    out = os.path.abspath(out)
    if not single_file:
        model.save_pretrained(out, safe_serialization=True)
        return sorted(os.path.join(out, f) for f in os.listdir(out))
    if not out.endswith(".safetensors"):
        raise EngineError("BAD_SPEC", f"out: a single-file ControlNet must end in .safetensors, got {out}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    per_block = model.config.layers_per_block
    hint_blocks = len(model.controlnet_cond_embedding.blocks)
    tensors = {}
    for key, tensor in model.state_dict().items():
        ldm = controlnet_ldm_key(key, per_block, hint_blocks)
        if ldm is None:
            raise KeyError(f"no LDM name for ControlNet parameter {key}")
        tensors[LDM_PREFIX + ldm] = tensor.contiguous()
    save_file(tensors, out, metadata={"danlu_tiny": json.dumps({"arch": arch, "seed": seed, "controlnet": True})})
    return [out]
