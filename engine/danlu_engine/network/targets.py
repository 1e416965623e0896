"""Which layers get an adapter, what they are called, and with which dim/alpha.

networks.lora (kohya-ss/sd-scripts networks/lora.py, read for facts): Linear and 1x1 Conv2d (exact class
names) inside Transformer2DModel; with conv_dim (or conv_block_dims) also inside ResnetBlock2D,
Downsample2D and Upsample2D, where k x k convs get conv_dim/conv_alpha. block_dims (25 values, SD1/2 only):
index 0 unused, 1-12 down blocks (3*i + j, samplers at 3*i + 2), 12 mid, 13-24 up blocks; a dim of 0
leaves the layer out.
lycoris.kohya (KohakuBlueleaf/LyCORIS lycoris/kohya.py, preset "full"): every Linear/Conv2d (subclasses
too) inside those four block types plus conv_in, conv_out, time_embedding.linear_1/2 (SD1/2: sd-scripts'
SDXL UNet names them otherwise, so LyCORIS leaves them out there); k x k convs get conv_dim. Text
encoders, both: the Linears of CLIPAttention/CLIPMLP.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeGuard

from torch import nn

from .adapter import Layer

TRANSFORMER_BLOCKS = ("Transformer2DModel",)
CONV_BLOCKS = ("ResnetBlock2D", "Downsample2D", "Upsample2D")
LYCORIS_UNET_NAMES = ("conv_in", "conv_out", "time_embedding.linear_1", "time_embedding.linear_2")
TEXT_ENCODER_TARGET_BLOCKS = ("CLIPAttention", "CLIPSdpaAttention", "CLIPFlashAttention2", "CLIPMLP")
UNET_PREFIX = "lora_unet"
NUM_OF_BLOCKS = 12  # sd-scripts: down/up layers of the full model
_UP_DOWN = re.compile(r"(up|down)_blocks_(\d+)_(resnets|upsamplers|downsamplers|attentions)_(\d+)_")


@dataclass(frozen=True)
class NetworkOptions:
    """The network of a run (the spec's ``network``; same field names)."""

    module: str = "lora"  # lora = networks.lora, lycoris = lycoris.kohya
    algo: str = "lora"  # lora | locon | loha | lokr | ia3 (lycoris only)
    dim: int = 4
    alpha: float = 1.0
    conv_dim: int = 0  # 0: no k x k convs
    conv_alpha: float = 1.0
    dora_wd: bool = False
    use_tucker: bool = False
    factor: int = -1
    decompose_both: bool = False
    full_matrix: bool = False
    dropout: float = 0.0
    rank_dropout: float = 0.0
    module_dropout: float = 0.0
    block_dims: list[int] | None = None
    block_alphas: list[float] | None = None
    conv_block_dims: list[int] | None = None
    conv_block_alphas: list[float] | None = None
    train_unet: bool = True
    train_text_encoder: bool = True
    args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    lora_name: str
    module: Layer
    dim: int
    alpha: float


def text_encoder_prefixes(count: int) -> list[str]:
    """``lora_te`` for the single encoder of SD1/2, ``lora_te1``/``lora_te2`` for SDXL's two."""
    return ["lora_te"] if count == 1 else [f"lora_te{i + 1}" for i in range(count)]


def block_index(lora_name: str) -> int:
    """sd-scripts' block of a UNet module (diffusers names), -1 outside the blocks."""
    match = _UP_DOWN.search(lora_name)
    if match:
        side, i, kind, j = match.group(1), int(match.group(2)), match.group(3), int(match.group(4))
        index = 3 * i + (2 if kind in ("upsamplers", "downsamplers") else j)
        return 1 + index if side == "down" else NUM_OF_BLOCKS + 1 + index
    return NUM_OF_BLOCKS if "mid_block_" in lora_name else -1


def _is_layer(module: nn.Module, lycoris: bool) -> TypeGuard[Layer]:
    if lycoris:
        return isinstance(module, (nn.Linear, nn.Conv2d))
    # Exact class names as sd-scripts checks them: subclasses (e.g. LoRACompatibleLinear) do not count
    # (torch's Linear and Conv2d: no other layer class of the models danlu loads has these names).
    return type(module).__name__ in ("Linear", "Conv2d")


def _is_small(module: Layer) -> bool:
    return isinstance(module, nn.Linear) or tuple(module.kernel_size) == (1, 1)


def dims_for(opts: NetworkOptions, lora_name: str, module: Layer, unet: bool) -> tuple[int, float]:
    """(dim, alpha) of one layer; dim 0 leaves it out."""
    small = _is_small(module)
    if unet and (opts.block_dims or opts.conv_block_dims):
        index = block_index(lora_name)
        if small:
            dims, alphas = opts.block_dims, opts.block_alphas
            default = (opts.dim, opts.alpha)
        else:
            dims, alphas = opts.conv_block_dims, opts.conv_block_alphas
            default = (opts.conv_dim, opts.conv_alpha)
        if index < 0 or dims is None:
            return default if small or opts.conv_dim else (0, 0.0)
        return dims[index], (alphas[index] if alphas else default[1])
    return (opts.dim, opts.alpha) if small else (opts.conv_dim, opts.conv_alpha)


def find_targets(root: nn.Module, prefix: str, opts: NetworkOptions, unet: bool,
                 rename: Callable[[str], str] | None = None) -> list[Target]:
    """The layers to adapt in ``root``, named the kohya way (``rename``: module path -> file path)."""
    lycoris = opts.module == "lycoris"
    if not unet:
        blocks: tuple[str, ...] = TEXT_ENCODER_TARGET_BLOCKS
    elif lycoris or opts.conv_dim or opts.conv_block_dims:
        blocks = TRANSFORMER_BLOCKS + CONV_BLOCKS
    else:
        blocks = TRANSFORMER_BLOCKS
    found: dict[str, Target] = {}

    def add(path: str, module: Layer) -> None:
        lora_name = f"{prefix}.{rename(path) if rename else path}".replace(".", "_")
        if lora_name in found:
            return
        dim, alpha = dims_for(opts, lora_name, module, unet)
        if dim:
            found[lora_name] = Target(lora_name, module, dim, alpha)

    for block_path, block in root.named_modules():
        # sd-scripts' SDXL UNet has LDM names (input_blocks.0.0, ...): LyCORIS' conv_in/... match only SD1/2.
        if unet and lycoris and rename is None and block_path in LYCORIS_UNET_NAMES and _is_layer(block, True):
            add(block_path, block)
        if type(block).__name__ not in blocks:
            continue
        for child_path, child in block.named_modules():
            if child_path and _is_layer(child, lycoris):
                add(f"{block_path}.{child_path}", child)
    return list(found.values())
