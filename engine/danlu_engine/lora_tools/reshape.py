"""Resize one LoRA, merge several: new factors per module, with a report of what each kept."""
from __future__ import annotations

from typing import cast

import torch

from ..protocol import EngineError
from .factors import Factors, LoraFile, layer_shape, refactor


def resize(lora: LoraFile, rank: int, conv_rank: int, method: str, param: float | None) -> tuple[dict[str, Factors], list[dict]]:
    """Every module cut to ``rank`` (3x3 convs to ``conv_rank``) or to a dynamic rank capped there.

    The scale alpha/rank of each module is kept (alpha = scale * new rank), as sd-scripts does.
    """
    modules: dict[str, Factors] = {}
    report = []
    for name, f in lora.modules.items():
        is_spatial = f.down.dim() == 4 and (f.down.shape[2] > 1 or f.down.shape[3] > 1)
        cut = refactor(f.product(), conv_rank if is_spatial else rank, method, param, f.scale, layer_shape(f))
        modules[name] = cut.factors
        report.append({"module": name, "rank": f.rank, "new_rank": cut.factors.rank,
                       "fro_kept": cut.fro_kept, "sum_kept": cut.sum_kept})
    return modules, report


def _check_shapes(name: str, parts: list[tuple[Factors, float]]) -> None:
    shapes = {layer_shape(f) for f, _ in parts}
    if len(shapes) > 1:
        raise EngineError("BAD_MODEL", f"{name}: the LoRAs disagree on the layer's shape {sorted(shapes)}; "
                          "they were trained for different base models")


def _by_module(loras: list[tuple[LoraFile, float]]) -> dict[str, list[tuple[Factors, float]]]:
    grouped: dict[str, list[tuple[Factors, float]]] = {}
    for lora, weight in loras:
        for name, f in lora.modules.items():
            grouped.setdefault(name, []).append((f, weight))
    for name, parts in grouped.items():
        _check_shapes(name, parts)
    return dict(sorted(grouped.items()))


def merge_concat(loras: list[tuple[LoraFile, float]]) -> dict[str, Factors]:
    """Exact: the ranks stacked, each up scaled by weight * alpha/rank, alpha = the summed rank (scale 1)."""
    out = {}
    for name, parts in _by_module(loras).items():
        down = torch.cat([f.down for f, _ in parts], dim=0)
        up = torch.cat([f.up * (w * f.scale) for f, w in parts], dim=1)
        out[name] = Factors(down, up, float(down.shape[0]))
    return out


def merge_svd(loras: list[tuple[LoraFile, float]], rank: int, conv_rank: int) -> tuple[dict[str, Factors], list[dict]]:
    """The weighted sum of the modules' changes, factored by SVD to ``rank`` (alpha = rank: scale 1)."""
    out, report = {}, []
    for name, parts in _by_module(loras).items():
        total = cast(torch.Tensor, sum(f.product() * (w * f.scale) for f, w in parts))  # parts: never empty
        f0 = parts[0][0]
        is_spatial = f0.down.dim() == 4 and (f0.down.shape[2] > 1 or f0.down.shape[3] > 1)
        cut = refactor(total, conv_rank if is_spatial else rank, "fixed", None, 1.0, layer_shape(f0))
        out[name] = cut.factors
        report.append({"module": name, "rank": sum(f.rank for f, _ in parts), "new_rank": cut.factors.rank,
                       "fro_kept": cut.fro_kept, "sum_kept": cut.sum_kept})
    return out, report


def network_dims(modules: dict[str, Factors]) -> tuple[str, str]:
    """ss_network_dim / ss_network_alpha: the value when every module agrees, else "Dynamic" (sd-scripts)."""
    ranks = {f.rank for f in modules.values()}
    alphas = {f.alpha for f in modules.values()}
    dim = str(ranks.pop()) if len(ranks) == 1 else "Dynamic"
    alpha = str(alphas.pop()) if len(alphas) == 1 else "Dynamic"
    return dim, alpha
