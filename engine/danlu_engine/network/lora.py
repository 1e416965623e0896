"""Kohya-format LoRA (and LoCon/DoRA) modules and the network that holds the adapters of one run.

Facts from kohya-ss/sd-scripts networks/lora.py (read, not copied; targets: targets.py): down is
Kaiming-uniform (a=sqrt(5)), up is zeros, so a new network changes nothing; the output is
``base(x) + up(down(x)) * multiplier * alpha / dim``. Names are ``{prefix}_{path with _}``.
"""
from __future__ import annotations

import math
from typing import cast

import torch
from lycoris.functional import locon as lycoris_locon
from torch import nn

from .adapter import Adapter, Layer, WeightDecompose, drop_rows
from .targets import (
    TEXT_ENCODER_TARGET_BLOCKS,
    TRANSFORMER_BLOCKS,
    UNET_PREFIX,
    NetworkOptions,
    Target,
    text_encoder_prefixes,
)
from .targets import find_targets as _find_targets

UNET_TARGET_BLOCKS = TRANSFORMER_BLOCKS
__all__ = ["TEXT_ENCODER_TARGET_BLOCKS", "UNET_PREFIX", "UNET_TARGET_BLOCKS", "LoRAModule", "LoRANetwork",
           "Target", "find_targets", "text_encoder_prefixes"]


def find_targets(root: nn.Module, block_types: tuple[str, ...], prefix: str, rename=None) -> list[Target]:
    """The plain kohya LoRA layers of ``root`` (text encoder blocks or the UNet's Transformer2DModels)."""
    return _find_targets(root, prefix, NetworkOptions(), block_types != TEXT_ENCODER_TARGET_BLOCKS, rename)


class LoRAModule(Adapter):
    """A low-rank adapter on one Linear or Conv2d: LoRA, LoCon on a k x k conv, DoRA with ``dora``.

    Dropouts as sd-scripts applies them: ``dropout`` on the down output, ``rank_dropout`` on whole ranks
    (rescaled by 1/(1-p)); DoRA (weight based, as LyCORIS) ignores ``dropout`` and drops output rows.
    ``use_tucker`` on a k x k conv: down 1x1, ``lora_mid`` k x k, up 1x1 (LyCORIS).
    """

    kind = "lora"
    lora_down: nn.Linear | nn.Conv2d
    lora_mid: nn.Conv2d
    lora_up: nn.Linear | nn.Conv2d
    alpha: torch.Tensor
    decompose: WeightDecompose | None

    def __init__(self, lora_name: str, base: Layer, dim: int, alpha: float, dropout: float = 0.0,
                 rank_dropout: float = 0.0, module_dropout: float = 0.0, dora: bool = False,
                 use_tucker: bool = False):
        super().__init__(lora_name, base, module_dropout)
        self.dim, self.dropout, self.rank_dropout = dim, dropout, rank_dropout
        self.tucker = False
        if isinstance(base, nn.Conv2d):
            # pairs in a Conv2d; torch's _ConvNd types them as tuple[int, ...]
            k, stride = cast(tuple[int, int], base.kernel_size), cast(tuple[int, int], base.stride)
            padding = cast("str | tuple[int, int]", base.padding)
            if use_tucker and tuple(k) != (1, 1):
                self.tucker = True
                self.lora_down = nn.Conv2d(base.in_channels, dim, (1, 1), bias=False)
                self.lora_mid = nn.Conv2d(dim, dim, k, stride, padding, bias=False)
            else:
                self.lora_down = nn.Conv2d(base.in_channels, dim, k, stride, padding, bias=False)
            self.lora_up = nn.Conv2d(dim, base.out_channels, (1, 1), (1, 1), bias=False)
        else:
            self.lora_down = nn.Linear(base.in_features, dim, bias=False)
            self.lora_up = nn.Linear(dim, base.out_features, bias=False)
        alpha = float(alpha or dim)  # alpha 0 means "no scaling", as in sd-scripts
        self.register_buffer("alpha", torch.tensor(alpha))
        self.scale = alpha / dim
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)
        if self.tucker:
            nn.init.kaiming_uniform_(self.lora_mid.weight, a=math.sqrt(5))
        self.decompose = WeightDecompose(base.weight) if dora else None
        if dora:
            self.kind = "dora"

    def change(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        if self.decompose is not None:
            return self._dora_change(x)
        lx = self.lora_down(x)
        if self.tucker:
            lx = self.lora_mid(lx)
        scale = self.scale
        if self.dropping() and self.dropout:
            lx = torch.nn.functional.dropout(lx, p=self.dropout)
        if self.dropping() and self.rank_dropout:
            keep = torch.rand((lx.size(0), self.dim), device=lx.device) > self.rank_dropout
            keep = keep.view(lx.size(0), 1, self.dim) if lx.dim() == 3 else keep
            keep = keep.view(lx.size(0), self.dim, 1, 1) if lx.dim() == 4 else keep
            lx = lx * keep
            scale = scale / (1.0 - self.rank_dropout)
        return self.lora_up(lx) * (self.multiplier * scale)

    def weight_change(self) -> torch.Tensor:
        """up @ down (through the Tucker core) as one weight, lycoris-lora's locon diff_weight (DoRA's path)."""
        mid = self.lora_mid.weight if self.tucker else None
        change = lycoris_locon.diff_weight(self.lora_down.weight, self.lora_up.weight, mid, gamma=1.0, backend="torch")
        return change.reshape(self.base_shape)

    def _dora_change(self, x: torch.Tensor) -> torch.Tensor:
        diff = self.weight_change().reshape(self.base_shape) * self.scale
        if self.rank_dropout and self.dropping():
            diff = drop_rows(diff, self.rank_dropout)
        assert self.decompose is not None
        return self.base_op(x, self.decompose.change(self.base_weight(), diff, self.multiplier))

    def file_tensors(self) -> dict[str, torch.Tensor]:
        out = {"lora_down.weight": self.lora_down.weight, "lora_up.weight": self.lora_up.weight}
        if self.tucker:
            out["lora_mid.weight"] = self.lora_mid.weight
        if self.decompose is not None:
            out["dora_scale"] = self.decompose.dora_scale
        return {**out, "alpha": self.alpha}


class LoRANetwork(nn.Module):
    """All adapters of one run (any kind); ``kohya_state_dict`` gives the file keys.

    ``dim``/``alpha`` are what the metadata reports (``ss_network_dim``/``ss_network_alpha``).
    """

    file_metadata: dict[str, str]  # ss_network_module/args of the file it was read from (setup.py), if any

    def __init__(self, unet_adapters: list[Adapter], text_adapters: list[Adapter], dim: int, alpha: float):
        super().__init__()
        self.dim, self.alpha = dim, alpha
        self.unet_loras = nn.ModuleDict({a.lora_name: a for a in unet_adapters})
        self.text_loras = nn.ModuleDict({a.lora_name: a for a in text_adapters})

    def apply_to_base(self) -> None:
        for lora in self.all_loras():
            lora.apply_to_base()

    def remove_from_base(self) -> None:
        for lora in self.all_loras():
            lora.remove_from_base()

    def all_loras(self) -> list[Adapter]:
        return [*_adapters(self.text_loras), *_adapters(self.unet_loras)]

    def set_multiplier(self, multiplier: float) -> None:
        for lora in self.all_loras():
            lora.multiplier = multiplier

    def kohya_state_dict(self) -> dict[str, torch.Tensor]:
        """``{lora_name}.{suffix}`` for every tensor of every adapter (lora_down.weight, hada_w1_a, alpha ...)."""
        return {f"{a.lora_name}.{suffix}": t for a in self.all_loras() for suffix, t in a.file_tensors().items()}

    def load_kohya_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        mine = self.kohya_state_dict()
        if set(mine) != set(tensors):
            missing, extra = sorted(set(mine) - set(tensors)), sorted(set(tensors) - set(mine))
            raise KeyError(f"LoRA keys differ: missing {missing[:3]}, unexpected {extra[:3]}")
        with torch.no_grad():
            for key, value in tensors.items():
                if mine[key].shape != value.shape:
                    raise KeyError(f"{key} has shape {tuple(value.shape)}, expected {tuple(mine[key].shape)}")
                mine[key].copy_(value)

    def param_groups(self, unet_lr: float, text_encoder_lr: float, text_encoder_lr2: float | None = None) -> list[dict]:
        """UNet first: progress events report the first group's lr, and the UNet's is the one people watch.
        SDXL's second encoder (lora_te2_*) gets its own group only when its lr differs (sd-scripts'
        --text_encoder_lr TE1 TE2), so states saved with one text group still resume."""
        groups = []
        if self.unet_loras:
            groups.append({"params": list(self.unet_loras.parameters()), "lr": unet_lr, "name": "unet"})
        second = [a for a in _adapters(self.text_loras) if a.lora_name.startswith("lora_te2_")]
        if text_encoder_lr2 is None or text_encoder_lr2 == text_encoder_lr or not second:
            second = []
        first = [a for a in _adapters(self.text_loras) if a not in second]
        if first:
            params = [p for a in first for p in a.parameters()]
            groups.append({"params": params, "lr": text_encoder_lr, "name": "text_encoder"})
        if second:
            params = [p for a in second for p in a.parameters()]
            groups.append({"params": params, "lr": text_encoder_lr2, "name": "text_encoder_2"})
        return groups


def _adapters(modules: nn.ModuleDict) -> list[Adapter]:
    """A ModuleDict's values as the adapters LoRANetwork keeps in it."""
    return cast(list[Adapter], list(modules.values()))
