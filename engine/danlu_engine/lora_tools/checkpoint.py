"""Bake LoRAs into a base model's weights; extract a LoRA from the difference of two models."""
from __future__ import annotations

import torch

from ..lora_apply.formulas import module_delta
from ..network.adapter import Layer
from ..protocol import EngineError
from .factors import Factors, LoraFile, refactor
from .targets import all_layers, default_targets


def _module_changes(lora: LoraFile):
    """(name, delta(base weight)) of every module: LoRA/LoCon from their factors, LoHa/LoKr/IA3/DoRA by the
    formulas generation applies them with (lora_apply.module_delta; IA3 and DoRA read the base weight)."""
    for name, f in lora.modules.items():
        yield name, lambda base, f=f: f.delta()
    for name, (kind, tensors) in lora.other.items():
        yield name, lambda base, kind=kind, tensors=tensors: module_delta(kind, tensors, base)


def bake(layers: dict[str, Layer], loras: list[tuple[str, LoraFile, float]]) -> int:
    """Adds weight * delta of every module to its layer, in place. Every module must match a layer of the
    right size (a LoRA for another model is an error, never a silent no-op). Returns the layers changed."""
    changed = set()
    for path, lora, weight in loras:
        names = [*lora.modules, *lora.other]
        unknown = [name for name in names if name not in layers]
        if unknown:
            raise EngineError("BAD_LORA", f"LoRA {path}: {len(unknown)} of {len(names)} modules match no layer of "
                              f"the base model (first: {unknown[0]}); is it a LoRA for another architecture?")
        with torch.no_grad():
            for name, change in _module_changes(lora):
                target = layers[name].weight
                try:
                    delta = change(target.detach().float())
                except RuntimeError as e:  # factors that do not fit the layer
                    raise EngineError("BAD_LORA", f"LoRA {path}: module {name} does not fit the base model's "
                                      f"{tuple(target.shape)} weight ({e})") from e
                if delta.numel() != target.numel():
                    raise EngineError("BAD_LORA", f"LoRA {path}: {name} changes a {tuple(delta.shape)} weight, the "
                                      f"base model's is {tuple(target.shape)}")
                target.add_(delta.reshape(target.shape).to(target.dtype), alpha=weight)
                changed.add(name)
    return len(changed)


def extract(base: dict[str, Layer], tuned: dict[str, Layer], rank: int, conv_rank: int,
            min_diff: float) -> tuple[dict[str, Factors], list[dict]]:
    """Per layer: SVD of (tuned - base) cut to ``rank``; layers whose largest change is <= min_diff are
    left out. alpha = rank (scale 1), as sd-scripts' extract_lora_from_models writes by default."""
    out, report = {}, []
    for name, module in base.items():
        other = tuned.get(name)
        if other is None or other.weight.shape != module.weight.shape:
            raise EngineError("BAD_MODEL", f"the fine-tuned model has no layer {name} of the base's shape; "
                              "the two models must have the same architecture")
        diff = (other.weight.detach().float() - module.weight.detach().float())
        if float(diff.abs().max()) <= min_diff:
            continue
        shape = tuple(int(d) for d in diff.shape)
        spatial = diff.dim() == 4 and (shape[2] > 1 or shape[3] > 1)
        cut = refactor(diff.reshape(shape[0], -1), conv_rank if spatial else rank, "fixed", None, 1.0, shape)
        out[name] = cut.factors
        report.append({"module": name, "rank": min(shape[0], diff[0].numel()), "new_rank": cut.factors.rank,
                       "fro_kept": cut.fro_kept, "sum_kept": cut.sum_kept})
    return out, report


def model_layers(model, with_text: bool, every_layer: bool) -> dict[str, Layer]:
    """Kohya name -> layer of a loaded BaseModel: every Linear/Conv2d (bake) or the default targets (extract)."""
    if every_layer:
        return all_layers(model.unet, model.text_encoders, model.arch)
    return default_targets(model.unet, model.text_encoders, model.arch, with_text)
