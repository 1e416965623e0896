"""Kohya-format LoRA: which modules get an adapter, what they are called, and how they add to the output.

Facts from kohya-ss/sd-scripts networks/lora.py (read, not copied): in the UNet every Linear and 1x1
Conv2d inside a Transformer2DModel; in the text encoder(s) every Linear inside the CLIP attention and
MLP blocks. down is Kaiming-uniform (a=sqrt(5)), up is zeros, so a new network changes nothing; the
output is ``base(x) + up(down(x)) * multiplier * alpha / dim``. Names are ``{prefix}_{path with _}``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

UNET_TARGET_BLOCKS = ("Transformer2DModel",)
TEXT_ENCODER_TARGET_BLOCKS = ("CLIPAttention", "CLIPSdpaAttention", "CLIPFlashAttention2", "CLIPMLP")
UNET_PREFIX = "lora_unet"


def text_encoder_prefixes(count: int) -> list[str]:
    """``lora_te`` for the single encoder of SD1/2, ``lora_te1``/``lora_te2`` for SDXL's two."""
    return ["lora_te"] if count == 1 else [f"lora_te{i + 1}" for i in range(count)]


class LoRAModule(nn.Module):
    """A low-rank adapter that hooks the forward of one Linear or Conv2d (the base weights stay put)."""

    def __init__(self, lora_name: str, base: nn.Module, dim: int, alpha: float):
        super().__init__()
        self.lora_name = lora_name
        self.dim = dim
        if isinstance(base, nn.Conv2d):
            self.lora_down = nn.Conv2d(
                base.in_channels, dim, base.kernel_size, base.stride, base.padding, bias=False
            )
            self.lora_up = nn.Conv2d(dim, base.out_channels, (1, 1), (1, 1), bias=False)
        else:
            self.lora_down = nn.Linear(base.in_features, dim, bias=False)
            self.lora_up = nn.Linear(dim, base.out_features, bias=False)
        alpha = float(dim if not alpha else alpha)  # alpha 0 means "no scaling", as in sd-scripts
        self.register_buffer("alpha", torch.tensor(alpha))
        self.scale = alpha / dim
        self.multiplier = 1.0
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)
        # A plain attribute, not a submodule: the base weights must not enter this module's state_dict.
        self.__dict__["base"] = base
        self.__dict__["base_forward"] = None

    def apply_to_base(self) -> None:
        if self.base_forward is None:
            self.__dict__["base_forward"] = self.base.forward
            self.base.forward = self.forward

    def remove_from_base(self) -> None:
        if self.base_forward is not None:
            self.base.forward = self.base_forward
            self.__dict__["base_forward"] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_forward(x)
        if not torch.is_autocast_enabled(x.device.type):
            x = x.to(self.lora_down.weight.dtype)  # base in half precision, adapter in float32
        down = self.lora_down(x)
        return out + (self.lora_up(down) * (self.multiplier * self.scale)).to(out.dtype)


@dataclass(frozen=True)
class Target:
    lora_name: str
    module: nn.Module


def _is_target_layer(module: nn.Module) -> bool:
    # Exact class names as sd-scripts checks them: subclasses (e.g. LoRACompatibleLinear) do not count.
    name = type(module).__name__
    return name == "Linear" or (name == "Conv2d" and tuple(module.kernel_size) == (1, 1))


def find_targets(
    root: nn.Module, block_types: tuple[str, ...], prefix: str, rename: Callable[[str], str] | None = None
) -> list[Target]:
    """Layers to adapt inside blocks whose class name is in ``block_types``, named the kohya way.

    ``rename`` maps a module path in ``root`` to the path the file should use (SDXL: LDM names).
    """
    targets: list[Target] = []
    seen: set[str] = set()
    for block_path, block in root.named_modules():
        if type(block).__name__ not in block_types:
            continue
        for child_path, child in block.named_modules():
            if not child_path or not _is_target_layer(child):
                continue
            path = f"{block_path}.{child_path}"
            path = rename(path) if rename else path
            lora_name = f"{prefix}.{path}".replace(".", "_")
            if lora_name in seen:
                raise ValueError(f"duplicated LoRA name {lora_name}")
            seen.add(lora_name)
            targets.append(Target(lora_name, child))
    return targets


class LoRANetwork(nn.Module):
    """All adapters of one run; its state_dict keys are already the kohya file keys."""

    def __init__(self, unet_targets: list[Target], text_targets: list[Target], dim: int, alpha: float):
        super().__init__()
        self.dim, self.alpha = dim, alpha
        self.unet_loras = nn.ModuleDict({t.lora_name: LoRAModule(t.lora_name, t.module, dim, alpha) for t in unet_targets})
        self.text_loras = nn.ModuleDict({t.lora_name: LoRAModule(t.lora_name, t.module, dim, alpha) for t in text_targets})

    def apply_to_base(self) -> None:
        for lora in self.all_loras():
            lora.apply_to_base()

    def remove_from_base(self) -> None:
        for lora in self.all_loras():
            lora.remove_from_base()

    def all_loras(self) -> list[LoRAModule]:
        return [*self.text_loras.values(), *self.unet_loras.values()]

    def set_multiplier(self, multiplier: float) -> None:
        for lora in self.all_loras():
            lora.multiplier = multiplier

    def kohya_state_dict(self) -> dict[str, torch.Tensor]:
        """``{lora_name}.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha`` for every adapter."""
        out: dict[str, torch.Tensor] = {}
        for lora in self.all_loras():
            out[f"{lora.lora_name}.lora_down.weight"] = lora.lora_down.weight
            out[f"{lora.lora_name}.lora_up.weight"] = lora.lora_up.weight
            out[f"{lora.lora_name}.alpha"] = lora.alpha
        return out

    def load_kohya_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        mine = self.kohya_state_dict()
        if set(mine) != set(tensors):
            missing, extra = sorted(set(mine) - set(tensors)), sorted(set(tensors) - set(mine))
            raise KeyError(f"LoRA keys differ: missing {missing[:3]}, unexpected {extra[:3]}")
        with torch.no_grad():
            for key, value in tensors.items():
                mine[key].copy_(value)

    def param_groups(self, unet_lr: float, text_encoder_lr: float) -> list[dict]:
        """UNet first: progress events report the first group's lr, and the UNet's is the one people watch."""
        groups = []
        if self.unet_loras:
            groups.append({"params": list(self.unet_loras.parameters()), "lr": unet_lr, "name": "unet"})
        if self.text_loras:
            groups.append({"params": list(self.text_loras.parameters()), "lr": text_encoder_lr, "name": "text_encoder"})
        return groups
