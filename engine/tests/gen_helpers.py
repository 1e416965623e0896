"""Shared pieces of the generate/lora_apply tests: a tiny loaded model and hand-built LoRA files."""
from __future__ import annotations

import torch
from PIL import Image, PngImagePlugin
from safetensors.torch import save_file

from danlu_engine.lora_apply.targets import model_targets
from danlu_engine.models import load_base_model, make_tiny


def tiny_model(tmp_dir, arch: str = "sd15"):
    path = str(tmp_dir / f"tiny-{arch}")
    make_tiny(arch, path, False, 0)
    return load_base_model(path)


def kohya_names(model, prefix: str, contains: str) -> list[str]:
    """kohya names of the model's layers under ``prefix`` whose name contains ``contains`` (diffusers paths)."""
    return sorted(n for n in model_targets(model) if n.startswith(prefix) and contains in n and "input_blocks" not in n
                  and "output_blocks" not in n and "middle_block_" not in n)


def write_kohya_lora(model, path: str, names: list[str], rank: int = 2, alpha: float = 1.0, seed: int = 0,
                     scale: float = 0.5, metadata: dict | None = None) -> dict[str, torch.Tensor]:
    """A kohya LoRA with random (non-zero) up and down for ``names``; returns the tensors written."""
    g = torch.Generator().manual_seed(seed)
    targets = model_targets(model)
    tensors = {}
    for name in names:
        weight = targets[name].module.weight
        assert isinstance(weight, torch.Tensor)
        out_dim, in_dim = weight.shape[0], weight.shape[1]
        kernel = tuple(weight.shape[2:])
        tensors[f"{name}.lora_down.weight"] = torch.randn(rank, in_dim, *kernel, generator=g) * scale
        tensors[f"{name}.lora_up.weight"] = torch.randn(out_dim, rank, *([1] * len(kernel)), generator=g) * scale
        tensors[f"{name}.alpha"] = torch.tensor(alpha)
    save_file(tensors, path, metadata=metadata or {"ss_network_module": "networks.lora"})
    return tensors


def png_parameters(path) -> str:
    """The A1111 "parameters" text chunk of a PNG the engine wrote."""
    with Image.open(path) as png:
        assert isinstance(png, PngImagePlugin.PngImageFile)
        return png.text["parameters"]
