"""Weight deltas of one module from its LoRA / LyCORIS tensors. Every function returns the delta at
multiplier 1 with the alpha/rank scale applied, shaped like the base weight.

The maths is lycoris-lora's functional API (lycoris.functional: locon/loha/lokr diff weights, DoRA's
weight_decompose), given the file's tensors; what stays here is reading a file's keys, the alpha/rank
scale as sd-scripts writes and A1111 reads it, and IA3 (no functional form in the package: its module
scales the weight rows in place). ``backend="torch"``: a merge runs once per job, where the package's
compiled tier would cost an inductor warmup per layer shape.
"""
from __future__ import annotations

import torch
from lycoris.functional import locon as lycoris_locon
from lycoris.functional import loha as lycoris_loha
from lycoris.functional import lokr as lycoris_lokr
from lycoris.functional import weight_decompose

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


def _lora(t: dict[str, torch.Tensor], shape: torch.Size) -> torch.Tensor:
    down, up = t["lora_down.weight"], t["lora_up.weight"]
    delta = lycoris_locon.diff_weight(down, up, t.get("lora_mid.weight"), gamma=_scale(t, down.shape[0]),
                                      backend="torch")
    return delta.reshape(shape)


def _loha(t: dict[str, torch.Tensor], shape: torch.Size) -> torch.Tensor:
    # the package names the factors down (hada_w*_b, [r, in] or [r, in, k, k]) and up (hada_w*_a); its
    # autograd function saves the scale for backward, so it must be a tensor
    gamma = torch.tensor(_scale(t, t["hada_w1_b"].shape[0]))
    delta = lycoris_loha.diff_weight(t["hada_w1_b"], t["hada_w1_a"], t["hada_w2_b"], t["hada_w2_a"],
                                     t.get("hada_t1"), t.get("hada_t2"), gamma=gamma, backend="torch")
    return delta.reshape(shape)


def _lokr(t: dict[str, torch.Tensor], shape: torch.Size) -> torch.Tensor:
    w2 = t.get("lokr_w2")
    if w2 is not None and len(shape) == 4 and w2.dim() == 2:  # a full conv w2 stored flat over in * k * k
        w2 = w2.reshape(w2.shape[0], -1, *shape[2:])
    # rank: of the decomposed factor; both full means alpha is ignored (scale 1), as in LyCORIS. The scale is
    # given whole (kron_weight): diff_weight reads the rank from w2_a, which a Tucker w2_a ([r, b]) does not hold.
    rank = t["lokr_w1_b"].shape[0] if "lokr_w1_b" in t else t["lokr_w2_b"].shape[0] if "lokr_w2_b" in t else None
    delta = lycoris_lokr.kron_weight(t.get("lokr_w1"), t.get("lokr_w1_a"), t.get("lokr_w1_b"), w2,
                                     t.get("lokr_w2_a"), t.get("lokr_w2_b"), t.get("lokr_t2"),
                                     scale=_scale(t, rank), backend="torch")
    return delta.reshape(shape)


def _ia3(t: dict[str, torch.Tensor], base: torch.Tensor) -> torch.Tensor:
    w = t["weight"].flatten()
    if bool(t["on_input"].flatten()[0]):
        w = w.reshape(1, -1, *([1] * (base.dim() - 2)))
    else:
        w = w.reshape(-1, *([1] * (base.dim() - 1)))
    return base * w  # IA3 scales rows (outputs) or columns (inputs) of the weight; no alpha


def _dora(delta: torch.Tensor, base: torch.Tensor, dora_scale: torch.Tensor) -> torch.Tensor:
    """DoRA: (W + delta) rescaled to the learned magnitude, per output row when dora_scale is [out, 1, ...]
    (LyCORIS' wd_on_output, the default), else per input column."""
    on_out = dora_scale.shape[0] == base.shape[0] and dora_scale.dim() > 1 and dora_scale.shape[1] == 1
    magnitude = dora_scale.reshape(-1, *[1] * (base.dim() - 1)) if on_out else \
        dora_scale.reshape(1, -1, *[1] * (base.dim() - 2))
    return weight_decompose(base + delta, magnitude, 1, on_out, backend="torch") - base


def module_delta(kind: str, t: dict[str, torch.Tensor], base: torch.Tensor) -> torch.Tensor:
    """The delta for ``base`` (float32) at multiplier 1."""
    t = {k: v.float() for k, v in t.items()}
    if kind == "ia3":
        return _ia3(t, base)
    delta = {"lora": _lora, "loha": _loha, "lokr": _lokr}[kind](t, base.shape)
    if "dora_scale" in t:
        delta = _dora(delta, base, t["dora_scale"])
    return delta
