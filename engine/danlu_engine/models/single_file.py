"""Single-file (LDM layout) checkpoints <-> diffusers/transformers modules, through ldm_keys' one mapping."""
from __future__ import annotations

import os
import re
import tempfile
from typing import TYPE_CHECKING, cast

import torch
from accelerate import init_empty_weights
from safetensors.torch import save_file

from ..protocol import EngineError
from . import build, derive
from .checkpoint_file import CheckpointFile
from .detect import TEXT_ENCODERS, UNET, VAE
from .ldm_keys import (
    Source,
    UnetLayout,
    clip_text_ldm_key,
    open_clip_text_ldm_key,
    unet_ldm_path,
    vae_ldm_key,
)

if TYPE_CHECKING:
    from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")
OPEN_CLIP_LOGIT_SCALE = 4.6052  # ln(100): CLIP's learned temperature, stored by OpenCLIP, unused by SD


def component_sources(name: str, arch: str, module: torch.nn.Module) -> dict[str, Source]:
    """Every parameter key of a diffusers/transformers component -> its Source in the LDM checkpoint."""
    keys = list(module.state_dict())
    if name == "unet":
        layout = UnetLayout.from_config(dict(cast("UNet2DConditionModel", module).config))
        out = {}
        for key in keys:
            ldm = unet_ldm_path(key, layout)
            if ldm is None:
                raise KeyError(f"no LDM name for UNet parameter {key}")
            out[key] = Source(UNET + ldm)
        return out
    if name == "vae":
        levels = len(cast("AutoencoderKL", module).config["block_out_channels"])
        return {k: _prefixed(VAE, vae_ldm_key(k, levels)) for k in keys}
    prefix, text_layout = TEXT_ENCODERS[arch][0 if name == "text_encoder" else 1]
    mapper = clip_text_ldm_key if text_layout == "clip" else open_clip_text_ldm_key
    return {k: _prefixed(prefix, mapper(k)) for k in keys}


def _prefixed(prefix: str, source: Source) -> Source:
    return Source(prefix + source.key, source.kind, source.part)


def _to_diffusers(source: Source, tensor: torch.Tensor, target_shape: torch.Size) -> torch.Tensor:
    if source.kind == "qkv":
        tensor = tensor.chunk(3, dim=0)[source.part]
    elif source.kind == "transpose":
        tensor = tensor.t()
    elif source.kind == "conv1x1":
        tensor = tensor.reshape(target_shape)
    if tuple(tensor.shape) != tuple(target_shape):
        raise EngineError("BAD_MODEL", f"tensor {source.key} has shape {tuple(tensor.shape)}, expected {tuple(target_shape)}")
    return tensor.to(torch.float32).contiguous()


def load_component(ckpt: CheckpointFile, name: str, arch: str, module: torch.nn.Module) -> None:
    """Fill ``module`` (built on the meta device) with the checkpoint's tensors, converted to float32."""
    sources = component_sources(name, arch, module)
    missing = [s.key for s in sources.values() if s.key not in ckpt.shapes]
    if missing:
        raise EngineError("BAD_MODEL", f"{ckpt.path}: {len(missing)} {name} tensors are missing (first: "
                          f"{', '.join(missing[:3])}); the checkpoint is incomplete or not the architecture it looks like")
    targets = module.state_dict()
    state: dict[str, torch.Tensor] = {}
    cache: dict[str, torch.Tensor] = {}
    with ckpt.reader() as get:
        for key, source in sources.items():
            if source.key not in cache:
                cache.clear()  # one fused in_proj is reused by q, k and v; nothing else is read twice
                cache[source.key] = get(source.key)
            state[key] = _to_diffusers(source, cache[source.key], targets[key].shape)
    module.load_state_dict(state, strict=True, assign=True)


def load_single_file_components(
    ckpt: CheckpointFile, arch: str, variant: str, with_vae: bool = True
) -> dict[str, torch.nn.Module]:
    """Component name -> module, configs derived from the checkpoint's shapes (with_vae False: skip the VAE,
    one is given separately, and the file may have none)."""
    shapes = ckpt.shapes
    cfgs = {"unet": derive.unet_config(arch, variant, shapes, ckpt.path)}
    if with_vae:
        cfgs["vae"] = derive.vae_config(variant, shapes, ckpt.path)
    for i, _ in enumerate(TEXT_ENCODERS[arch]):
        cfgs[COMPONENTS[2 + i]] = derive.text_config(arch, variant, i, shapes, ckpt.path)
    modules: dict[str, torch.nn.Module] = {}
    for name, cfg in cfgs.items():
        with init_empty_weights(include_buffers=False):  # parameters on "meta": no random init of GBs
            if name == "unet":
                modules[name] = build.build_unet(cfg)
            elif name == "vae":
                modules[name] = build.build_vae(cfg)
            else:
                modules[name] = build.build_text_encoder(cfg, with_projection=name == "text_encoder_2")
        load_component(ckpt, name, arch, modules[name])
    return modules


def ldm_state_dict(arch: str, modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """The LDM-layout state dict of a model's components (the inverse of load_component)."""
    out: dict[str, torch.Tensor] = {}
    fused: dict[str, list] = {}
    for name, module in modules.items():
        sources = component_sources(name, arch, module)
        for key, tensor in module.state_dict().items():
            source = sources[key]
            tensor = tensor.detach().contiguous()
            if source.kind == "qkv":
                fused.setdefault(source.key, [None, None, None])[source.part] = tensor
            elif source.kind == "transpose":
                out[source.key] = tensor.t().contiguous()
            elif source.kind == "conv1x1":
                out[source.key] = tensor.reshape(*tensor.shape, 1, 1).contiguous()
            else:
                out[source.key] = tensor.clone()
    for key, parts in fused.items():
        out[key] = torch.cat(parts, dim=0)
    _add_open_clip_extras(arch, out)
    return out


def _add_open_clip_extras(arch: str, out: dict[str, torch.Tensor]) -> None:
    """What real OpenCLIP towers store beyond what diffusers uses: the logit scale and, for SD2.x, the last
    transformer layer (SD2 conditions on the penultimate one; here a copy of it stands in)."""
    for prefix, layout in TEXT_ENCODERS[arch]:
        if layout != "open_clip":
            continue
        out[prefix + "logit_scale"] = torch.tensor(OPEN_CLIP_LOGIT_SCALE)
        if arch == "sd2":
            rx = re.compile(re.escape(prefix) + r"transformer\.resblocks\.(\d+)\.(.+)")
            last = max(int(m.group(1)) for k in out if (m := rx.match(k)))
            for key in [k for k in out if (m := rx.match(k)) and int(m.group(1)) == last]:
                match = rx.match(key)
                assert match is not None  # the keys were chosen by this match
                tail = match.group(2)
                out[f"{prefix}transformer.resblocks.{last + 1}.{tail}"] = out[key].clone()


def save_single_file(arch: str, modules: dict[str, torch.nn.Module], path: str, metadata: dict[str, str]) -> None:
    """Write an LDM-layout ``.safetensors`` atomically (temp file in the same folder, then rename)."""
    tensors = ldm_state_dict(arch, modules)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=os.path.dirname(path))
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
