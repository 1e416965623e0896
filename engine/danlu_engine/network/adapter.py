"""What every network module shares: it hooks one Linear/Conv2d's forward and adds a learned change.

Facts from kohya-ss/sd-scripts networks/lora.py and KohakuBlueleaf/LyCORIS lycoris/modules (read, not
copied): ``module_dropout`` skips a module's whole change for a step; dropouts act only while training
(here: while the network is in training mode and gradients are on, so sampling during training is clean).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Layer = nn.Linear | nn.Conv2d  # the layers an adapter hooks


class Adapter(nn.Module):
    """Base of LoRA/LoCon, LoHa, LoKr and IA3 modules. Subclasses give ``change(x, out)`` and ``file_tensors``."""

    kind = "adapter"
    base: Layer  # set through __dict__ (see __init__)
    base_forward: Callable[[torch.Tensor], torch.Tensor] | None

    def __init__(self, lora_name: str, base: Layer, module_dropout: float = 0.0):
        super().__init__()
        self.lora_name = lora_name
        self.multiplier = 1.0
        self.module_dropout = module_dropout
        # A plain attribute, not a submodule: the base weights must not enter this module's state_dict.
        self.__dict__["base"] = base
        self.__dict__["base_forward"] = None

    @property
    def is_conv(self) -> bool:
        return isinstance(self.base, nn.Conv2d)

    @property
    def base_shape(self) -> tuple[int, ...]:
        """(out, in) for a Linear, (out, in, kh, kw) for a Conv2d."""
        b = self.base
        if isinstance(b, nn.Conv2d):  # is_conv
            return (b.out_channels, b.in_channels // b.groups, *b.kernel_size)
        return (b.out_features, b.in_features)

    def dropping(self) -> bool:
        return self.training and torch.is_grad_enabled()

    def apply_to_base(self) -> None:
        base: nn.Module = self.base  # forward replaced on the instance: nn.Module's forward attribute
        if self.base_forward is None:
            self.__dict__["base_forward"] = base.forward
            base.forward = self.forward

    def remove_from_base(self) -> None:
        base: nn.Module = self.base
        if self.base_forward is not None:
            base.forward = self.base_forward
            self.__dict__["base_forward"] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert self.base_forward is not None, "apply_to_base first"
        out = self.base_forward(x)
        if self.module_dropout and self.dropping() and torch.rand(1).item() < self.module_dropout:
            return out
        param = next(self.parameters())
        if not torch.is_autocast_enabled(x.device.type):
            x = x.to(param.dtype)  # base in half precision, adapter in float32
        return out + self.change(x, out).to(out.dtype)

    def change(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def file_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors by key suffix as the file stores them (``lora_down.weight``, ``hada_w1_a``, ``alpha`` ...)."""
        raise NotImplementedError

    def base_op(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The base layer's operation with another weight and no bias."""
        b = self.base
        if isinstance(b, nn.Conv2d):  # is_conv
            return F.conv2d(x, weight.to(x.dtype), None, b.stride, b.padding, b.dilation, b.groups)
        return F.linear(x, weight.to(x.dtype))

    def base_weight(self) -> torch.Tensor:
        return self.base.weight.detach().float()


def drop_rows(weight: torch.Tensor, rate: float) -> torch.Tensor:
    """LyCORIS rank dropout on a whole weight change: each output row kept with probability 1 - rate."""
    keep = (torch.rand(weight.shape[0], device=weight.device) > rate).to(weight.dtype)
    return weight * keep.view(-1, *[1] * (weight.dim() - 1))


def row_norms(weight: torch.Tensor) -> torch.Tensor:
    """The norm of each output row, shaped to broadcast over ``weight`` ([out, 1] or [out, 1, 1, 1])."""
    return weight.reshape(weight.shape[0], -1).norm(dim=1).reshape(weight.shape[0], *[1] * (weight.dim() - 1))


class WeightDecompose(nn.Module):
    """DoRA (LyCORIS ``dora_wd``, magnitude on the output side): W' = (W + dW) * m / ||W + dW||_row.

    ``dora_scale`` starts as the row norms of the base weight, so a new DoRA changes nothing.
    """

    dora_scale: nn.Parameter

    def __init__(self, base_weight: torch.Tensor):
        super().__init__()
        self.dora_scale = nn.Parameter(row_norms(base_weight.detach().float()).clone())

    def change(self, base: torch.Tensor, diff: torch.Tensor, multiplier: float) -> torch.Tensor:
        merged = base + diff
        scale = self.dora_scale / (row_norms(merged) + torch.finfo(merged.dtype).eps)
        if multiplier != 1:
            scale = multiplier * (scale - 1) + 1
        return merged * scale - base
