"""LyCORIS LoHa, LoKr and IA3 modules: key names, shapes and initialisation as LyCORIS writes them.

The weight changes are lycoris-lora's functional maths (lycoris.functional loha.diff_weight, lokr.kron_weight,
factorization); these classes are danlu's Adapter around them (hooking, dropouts, file keys), for the reasons
docs/ARCHITECTURE.md gives. tests/test_lycoris_reference.py holds files and outputs to the package's.
Facts from KohakuBlueleaf/LyCORIS lycoris/modules/{loha,lokr,ia3}.py:
- LoHa: dW = (w1_a @ w1_b) * (w2_a @ w2_b) * alpha/dim; a conv's in side is in*kh*kw; with use_tucker on a
  k x k conv, w*_a is [dim, out], w*_b is [dim, in] and t1/t2 [dim, dim, kh, kw] rebuild the kernel.
  Init: w1_b ~ N(0, 1), w1_a ~ N(0, 0.1), w2_b ~ N(0, 1), w2_a = 0, t ~ N(0, 0.1).
- LoKr: dW = kron(w1, w2) * alpha/dim, out = a*b and in = c*d from ``factorization``; w1 is full unless
  decompose_both and dim < max(a, c)/2; w2 is w2_a @ w2_b unless dim >= max(b, d)/2 or full_matrix, then
  full (and with both full, alpha is taken as dim: scale 1). Init: w1 (or w1_a, w1_b) Kaiming, w2_a and
  t2 Kaiming, w2_b (or full w2) zeros.
- IA3: ``weight`` scales the output channels, W' = W * (1 + weight); [out] for a Linear, [1, out, 1, 1]
  for a conv; zeros at start; ``on_input`` 0.
"""
from __future__ import annotations

import math

import torch
from lycoris.functional import factorization
from lycoris.functional import loha as lycoris_loha
from lycoris.functional import lokr as lycoris_lokr
from torch import nn

from .adapter import Adapter, drop_rows

__all__ = ["IA3Module", "LoHaModule", "LoKrModule", "factorization"]
ONE = torch.tensor(1.0)  # LoHa's autograd function saves its scale for backward: a tensor; the scale is applied after


def _kaiming(t: torch.Tensor) -> None:
    nn.init.kaiming_uniform_(t, a=math.sqrt(5))


def _alpha(dim: int, alpha: float) -> float:
    return float(alpha or dim)  # alpha 0 means dim (no scaling), as LyCORIS reads it


class _WeightAdapter(Adapter):
    """Modules that build a whole weight change and run the base op with it."""

    alpha: torch.Tensor

    def __init__(self, lora_name, base, dim, alpha, rank_dropout, module_dropout):
        super().__init__(lora_name, base, module_dropout)
        self.dim, self.rank_dropout = dim, rank_dropout
        alpha = _alpha(dim, alpha)
        self.register_buffer("alpha", torch.tensor(alpha))
        self.scale = alpha / dim

    def weight_change(self) -> torch.Tensor:
        raise NotImplementedError

    def change(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        diff = self.weight_change().reshape(self.base_shape) * self.scale
        if self.rank_dropout and self.dropping():
            diff = drop_rows(diff, self.rank_dropout)
        return self.base_op(x, diff * self.multiplier)


class LoHaModule(_WeightAdapter):
    kind = "loha"
    hada_w1_a: nn.Parameter
    hada_w1_b: nn.Parameter
    hada_w2_a: nn.Parameter
    hada_w2_b: nn.Parameter
    hada_t1: nn.Parameter  # with use_tucker on a k x k conv
    hada_t2: nn.Parameter

    def __init__(self, lora_name, base, dim, alpha, use_tucker=False, rank_dropout=0.0, module_dropout=0.0):
        super().__init__(lora_name, base, dim, alpha, rank_dropout, module_dropout)
        shape = self.base_shape
        self.tucker = use_tucker and len(shape) == 4 and shape[2:] != (1, 1)
        out_dim, in_dim = shape[0], math.prod(shape[1:])
        if self.tucker:
            for i in (1, 2):
                setattr(self, f"hada_t{i}", nn.Parameter(torch.empty(dim, dim, *shape[2:])))
                setattr(self, f"hada_w{i}_a", nn.Parameter(torch.empty(dim, shape[0])))
                setattr(self, f"hada_w{i}_b", nn.Parameter(torch.empty(dim, shape[1])))
            nn.init.normal_(self.hada_t1, std=0.1)
            nn.init.normal_(self.hada_t2, std=0.1)
        else:
            for i in (1, 2):
                setattr(self, f"hada_w{i}_a", nn.Parameter(torch.empty(out_dim, dim)))
                setattr(self, f"hada_w{i}_b", nn.Parameter(torch.empty(dim, in_dim)))
        nn.init.normal_(self.hada_w1_b, std=1)
        nn.init.normal_(self.hada_w1_a, std=0.1)
        nn.init.normal_(self.hada_w2_b, std=1)
        nn.init.zeros_(self.hada_w2_a)

    def weight_change(self) -> torch.Tensor:
        # the package's down factors are hada_w*_b, its up factors hada_w*_a; "torch": its plain-PyTorch body
        tucker = (self.hada_t1, self.hada_t2) if self.tucker else (None, None)
        return lycoris_loha.diff_weight(self.hada_w1_b, self.hada_w1_a, self.hada_w2_b, self.hada_w2_a, *tucker,
                                        gamma=ONE.to(self.hada_w1_b), backend="torch")

    def file_tensors(self) -> dict[str, torch.Tensor]:
        names = ["hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"] + (["hada_t1", "hada_t2"] if self.tucker else [])
        return {**{n: getattr(self, n) for n in names}, "alpha": self.alpha}


class LoKrModule(_WeightAdapter):
    kind = "lokr"
    lokr_w1: nn.Parameter  # use_w1
    lokr_w1_a: nn.Parameter  # not use_w1
    lokr_w1_b: nn.Parameter
    lokr_w2: nn.Parameter  # use_w2
    lokr_w2_a: nn.Parameter  # not use_w2
    lokr_w2_b: nn.Parameter
    lokr_t2: nn.Parameter  # not use_w2, with use_tucker on a k x k conv

    def __init__(self, lora_name, base, dim, alpha, factor=-1, decompose_both=False, use_tucker=False,
                 full_matrix=False, rank_dropout=0.0, module_dropout=0.0, layout=None):
        """``layout`` (a, c, use_w1, use_w2) rebuilds a module read from a file instead of choosing."""
        super().__init__(lora_name, base, dim, alpha, rank_dropout, module_dropout)
        shape = self.base_shape
        kernel = tuple(shape[2:])
        if layout is None:
            (a, b), (c, d) = factorization(shape[0], factor), factorization(shape[1], factor)
            self.use_w1 = not (decompose_both and dim < max(a, c) / 2 and not full_matrix)
            self.use_w2 = dim >= max(b, d) / 2 or full_matrix
        else:
            a, c, self.use_w1, self.use_w2 = layout
            b, d = shape[0] // a, shape[1] // c
        self.tucker = not self.use_w2 and use_tucker and kernel not in ((), (1, 1))
        if self.use_w1:
            self.lokr_w1 = nn.Parameter(torch.empty(a, c))
            _kaiming(self.lokr_w1)
        else:
            self.lokr_w1_a = nn.Parameter(torch.empty(a, dim))
            self.lokr_w1_b = nn.Parameter(torch.empty(dim, c))
            _kaiming(self.lokr_w1_a)
            _kaiming(self.lokr_w1_b)
        if self.use_w2:
            self.lokr_w2 = nn.Parameter(torch.zeros(b, d, *kernel))
        elif self.tucker:
            self.lokr_t2 = nn.Parameter(torch.empty(dim, dim, *kernel))
            self.lokr_w2_a = nn.Parameter(torch.empty(dim, b))
            self.lokr_w2_b = nn.Parameter(torch.zeros(dim, d))
            _kaiming(self.lokr_t2)
            _kaiming(self.lokr_w2_a)
        else:
            self.lokr_w2_a = nn.Parameter(torch.empty(b, dim))
            self.lokr_w2_b = nn.Parameter(torch.zeros(dim, d * math.prod(kernel)))
            _kaiming(self.lokr_w2_a)
        if self.use_w1 and self.use_w2:
            self.alpha.fill_(dim)  # no low-rank factor: LyCORIS fixes the scale at 1
            self.scale = 1.0

    def weight_change(self) -> torch.Tensor:
        w1 = (self.lokr_w1, None, None) if self.use_w1 else (None, self.lokr_w1_a, self.lokr_w1_b)
        w2 = (self.lokr_w2, None, None) if self.use_w2 else (None, self.lokr_w2_a, self.lokr_w2_b)
        tucker = self.lokr_t2 if self.tucker else None
        return lycoris_lokr.kron_weight(*w1, *w2, tucker, scale=1.0, backend="torch")

    def file_tensors(self) -> dict[str, torch.Tensor]:
        names = ["lokr_w1"] if self.use_w1 else ["lokr_w1_a", "lokr_w1_b"]
        names += ["lokr_w2"] if self.use_w2 else ["lokr_w2_a", "lokr_w2_b"] + (["lokr_t2"] if self.tucker else [])
        return {**{n: getattr(self, n) for n in names}, "alpha": self.alpha}


class IA3Module(Adapter):
    kind = "ia3"
    weight: nn.Parameter
    on_input: torch.Tensor

    def __init__(self, lora_name, base, module_dropout=0.0):
        super().__init__(lora_name, base, module_dropout)
        out_dim = self.base_shape[0]
        self.weight = nn.Parameter(torch.zeros(1, out_dim, 1, 1) if self.is_conv else torch.zeros(out_dim))
        self.register_buffer("on_input", torch.tensor(0))

    def change(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        out = out.to(self.weight.dtype)
        if self.base.bias is not None:  # IA3 scales the weight, not the bias
            bias = self.base.bias.detach().to(out.dtype)
            out = out - (bias.view(1, -1, 1, 1) if self.is_conv else bias)
        return out * self.weight * self.multiplier

    def file_tensors(self) -> dict[str, torch.Tensor]:
        return {"weight": self.weight, "on_input": self.on_input}
