"""Weight deltas of one module from its LoRA / LyCORIS tensors (formulas as KohakuBlueleaf/LyCORIS and
A1111's extensions-builtin/Lora compute them; read for facts). Every function returns the delta at
multiplier 1 with the alpha/rank scale applied, shaped like the base weight."""
from __future__ import annotations

import torch

KINDS = ("lora", "loha", "lokr", "ia3")


def kind_of(keys: set[str]) -> str | None:
    if "lora_down.weight" in keys and "lora_up.weight" in keys:
        return "lora"
    if {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b"} <= keys:
        return "loha"
    if ("lokr_w1" in keys or "lokr_w1_a" in keys) and ("lokr_w2" in keys or "lokr_w2_a" in keys):
        return "lokr"
    if "weight" in keys and "on_input" in keys:
        return "ia3"
    return None


def _scale(t: dict[str, torch.Tensor], rank: int | None) -> float:
    # alpha missing or 0 means alpha = rank (scale 1), as sd-scripts writes and A1111 reads it
    if rank is None or "alpha" not in t or float(t["alpha"]) == 0:
        return 1.0
    return float(t["alpha"]) / rank


def _tucker(core: torch.Tensor, wb: torch.Tensor, wa: torch.Tensor) -> torch.Tensor:
    # CP/Tucker form: core [r, r, k, k] with wb [r, in] and wa [r_out?]: W[p, r, k, l] as LyCORIS rebuilds it
    return torch.einsum("i j k l, j r, i p -> p r k l", core, wb, wa)


def _lora(t: dict[str, torch.Tensor], shape: torch.Size) -> torch.Tensor:
    down, up = t["lora_down.weight"], t["lora_up.weight"]
    if "lora_mid.weight" in t:
        delta = _tucker(t["lora_mid.weight"], down.flatten(1), up.flatten(1).transpose(0, 1))
    else:
        delta = up.flatten(1) @ down.flatten(1)
    return delta.reshape(shape) * _scale(t, down.shape[0])


def _loha(t: dict[str, torch.Tensor], shape: torch.Size) -> torch.Tensor:
    w1a, w1b, w2a, w2b = t["hada_w1_a"], t["hada_w1_b"], t["hada_w2_a"], t["hada_w2_b"]
    if "hada_t1" in t and "hada_t2" in t:
        delta = _tucker(t["hada_t1"], w1b, w1a) * _tucker(t["hada_t2"], w2b, w2a)
    else:
        # a conv's down factor may be stored [r, in, k, k]: the product is over the flattened input
        delta = (w1a.flatten(1) @ w1b.flatten(1)) * (w2a.flatten(1) @ w2b.flatten(1))
    return delta.reshape(shape) * _scale(t, w1b.shape[0])


def _lokr(t: dict[str, torch.Tensor], shape: torch.Size) -> torch.Tensor:
    w1 = t["lokr_w1"] if "lokr_w1" in t else t["lokr_w1_a"] @ t["lokr_w1_b"]
    if "lokr_w2" in t:
        w2 = t["lokr_w2"]
    elif "lokr_t2" in t:
        w2 = _tucker(t["lokr_t2"], t["lokr_w2_b"], t["lokr_w2_a"])
    else:  # a conv's w2_b is [r, in2, k, k]: multiply flattened, then restore the kernel dims
        w2b = t["lokr_w2_b"]
        w2 = (t["lokr_w2_a"] @ w2b.flatten(1)).reshape(-1, *w2b.shape[1:])
    if len(shape) == 4 and w2.dim() == 2:  # a full w2 stored flat over in_channels * k * k
        w2 = w2.reshape(w2.shape[0], -1, *shape[2:])
    w1 = w1.reshape(*w1.shape, *([1] * (w2.dim() - w1.dim())))
    # rank: of the decomposed factor; both full means alpha is ignored (scale 1), as in LyCORIS
    rank = t["lokr_w1_b"].shape[0] if "lokr_w1_b" in t else t["lokr_w2_b"].shape[0] if "lokr_w2_b" in t else None
    return torch.kron(w1, w2).reshape(shape) * _scale(t, rank)


def _ia3(t: dict[str, torch.Tensor], base: torch.Tensor) -> torch.Tensor:
    w = t["weight"].flatten()
    if bool(t["on_input"].flatten()[0]):
        w = w.reshape(1, -1, *([1] * (base.dim() - 2)))
    else:
        w = w.reshape(-1, *([1] * (base.dim() - 1)))
    return base * w  # IA3 scales rows (outputs) or columns (inputs) of the weight; no alpha


def _dora(delta: torch.Tensor, base: torch.Tensor, dora_scale: torch.Tensor) -> torch.Tensor:
    """DoRA: rescale (W + delta) to the learned magnitude; the norm is over the axis dora_scale is not."""
    merged = base + delta
    if dora_scale.shape[0] == base.shape[0] and dora_scale.dim() > 1 and dora_scale.shape[1] == 1:
        norm = merged.flatten(1).norm(dim=1).reshape(-1, *([1] * (base.dim() - 1)))  # per output
    else:
        norm = merged.transpose(0, 1).flatten(1).norm(dim=1).reshape(1, -1, *([1] * (base.dim() - 2)))
    return merged * (dora_scale.reshape(norm.shape) / norm) - base


def module_delta(kind: str, t: dict[str, torch.Tensor], base: torch.Tensor) -> torch.Tensor:
    """The delta for ``base`` (float32) at multiplier 1."""
    t = {k: v.float() for k, v in t.items()}
    if kind == "ia3":
        return _ia3(t, base)
    delta = {"lora": _lora, "loha": _loha, "lokr": _lokr}[kind](t, base.shape)
    if "dora_scale" in t:
        delta = _dora(delta, base, t["dora_scale"])
    return delta
