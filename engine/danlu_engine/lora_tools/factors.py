"""Kohya LoRA modules as (down, up, alpha) factors: read, multiply out, factor again by SVD, write.

A module's weight change is ``up @ down * alpha / rank`` (convs flattened to [out, in*kh*kw]); alpha
missing or 0 means alpha = rank. Only plain LoRA/LoCon modules (lora_down/lora_up) have factors to resize
or merge; the other kinds (LoHa, LoKr, IA3, DoRA) are kept as their tensors, whose full change lora_apply's
``module_delta`` computes (what bake adds), and resize/merge refuse them by kind.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from safetensors import safe_open

from ..lora_apply.formulas import kind_of
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
    # LoHa, LoKr, IA3 and DoRA modules: name -> (kind, tensors by suffix), their change via module_delta
    other: dict[str, tuple[str, dict[str, torch.Tensor]]] = field(default_factory=dict)

    def other_kinds(self) -> list[str]:
        """The other modules' kinds as people name them: LoHa, LoKr, IA3, DoRA, LoCon (Tucker)."""
        return sorted({_label(kind, t) for kind, t in self.other.values()})


def _label(kind: str, t: dict[str, torch.Tensor]) -> str:
    if "dora_scale" in t:
        return "DoRA"
    if "lora_mid.weight" in t:
        return "LoCon (Tucker)"
    return {"loha": "LoHa", "lokr": "LoKr", "ia3": "IA3"}.get(kind, kind)


def read_lora(path: str) -> LoraFile:
    """A kohya-named LoRA/LyCORIS file: LoRA/LoCon modules as float32 factors, the other kinds as tensors.
    BAD_LORA names the file and what is wrong with it."""
    try:
        with safe_open(path, "pt") as f:
            metadata = dict(f.metadata() or {})
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except Exception as e:  # noqa: BLE001 - any parse failure is the same user error
        raise EngineError("BAD_LORA", f"LoRA {path} is not a readable .safetensors file: {e}") from e
    foreign = next((k for k in tensors if not k.startswith(("lora_unet_", "lora_te"))), None)
    if foreign is not None:
        raise EngineError("BAD_LORA", f"LoRA {path}: {foreign} is not a kohya LoRA key; rewrite the file with "
                          "`danlu lora convert FILE OUT --to kohya` first")
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, suffix = key.partition(".")
        groups.setdefault(name, {})[suffix] = value
    modules: dict[str, Factors] = {}
    other: dict[str, tuple[str, dict[str, torch.Tensor]]] = {}
    dtype = torch.float32
    for name, t in sorted(groups.items()):
        kind = kind_of(set(t))
        if kind is None:
            raise EngineError("BAD_LORA", f"LoRA {path}: module {name} has tensors {sorted(t)}, which are no "
                              "LoRA, LoCon, LoHa, LoKr, IA3 or DoRA module")
        dtype = next(v.dtype for k, v in t.items() if k != "alpha")
        if kind != "lora" or "dora_scale" in t or "lora_mid.weight" in t:
            other[name] = (kind, t)  # module_delta's kind: a DoRA or Tucker LoCon is "lora" with more tensors
            continue
        extra = [k for k in t if k not in LORA_SUFFIXES]
        if extra:
            raise EngineError("BAD_LORA", f"LoRA {path}: module {name} has the unknown tensor {extra[0]}")
        alpha = float(t["alpha"].item()) if "alpha" in t else 0.0
        down, up = t["lora_down.weight"], t["lora_up.weight"]
        modules[name] = Factors(down.float(), up.float(), alpha if alpha else float(down.shape[0]))
    if not modules and not other:
        raise EngineError("BAD_LORA", f"LoRA {path} has no LoRA modules")
    return LoraFile(modules, metadata, dtype, other)


def refuse_other_kinds(path: str, lora: LoraFile, what: str, instead: str) -> None:
    """BAD_LORA naming the file's non-LoRA kinds when ``what`` (resize, merge) is defined only for LoRA/LoCon."""
    if lora.other:
        raise EngineError("BAD_LORA", f"LoRA {path} is a {'/'.join(lora.other_kinds())} network: {what} is defined "
                          f"only for plain LoRA/LoCon factors; {instead}")


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
        assert param is not None, f"resize method {method} needs its parameter"
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
