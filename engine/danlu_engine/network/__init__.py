"""The trainable network (kohya LoRA and the LyCORIS family) and how it is written to disk."""
from __future__ import annotations

from .adapter import Adapter
from .build import ALGOS, build_lora_network, build_network, clip_file_path, network_from_weights
from .lora import LoRAModule, LoRANetwork
from .lycoris_modules import IA3Module, LoHaModule, LoKrModule, factorization
from .save import ModelFacts, model_metadata, modelspec_metadata, save_lora_file, save_metadata
from .targets import NetworkOptions, block_index, find_targets, text_encoder_prefixes

__all__ = [
    "ALGOS",
    "Adapter",
    "IA3Module",
    "LoHaModule",
    "LoKrModule",
    "LoRAModule",
    "LoRANetwork",
    "ModelFacts",
    "NetworkOptions",
    "block_index",
    "build_lora_network",
    "build_network",
    "clip_file_path",
    "factorization",
    "find_targets",
    "model_metadata",
    "modelspec_metadata",
    "network_from_weights",
    "save_lora_file",
    "save_metadata",
    "text_encoder_prefixes",
]
