"""inspect_checkpoint: what a model file or folder is, read from headers and configs (no weights loaded
for .safetensors; a .ckpt is memory-mapped through torch's weights-only loader)."""
from __future__ import annotations

import glob
import json
import math
import os
from collections import Counter

from ..protocol import EngineError
from .checkpoint_file import open_checkpoint, read_safetensors_header
from .detect import TEXT_ENCODERS, UNET, VAE, detect_single_file_arch, single_file_v_prediction
from .folder import folder_arch, folder_prediction_type

FOLDER_COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")
NOTE_PREDICTION = ("prediction type: the weights do not say; {rule}. Set v_prediction explicitly if this "
                   "is a v-prediction model")
NOTE_SDXL_VAE = "the SDXL VAE overflows in float16: keep it in float32 (vae_fp32) or use the fp16-fix VAE"


def _count(shapes) -> int:
    return sum(math.prod(s) for s in shapes)


def _component_of(key: str, arch: str) -> str:
    if key.startswith(UNET):
        return "unet"
    if key.startswith(VAE):
        return "vae"
    for i, (prefix, _) in enumerate(TEXT_ENCODERS[arch]):
        if key.startswith(prefix):
            return FOLDER_COMPONENTS[2 + i]
    return "other"


def _inspect_file(path: str) -> dict:
    ckpt = open_checkpoint(path)
    arch = detect_single_file_arch(path, ckpt.shapes)
    v_pred = single_file_v_prediction(ckpt, arch)
    by_component: dict[str, list] = {}
    for key, shape in ckpt.shapes.items():
        by_component.setdefault(_component_of(key, arch), []).append(shape)
    notes = []
    if not v_pred:
        notes.append(NOTE_PREDICTION.format(rule="assumed epsilon (no v_pred marker, .yaml or file-name hint)"))
    else:
        notes.append("prediction type: v-prediction, from a v_pred marker, a .yaml beside the file or the file name")
    if any(k.startswith("model_ema.") for k in ckpt.shapes):
        notes.append("holds EMA weights (model_ema.*) besides the model; they are not used")
    if "danlu_tiny" in ckpt.metadata:
        notes.append(f"a tiny random-weight test model made by danlu ({ckpt.metadata['danlu_tiny']})")
    if "global_step" in ckpt.extras:
        notes.append(f"global_step {ckpt.extras['global_step']}")
    return _summary(path, ckpt.format, arch, v_pred, Counter(ckpt.dtypes.values()), os.path.getsize(path),
                    {c: _count(s) for c, s in by_component.items()}, notes)


def _inspect_folder(path: str) -> dict:
    arch = folder_arch(path)
    prediction = folder_prediction_type(path)
    dtypes: Counter = Counter()
    parameters, notes = {}, []
    for component in FOLDER_COMPONENTS:
        files = sorted(glob.glob(os.path.join(path, component, "*.safetensors")))
        if not files:
            if os.path.isdir(os.path.join(path, component)):
                notes.append(f"{component}: no .safetensors weights (a .bin is loaded with torch's weights-only loader)")
            continue
        variant_free = [f for f in files if f.count(".") == 1] or files  # prefer x.safetensors to x.fp16.safetensors
        shapes: list[tuple[int, ...]] = []
        for file in variant_free:
            header = read_safetensors_header(file)
            dtypes.update(header.dtypes.values())
            shapes += header.shapes.values()
        parameters[component] = _count(shapes)
    if prediction is None:
        notes.append(NOTE_PREDICTION.format(rule="no scheduler config, so epsilon is assumed"))
    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, names in os.walk(path) for f in names)
    return _summary(path, "diffusers", arch, prediction == "v_prediction", dtypes, size, parameters, notes)


def _summary(path, fmt, arch, v_pred, dtypes: Counter, size, parameters, notes) -> dict:
    if arch == "sdxl":
        notes.append(NOTE_SDXL_VAE)
    return {
        "path": path,
        "format": fmt,
        "arch": arch,
        "prediction_type": "v_prediction" if v_pred else "epsilon",
        "dtype": dtypes.most_common(1)[0][0] if dtypes else "unknown",
        "dtypes": dict(dtypes),  # dtype -> number of tensors
        "size_bytes": size,
        "parameters": parameters,  # component -> parameter count ("other": tensors outside the four)
        "notes": notes,
    }


def inspect_checkpoint(path: str) -> dict:
    """Describe a checkpoint: arch, prediction_type, dtype(s), size_bytes, format (single_file | ckpt |
    diffusers), parameter counts per component, notes. Raises EngineError FILE_NOT_FOUND, BAD_MODEL (not a
    checkpoint, truncated, a LoRA, ...) or UNSUPPORTED_ARCH, exactly as load_base_model would."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise EngineError("FILE_NOT_FOUND", f"model not found: {path}")
    try:
        return _inspect_folder(path) if os.path.isdir(path) else _inspect_file(path)
    except (OSError, json.JSONDecodeError) as e:
        raise EngineError("BAD_MODEL", f"cannot read {path}: {e}") from None
