"""A VAE given on its own (``vae_path``): an LDM-layout file (as the web UIs use, with or without the
``first_stage_model.`` prefix), a diffusers-layout file, or a diffusers VAE folder."""
from __future__ import annotations

import os
import re

import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL  # defining module: see build.py

from ..protocol import EngineError
from . import build, configs, derive
from .checkpoint_file import open_checkpoint
from .ldm_keys import vae_ldm_key
from .single_file import _to_diffusers


def _vae_folder(path: str) -> str:
    for candidate in (path, os.path.join(path, "vae")):
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return candidate
    raise EngineError("BAD_MODEL", f"{path} is a folder without a VAE config.json (nor vae/config.json)")


def load_vae(path: str, arch: str) -> AutoencoderKL:
    """Load a VAE; its scaling factor is the architecture's (0.18215 SD1.x/SD2.x, 0.13025 SDXL)."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise EngineError("FILE_NOT_FOUND", f"VAE not found: {path}")
    scaling = configs.shipped(configs.variant_for(arch, False), "vae")["scaling_factor"]
    if os.path.isdir(path):
        try:
            vae = AutoencoderKL.from_pretrained(_vae_folder(path), torch_dtype=torch.float32)
        except (OSError, ValueError, RuntimeError) as e:
            raise EngineError("BAD_MODEL", f"cannot load the VAE from {path}: {str(e).splitlines()[0]}") from None
        vae.register_to_config(scaling_factor=scaling)
        return vae
    ckpt = open_checkpoint(path)
    keys = ckpt.keys()
    if any(k.startswith("encoder.down_blocks.") for k in keys):  # diffusers layout: rename to LDM to derive sizes
        levels = 1 + max(int(m.group(1)) for k in keys if (m := re.match(r"encoder\.down_blocks\.(\d+)\.", k)))
        ldm_names = {vae_ldm_key(k, levels).key: k for k in keys}
        shapes = {ldm: ckpt.shapes[k] for ldm, k in ldm_names.items()}
        prefix = ""
    else:
        prefix = "first_stage_model." if any(k.startswith("first_stage_model.") for k in keys) else ""
        ldm_names = {k[len(prefix):]: k for k in keys if k.startswith(prefix)}
        shapes = {k: ckpt.shapes[v] for k, v in ldm_names.items()}
    cfg = derive.vae_config(configs.variant_for(arch, False), shapes, path, prefix="")
    cfg["scaling_factor"] = scaling
    vae = build.build_vae(cfg)
    targets = vae.state_dict()
    state = {}
    with ckpt.reader() as get:
        for key in targets:
            source = vae_ldm_key(key, len(cfg["block_out_channels"]))
            stored = ldm_names.get(source.key)
            if stored is None:
                raise EngineError("BAD_MODEL", f"{path}: VAE tensor {prefix}{source.key} is missing")
            state[key] = _to_diffusers(source, get(stored), targets[key].shape)
    vae.load_state_dict(state, strict=True)
    return vae
