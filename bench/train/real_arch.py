"""Write a full-size SD1.5 model with random weights as one LDM-layout ``.safetensors`` (for benchmarks).

make-tiny shrinks the widths; a speed figure for "the real SD1.5" needs the real ones. This builds the
UNet, VAE and CLIP text tower from the configs danlu ships (engine/danlu_engine/configs/sd15, the
values of the official diffusers repository), seeds them, stores them as float16 (as downloaded
checkpoints are) with the original LDM key names, so danlu and kohya sd-scripts load the same file.

Usage (project venv, engine on PYTHONPATH):
    PYTHONPATH=engine .venv/bin/python bench/train/real_arch.py OUT.safetensors [--seed 0]
Prints one JSON line: {"path", "parameters", "seconds"}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from danlu_engine.models import build, configs
from danlu_engine.models.single_file import save_single_file

ARCH = "sd15"
MARKER = "danlu_bench_real_arch"  # safetensors metadata: {"arch", "seed"}


def build_modules(seed: int) -> dict[str, torch.nn.Module]:
    """UNet, VAE and text encoder at full size, randomly initialised (deterministic for a seed)."""
    shipped = {c: configs.shipped(ARCH, c) for c in ("unet", "vae", "text_encoder")}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return {
            "unet": build.build_unet(shipped["unet"]),
            "vae": build.build_vae(shipped["vae"]),
            "text_encoder": build.build_text_encoder(shipped["text_encoder"], with_projection=False),
        }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = os.path.abspath(args.out)
    if not out.endswith(".safetensors"):
        parser.error("out must end in .safetensors")
    started = time.perf_counter()
    modules = build_modules(args.seed)
    count = sum(p.numel() for m in modules.values() for p in m.parameters())
    for module in modules.values():
        module.to(torch.float16)  # half the file size; both trainers upcast to float32 for mixed_precision=no
    os.makedirs(os.path.dirname(out), exist_ok=True)
    save_single_file(ARCH, modules, out, metadata={MARKER: json.dumps({"arch": ARCH, "seed": args.seed})})
    print(json.dumps({"path": out, "parameters": count, "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
