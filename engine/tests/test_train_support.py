"""Shared helpers for the training tests: tiny images and a complete train spec (no tests here)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from typing import Any, Literal

import numpy as np
from PIL import Image

ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The type fields of OptimizerSpec and SchedulerSpec (danlu_engine/spec.py), for helpers that build them
OptimizerKind = Literal["AdamW", "AdamW8bit", "Lion", "Lion8bit", "Prodigy", "Adafactor", "DAdaptAdam",
                        "AdamWScheduleFree"]
SchedulerKind = Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial",
                        "adafactor"]


def write_images(folder: str, count: int, size: int = 64) -> list[str]:
    """``count`` PNGs with simple coloured shapes (a learnable pattern, unlike noise)."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        array = np.zeros((size, size, 3), dtype=np.uint8)
        array[:, :] = rng.integers(0, 255, 3)
        q = size // 4
        array[q : 3 * q, q : 3 * q] = rng.integers(0, 255, 3)
        path = os.path.join(folder, f"img{i}.png")
        Image.fromarray(array).save(path)
        paths.append(path)
    return paths


def image_entry(path: str, size: int = 64, flip: bool = False, weight: float = 1.0) -> dict:
    return {"path": path, "width": size, "height": size, "bucket": [size, size], "resized": [size, size],
            "crop": [0, 0], "flip": flip, "is_reg": False, "loss_weight": weight}


def plan(image_count: int, epochs: int, batch: int, captions: list[str] | None = None) -> list[list[dict]]:
    captions = captions or [f"a photo of sks shape {i}" for i in range(image_count)]
    out = []
    for _ in range(epochs):
        batches = []
        for start in range(0, image_count, batch):
            idx = list(range(start, min(start + batch, image_count)))
            batches.append({"images": idx, "captions": [captions[i] for i in idx]})
        out.append(batches)
    return out


# The loss section with every option off (plain L2 over all timesteps), as TypeScript's defaults write it.
PLAIN_LOSS = {"noise_offset_random_strength": False, "adaptive_noise_scale": None, "multires_noise_iterations": 0,
              "multires_noise_discount": 0.3, "zero_terminal_snr": False, "min_snr_gamma": None,
              "debiased_estimation_loss": False, "loss_type": "l2", "huber_schedule": "snr", "huber_c": 0.1,
              "huber_scale": 1.0, "min_timestep": 0, "max_timestep": 1000, "masked_loss": False}


# A plain kohya LoRA (networks.lora, no conv layers), as TypeScript's defaults write it.
PLAIN_NETWORK = {"module": "lora", "algo": "lora", "dim": 4, "alpha": 2.0, "conv_dim": 0, "conv_alpha": 1.0,
                 "dora_wd": False, "use_tucker": False, "factor": -1, "decompose_both": False, "full_matrix": False,
                 "dropout": 0.0, "rank_dropout": 0.0, "module_dropout": 0.0, "block_dims": None,
                 "block_alphas": None, "conv_block_dims": None, "conv_block_alphas": None, "weights": None,
                 "args": {}, "train_unet": True, "train_text_encoder": False}


def make_spec(model_path: str, out_dir: str, images: list[str], epochs: int = 2, batch: int = 2,
              accumulation: int = 1, processes: int = 1, **sections) -> dict:
    """A complete, valid train spec; ``sections`` override keys per section (e.g. training={...})."""
    epoch_plan = plan(len(images), epochs, batch)
    steps = sum(-(-len(e) // (accumulation * processes)) for e in epoch_plan)
    spec: dict[str, Any] = {
        "version": 1,
        "model": {"path": model_path, "arch": None, "v_prediction": None, "vae_path": None},
        "output": {"dir": out_dir, "name": "tiny", "save_every_n_epochs": 1, "save_every_n_steps": 0,
                   "save_state": False, "save_precision": "fp16",
                   "metadata": {"ss_tag_frequency": json.dumps({"1_sks": {"sks": len(images)}})}},
        "network": dict(PLAIN_NETWORK),
        "optimizer": {"type": "AdamW", "unet_lr": 1e-3, "text_encoder_lr": 5e-4, "text_encoder_lr2": 5e-4,
                      "weight_decay": 0.01,
                      "betas": [0.9, 0.999], "eps": 1e-8, "max_grad_norm": 1.0, "args": {}},
        "scheduler": {"type": "constant", "warmup_steps": 0, "num_cycles": 1, "power": 1.0},
        "training": {"device": "cpu", "mixed_precision": "no", "gradient_checkpointing": False,
                     "gradient_accumulation_steps": accumulation, "num_processes": processes,
                     "cache_latents": True,
                     "cache_latents_to_disk": False, "vae_fp32": True, "clip_skip": 1, "max_token_length": 75,
                     "seed": 42, "noise_offset": 0.0, "epochs": epochs, "total_steps": steps},
        "loss": dict(PLAIN_LOSS),
        "images": [image_entry(p) for p in images],
        "epochs": epoch_plan,
        "sample": {"prompts": [], "every_n_epochs": 0, "every_n_steps": 0, "at_start": False},
        "validation": {"images": [], "every_n_steps": 0, "timesteps": []},
        "pivotal": None,
        "resume": None,
        "run_record": None,
    }
    for section, values in sections.items():
        if isinstance(spec[section], dict) and isinstance(values, dict):
            spec[section] = {**spec[section], **values}
        else:
            spec[section] = values
    return copy.deepcopy(spec)


def run_engine(spec: dict, spec_path: str, timeout: float = 600) -> tuple[int, list[dict], str]:
    """Run ``python -m danlu_engine train`` in a subprocess: (exit code, events, stderr)."""
    with open(spec_path, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}  # 2 shared cores
    proc = subprocess.run([sys.executable, "-m", "danlu_engine", "train", spec_path], cwd=ENGINE_DIR,
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr
