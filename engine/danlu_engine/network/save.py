"""Write a LoRA file the way sd-scripts does: kohya keys, ss_* and modelspec.* metadata, sshs hashes.

Hash facts from sd-scripts library/train_util.py: ``sshs_model_hash`` is the sha256 of the file bytes
after the safetensors header, ``sshs_legacy_hash`` the first 8 hex digits of the sha256 of the 64 KiB
at offset 1 MiB; both are computed on the file as serialized with only the ss_* metadata.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass

import torch
from safetensors.torch import save as safetensors_bytes

SAVE_DTYPES = {"float": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class ModelFacts:
    """What the metadata says about the base model (filled in once after loading)."""

    arch: str  # sd15 | sd2 | sdxl
    v_prediction: bool
    model_path: str
    model_hash_legacy: str | None  # A1111's old 8-digit hash of the checkpoint ("IsADirectory" for folders)
    model_hash_sha256: str | None  # sha256 of the whole checkpoint file


def model_metadata(facts: ModelFacts) -> dict[str, str]:
    """ss_* keys about the base model, as sd-scripts writes them."""
    if facts.arch == "sdxl":
        version = "sdxl_base_v1-0"
    else:
        version = ("sd_v2" if facts.arch == "sd2" else "sd_v1") + ("_v" if facts.v_prediction else "")
    meta = {
        "ss_base_model_version": version,
        "ss_v2": str(facts.arch == "sd2"),
        "ss_sd_model_name": os.path.basename(os.path.normpath(facts.model_path)),
        "ss_network_module": "networks.lora",
    }
    if facts.model_hash_legacy:
        meta["ss_sd_model_hash"] = facts.model_hash_legacy
    if facts.model_hash_sha256:
        meta["ss_new_sd_model_hash"] = facts.model_hash_sha256
    return meta


def modelspec_metadata(facts: ModelFacts, title: str, resolution: tuple[int, int], clip_skip: int) -> dict[str, str]:
    """modelspec.* keys (SAI model spec 1.0.1) for a LoRA of this base model."""
    if facts.arch == "sdxl":
        arch = "stable-diffusion-xl-v1-base"
        implementation = "https://github.com/Stability-AI/generative-models"
    else:
        arch = "stable-diffusion-v1" if facts.arch == "sd15" else (
            "stable-diffusion-v2-768-v" if facts.v_prediction else "stable-diffusion-v2-512"
        )
        implementation = "diffusers"
    meta = {
        "modelspec.sai_model_spec": "1.0.1",
        "modelspec.architecture": f"{arch}/lora",
        "modelspec.implementation": implementation,
        "modelspec.title": title,
        "modelspec.date": datetime.datetime.now().replace(microsecond=0).isoformat(),
        "modelspec.resolution": f"{resolution[0]}x{resolution[1]}",
        "modelspec.prediction_type": "v" if facts.v_prediction else "epsilon",
    }
    if clip_skip > 1:  # sd-scripts writes it only when clip_skip is set
        meta["modelspec.encoder_layer"] = str(clip_skip)
    return meta


def _hashes(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> tuple[str, str]:
    data = safetensors_bytes(tensors, {k: v for k, v in metadata.items() if k.startswith("ss_")})
    header_len = int.from_bytes(data[:8], "little")
    model_hash = hashlib.sha256(data[8 + header_len :]).hexdigest()
    legacy = hashlib.sha256(data[0x100000 : 0x110000]).hexdigest()[:8]
    return model_hash, legacy


def default_mode(directory: bool = False) -> int:
    """The permissions a plain open()/mkdir() would give (mkstemp/mkdtemp make private 0600/0700 ones)."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def save_lora_file(
    path: str, tensors: dict[str, torch.Tensor], precision: str, metadata: dict[str, str]
) -> dict[str, str]:
    """Write ``tensors`` (kohya keys) at ``precision`` with ``metadata`` plus the sshs hashes, atomically.

    Returns the metadata written.
    """
    dtype = SAVE_DTYPES[precision]
    cpu = {k: v.detach().to("cpu", dtype).contiguous() for k, v in tensors.items()}
    meta = {k: str(v) for k, v in metadata.items()}
    meta["sshs_model_hash"], meta["sshs_legacy_hash"] = _hashes(cpu, meta)
    data = safetensors_bytes(cpu, meta)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return meta


def save_metadata(base: dict[str, str], user: dict[str, str], epoch: int, step: int) -> dict[str, str]:
    """Engine-known keys, overridden by the spec's metadata, then the per-save facts (always true)."""
    meta = {**base, **user}
    meta["ss_epoch"] = str(epoch)
    meta["ss_steps"] = str(step)
    meta["ss_training_finished_at"] = str(time.time())
    return meta
