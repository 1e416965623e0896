"""Base models, offline: load SD1.x / SD2.x / SDXL from a single-file checkpoint or a diffusers folder,
make tiny random-weight models with the real architectures, and tell what a checkpoint is.

The engine never contacts a model hub: configs ship in danlu_engine/configs/, tokenizers are built from
open_clip's BPE file (danlu_engine.tokenizer).
"""
from __future__ import annotations

import os

# No hub access from anything below, even by accident (set before diffusers/transformers are imported).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from diffusers.utils import logging as _diffusers_logging  # noqa: E402
from transformers.utils import logging as _transformers_logging  # noqa: E402

# stdout carries protocol events only; progress bars and advice from the libraries would be noise on stderr.
for _logging in (_diffusers_logging, _transformers_logging):
    _logging.disable_progress_bar()
    _logging.set_verbosity_error()

from .inspect import inspect_checkpoint  # noqa: E402
from .loader import BaseModel, load_base_model  # noqa: E402
from .naming import ldm_unet_module_names  # noqa: E402
from .tiny import make_tiny  # noqa: E402

__all__ = ["BaseModel", "inspect_checkpoint", "ldm_unet_module_names", "load_base_model", "make_tiny"]
