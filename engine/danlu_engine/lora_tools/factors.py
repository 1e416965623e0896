"""Kohya LoRA modules as (down, up, alpha) factors: read, multiply out, factor again by SVD, write.

A module's weight change is ``up @ down * alpha / rank`` (convs flattened to [out, in*kh*kw]); alpha
missing or 0 means alpha = rank. Only plain LoRA/LoCon modules (lora_down/lora_up) can be resized or
merged; other kinds (LoHa, LoKr, ...) are refused by name.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from safetensors import safe_open

from ..protocol import EngineError

LORA_SUFFIXES = ("lora_down.weight", "lora_up.weight", "alpha")


@dataclass
class Factors:
    down: torch.Tensor  # [rank, in] or [rank, in, kh, kw]
    up: torch.Tensor  # [out, rank] or [out, rank, 1, 1]
    alpha: float

    @property
    def rank(self) -> int:
        return int(self.down.shape[0])

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def product(self) -> torch.Tensor:
        """up @ down without the alpha scale, as a matrix [out, in*kh*kw]."""
        return self.up.reshape(self.up.shape[0], -1) @ self.down.reshape(self.rank, -1)

    def delta(self) -> torch.Tensor:
        """The weight change in the layer's own shape (scale included)."""
        out = self.product() * self.scale
        if self.down.dim() == 4:
            return out.reshape(self.up.shape[0], *self.down.shape[1:])
        return out


@dataclass
class LoraFile:
    modules: dict[str, Factors]
    metadata: dict[str, str]
    dtype: torch.dtype  # of the lora_down weights (what "keep the precision" keeps)


def read_lora(path: str) -> LoraFile:
    """A kohya LoRA file as float32 factors per module name; BAD_MODEL for other kinds of network."""
    with safe_open(path, "pt") as f:
        metadata = dict(f.metadata() or {})
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    foreign = next((k for k in tensors if not k.startswith(("lora_unet_", "lora_te"))), None)
    if foreign is not None:
        raise EngineError("BAD_MODEL", f"{path}: {foreign} is not a kohya LoRA key; rewrite the file with "
                          "`danlu lora convert FILE OUT --to kohya` first")
    names = sorted({key.split(".", 1)[0] for key in tensors})
    modules: dict[str, Factors] = {}
    dtype = torch.float32
    for name in names:
        down, up = tensors.get(f"{name}.lora_down.weight"), tensors.get(f"{name}.lora_up.weight")
        extra = [k for k in tensors if k.startswith(name + ".") and k[len(name) + 1:] not in LORA_SUFFIXES]
        if down is None or up is None or extra:
            what = extra[0] if extra else f"{name} (no lora_down/lora_up pair)"
            raise EngineError("BAD_MODEL", f"{path}: {what} is not a plain LoRA module; only kohya LoRA/LoCon "
                              "files (lora_down/lora_up/alpha) can be resized, merged, baked")
        dtype = down.dtype
        alpha_tensor = tensors.get(f"{name}.alpha")
        alpha = float(alpha_tensor.item()) if alpha_tensor is not None else 0.0
        rank = int(down.shape[0])
        modules[name] = Factors(down.float(), up.float(), alpha if alpha else float(rank))
    if not modules:
        raise EngineError("BAD_MODEL", f"{path} has no LoRA modules")
    return LoraFile(modules, metadata, dtype)


def factor_tensors(modules: dict[str, Factors]) -> dict[str, torch.Tensor]:
    """The kohya keys of ``modules`` (float32; the writer casts)."""
    out: dict[str, torch.Tensor] = {}
    for name, f in modules.items():
        out[f"{name}.lora_down.weight"] = f.down.contiguous()
        out[f"{name}.lora_up.weight"] = f.up.contiguous()
        out[f"{name}.alpha"] = torch.tensor(f.alpha)
    return out


# Dynamic rank choice, as sd-scripts' resize_lora.py defines each method (S descending).
def rank_by_sv_ratio(s: torch.Tensor, ratio: float) -> int:
    """Keep singular values larger than the largest / ratio."""
    return int(torch.sum(s > s[0] / ratio).item())


def rank_by_sv_cumulative(s: torch.Tensor, share: float) -> int:
    """The smallest rank whose singular values sum to ``share`` of the total."""
    return int(torch.searchsorted(torch.cumsum(s, 0) / s.sum(), torch.tensor(share, dtype=s.dtype))) + 1


def rank_by_sv_fro(s: torch.Tensor, share: float) -> int:
    """The smallest rank that keeps ``share`` of the Frobenius norm (share**2 of the squared sum)."""
    squares = s.pow(2)
    return int(torch.searchsorted(torch.cumsum(squares, 0) / squares.sum(), torch.tensor(share**2, dtype=s.dtype))) + 1


DYNAMIC = {"sv_ratio": rank_by_sv_ratio, "sv_cumulative": rank_by_sv_cumulative, "sv_fro": rank_by_sv_fro}
MIN_SV = 1e-6  # below this the matrix is zero: rank 1, as sd-scripts does


@dataclass
class Refactored:
    factors: Factors
    fro_kept: float  # share of the Frobenius norm the kept singular values carry (1.0 = exact)
    sum_kept: float  # share of the sum of singular values kept


def refactor(matrix: torch.Tensor, max_rank: int, method: str, param: float | None, scale: float,
             layer_shape: tuple[int, ...]) -> Refactored:
    """SVD of ``matrix`` [out, in*k*k] cut to a rank (fixed ``max_rank``, or chosen by ``method`` and capped
    at ``max_rank``); the result has alpha = scale * rank, so ``scale`` survives and up@down*scale
    approximates ``matrix * scale``."""
    u, s, vh = torch.linalg.svd(matrix.double(), full_matrices=False)
    if method == "fixed":
        rank = max_rank
    elif method in DYNAMIC:
        rank = DYNAMIC[method](s, float(param))
    else:
        raise EngineError("BAD_SPEC", f"unknown resize method {method!r}")
    rank = max(1, min(rank, max_rank, len(s)))
    if s[0] <= MIN_SV:
        rank = 1
    squares = s.pow(2)
    fro_kept = math.sqrt(float(squares[:rank].sum() / squares.sum())) if s[0] > 0 else 1.0
    sum_kept = float(s[:rank].sum() / s.sum()) if s[0] > 0 else 1.0
    up = (u[:, :rank] * s[:rank]).float()
    down = vh[:rank].float()
    if len(layer_shape) == 4:  # conv: down keeps the kernel, up is 1x1
        down = down.reshape(rank, *layer_shape[1:])
        up = up.reshape(layer_shape[0], rank, 1, 1)
    return Refactored(Factors(down.contiguous(), up.contiguous(), float(scale * rank)), fro_kept, sum_kept)


def layer_shape(f: Factors) -> tuple[int, ...]:
    if f.down.dim() == 4:
        return (int(f.up.shape[0]), *[int(d) for d in f.down.shape[1:]])
    return (int(f.up.shape[0]), int(f.down.shape[1]))
