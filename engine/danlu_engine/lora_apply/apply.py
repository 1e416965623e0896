"""Apply LoRA / LyCORIS files to a loaded model by merging their deltas into the weights, and undo it.

A file made for another architecture, or whose keys match no module, is an error naming the file
(never a silent no-op); keys that match nothing in a file that otherwise applies are reported as a
warning. Deltas are computed in float32 and added as ``multiplier x delta``; the original weights are
kept so ``restore()`` puts the model back exactly (the next job may use other LoRAs or weights).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from ..protocol import EngineError
from .formulas import kind_of, module_delta
from .targets import Target, model_targets

_ARCH_WORDS = {"sdxl": ("sdxl", "stable-diffusion-xl"), "sd2": ("v2", "stable-diffusion-v2", "sd2"),
               "sd15": ("v1", "stable-diffusion-v1", "sd1")}


@dataclass
class FileReport:
    path: str
    kind: str  # the kinds found, e.g. "lora", "loha+lokr"
    matched: int  # modules changed
    unmatched: list[str] = field(default_factory=list)  # module names in the file with no counterpart


def _group(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        module, _, rest = key.partition(".")
        groups.setdefault(module, {})[rest] = value
    return groups


# The first key levels of the other layouts `danlu lora convert` writes; this module applies kohya names.
_OTHER_LAYOUTS = {"unet": "diffusers/PEFT", "text_encoder": "diffusers/PEFT", "text_encoder_2": "diffusers/PEFT",
                  "diffusion_model": "ComfyUI", "text_encoders": "ComfyUI"}


def _layout_hint(groups: dict, path: str) -> None:
    layout = next((_OTHER_LAYOUTS[name] for name in groups if name in _OTHER_LAYOUTS), None)
    if layout:
        stem = os.path.splitext(path)[0]
        raise EngineError("BAD_LORA", f"LoRA {path} is in the {layout} layout; generation reads the kohya layout",
                          f"convert it: danlu lora convert {path} {stem}-kohya.safetensors --to kohya")


def _arch_hint(metadata: dict[str, str], groups: dict, model_arch: str, path: str) -> None:
    text = " ".join([metadata.get("ss_base_model_version", ""), metadata.get("modelspec.architecture", "")]).lower()
    file_arch = next((a for a, words in _ARCH_WORDS.items() if any(w in text for w in words)), None)
    if any(name.startswith(("lora_te1_", "lora_te2_")) for name in groups):
        file_arch = "sdxl"
    elif any(name.startswith("lora_te_") for name in groups) and file_arch == "sdxl":
        file_arch = None
    elif any(name.startswith("lora_te_") for name in groups) and model_arch == "sdxl":
        file_arch = file_arch or "sd15/sd2"
    if file_arch and file_arch != model_arch and not (model_arch in ("sd15", "sd2") and file_arch == "sd15/sd2"):
        raise EngineError("BAD_LORA", f"LoRA {path} was made for {file_arch}, but the model is {model_arch}",
                          f"use a LoRA trained on a {model_arch} base model, or generate with a {file_arch} checkpoint")


def read_lora(path: str) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, str]]:
    from safetensors import safe_open

    if not os.path.isfile(path):
        raise EngineError("FILE_NOT_FOUND", f"LoRA file not found: {path}")
    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # noqa: BLE001 - any parse failure is the same user error
        raise EngineError("BAD_LORA", f"LoRA {path} is not a readable .safetensors file: {e}") from e
    return _group(tensors), metadata


class LoraApplier:
    def __init__(self, model):
        self.model = model
        self.targets: dict[str, Target] = model_targets(model)
        self.originals: dict[torch.nn.Linear | torch.nn.Conv2d, torch.Tensor] = {}
        self.cache: dict[str, tuple[dict, dict]] = {}

    def _read(self, path: str):
        if path not in self.cache:
            self.cache = {path: read_lora(path)} | dict(list(self.cache.items())[:3])  # a few files, not all
        return self.cache[path]

    def apply(self, path: str, unet_weight: float, te_weight: float) -> FileReport:
        groups, metadata = self._read(path)
        _layout_hint(groups, path)
        _arch_hint(metadata, groups, self.model.arch, path)
        report, kinds, plan = FileReport(path, "", 0), set(), []
        for name, tensors in groups.items():
            target = self.targets.get(name)
            kind = kind_of(set(tensors))
            if target is None or kind is None:
                report.unmatched.append(name)
                continue
            kinds.add(kind)
            plan.append((name, target, kind, tensors))
        if not plan:
            sample = ", ".join(sorted(groups)[:3])
            raise EngineError("BAD_LORA", f"LoRA {path}: none of its {len(groups)} modules match the {self.model.arch} "
                              f"model (e.g. {sample})", "is it a LoRA for this base model's architecture?")
        for name, target, kind, tensors in plan:
            weight = target.module.weight
            base = self.originals.get(target.module, weight.detach()).float()
            try:
                delta = module_delta(kind, tensors, base)
            except RuntimeError as e:  # shapes that do not fit: another architecture or a broken file
                raise EngineError("BAD_LORA", f"LoRA {path}: module {name} does not fit the model's weight "
                                  f"{tuple(weight.shape)} ({e})", "is it a LoRA for this base model's architecture?") from e
            self.originals.setdefault(target.module, weight.detach().clone())
            multiplier = unet_weight if target.part == "unet" else te_weight
            with torch.no_grad():
                weight.add_((multiplier * delta).to(weight.dtype))
        report.kind, report.matched = "+".join(sorted(kinds)), len(plan)
        return report

    def restore(self) -> None:
        with torch.no_grad():
            for module, original in self.originals.items():
                module.weight.copy_(original)
        self.originals.clear()
