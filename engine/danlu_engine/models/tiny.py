"""Tiny random-weight models with the real architectures, for tests, benchmarks and the demo."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import TYPE_CHECKING, cast

import torch
from safetensors.torch import load_file, save_file

from ..protocol import EngineError
from ..tokenizer import tokenizers_for, vocab_dir
from . import build, configs
from .single_file import save_single_file

if TYPE_CHECKING:
    from diffusers.models.modeling_utils import ModelMixin
    from transformers import PreTrainedModel

TINY_MARKER = "danlu_tiny"  # safetensors metadata key: {"arch", "seed"} of a tiny single file


def build_tiny_modules(arch: str, seed: int, inpainting: bool = False) -> dict[str, torch.nn.Module]:
    """Component name -> randomly initialised module (deterministic for a seed; the global RNG is untouched)."""
    cfg = configs.tiny_configs(arch, inpainting)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        modules: dict[str, torch.nn.Module] = {
            "unet": build.build_unet(cfg["unet"]),
            "vae": build.build_vae(cfg["vae"]),
            "text_encoder": build.build_text_encoder(cfg["text_encoder"], with_projection=False),
        }
        if arch == "sdxl":
            modules["text_encoder_2"] = build.build_text_encoder(cfg["text_encoder_2"], with_projection=True)
    return modules


def make_tiny(arch: str, out: str, single_file: bool, seed: int, inpainting: bool = False) -> list[str]:
    """Write a tiny model of ``arch`` ("sd15" | "sd2" | "sdxl") and return the files written.

    single_file=False: a diffusers folder at ``out`` (model_index.json, unet/, vae/, text_encoder/,
    tokenizer/, scheduler/, plus text_encoder_2/ and tokenizer_2/ for SDXL). An existing folder is
    replaced only when it holds a model (model_index.json); anything else there is an error.
    single_file=True: one ``.safetensors`` file at ``out`` with the original LDM key names.
    Weights are stored in float16 (a few MB); load_base_model returns them as float32.
    inpainting=True: the UNet takes 9 input channels (an inpainting checkpoint, as sd-v1-5-inpainting).
    """
    if arch not in configs.ARCHS:
        raise EngineError("BAD_SPEC", f"arch must be one of {', '.join(configs.ARCHS)}, got {arch!r}")
    modules = build_tiny_modules(arch, seed, inpainting)
    for module in modules.values():
        module.to(torch.float16)  # stored as float16, like the checkpoints people download (half the size)
    out = os.path.abspath(out)
    if single_file:
        if not out.endswith(".safetensors"):
            raise EngineError("BAD_SPEC", f"out: a single-file model must end in .safetensors, got {out}")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        marker = json.dumps({"arch": arch, "seed": seed, "inpainting": inpainting})
        save_single_file(arch, modules, out, metadata={TINY_MARKER: marker})
        return [out]
    return _write_folder(arch, modules, out, inpainting)


def _write_folder(arch: str, modules: dict[str, torch.nn.Module], out: str, inpainting: bool) -> list[str]:
    if (
        os.path.exists(out)
        and not os.path.isfile(os.path.join(out, "model_index.json"))
        and (not os.path.isdir(out) or os.listdir(out))
    ):
        raise EngineError("BAD_SPEC", f"out: {out} exists and is not a model folder; choose a new path")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tiny-", dir=parent)  # same folder: the final rename is atomic
    try:
        _fill_folder(arch, modules, staging, inpainting)
        if os.path.exists(out):
            retired = tempfile.mkdtemp(prefix=".old-", dir=parent)
            os.rename(out, os.path.join(retired, "model"))
            os.rename(staging, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(os.path.join(root, f) for root, _, files in os.walk(out) for f in files)


def _fill_folder(arch: str, modules: dict[str, torch.nn.Module], folder: str, inpainting: bool) -> None:
    cfg = configs.tiny_configs(arch, inpainting)
    for name, module in modules.items():
        pretrained = cast("ModelMixin | PreTrainedModel", module)  # diffusers and transformers models
        pretrained.save_pretrained(os.path.join(folder, name), safe_serialization=True)
    _restore_text_model_level(os.path.join(folder, "text_encoder", "model.safetensors"))
    for name, tokenizer in zip(("tokenizer", "tokenizer_2"), tokenizers_for(arch), strict=False):
        tokenizer.save_pretrained(os.path.join(folder, name))
        for vocab_file in ("vocab.json", "merges.txt"):  # the slow-tokenizer files older libraries read
            shutil.copyfile(os.path.join(vocab_dir(), vocab_file), os.path.join(folder, name, vocab_file))
    os.makedirs(os.path.join(folder, "scheduler"))
    _write_json(os.path.join(folder, "scheduler", "scheduler_config.json"), cfg["scheduler"])
    _write_json(os.path.join(folder, "model_index.json"), cfg["model_index"])


def _restore_text_model_level(path: str) -> None:
    """transformers 5 saves CLIPTextModel without its ``text_model.`` level; the published SD folders (and
    older transformers) have it, so write the file that way (transformers 5 reads both)."""
    tensors = load_file(path)
    if any(k.startswith("text_model.") for k in tensors):
        return
    save_file({"text_model." + k: v for k, v in tensors.items()}, path, metadata={"format": "pt"})


def _write_json(path: str, data: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
