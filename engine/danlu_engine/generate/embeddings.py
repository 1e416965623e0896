"""Textual-inversion embeddings, used in prompts by file name (as A1111 does).

Formats: safetensors with ``emb_params`` (A1111, SD1/2), ``clip_l``/``clip_g`` (SDXL, also the
pivotal-tuning ``{name}_emb.safetensors``), or a single tensor; ``.pt`` with A1111's
``string_to_param['*']`` (loaded with weights_only=True). Each vector becomes a new token
``<name_i>`` in every tokenizer; a whole-word ``name`` in a prompt is rewritten to those tokens.
"""
from __future__ import annotations

import os
import re

import torch

from ..protocol import EngineError


def _read(path: str) -> dict[str, torch.Tensor]:
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    if path.endswith((".pt", ".bin")):
        data = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(data, dict) and "string_to_param" in data:
            return {"emb_params": next(iter(data["string_to_param"].values()))}
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    raise EngineError("BAD_LORA", f"embedding {path}: not a .safetensors or .pt embedding file")


def _vectors_per_encoder(path: str, tensors: dict[str, torch.Tensor], count: int) -> list[torch.Tensor]:
    if count == 2:
        if "clip_l" not in tensors or "clip_g" not in tensors:
            raise EngineError("BAD_LORA", f"embedding {path} has no clip_l/clip_g vectors: it is not for SDXL",
                              "use an embedding made for this model's architecture")
        return [tensors["clip_l"], tensors["clip_g"]]
    if "clip_l" in tensors or "clip_g" in tensors:
        if "clip_g" in tensors:
            raise EngineError("BAD_LORA", f"embedding {path} is for SDXL (clip_g) but the model is SD1/SD2",
                              "use an embedding made for this model's architecture")
        return [tensors["clip_l"]]
    values = list(tensors.values())
    if len(values) != 1:
        raise EngineError("BAD_LORA", f"embedding {path}: expected one tensor, found keys {sorted(tensors)}")
    return values


class Embeddings:
    def __init__(self):
        self.words: dict[str, str] = {}  # name -> placeholder tokens joined by spaces

    def load(self, model, paths: list[str]) -> None:
        for path in paths:
            name = os.path.basename(path).rsplit(".", 1)[0]
            vectors = _vectors_per_encoder(path, _read(path), len(model.text_encoders))
            count = vectors[0].reshape(-1, vectors[0].shape[-1]).shape[0]
            tokens = [f"<{name}_{i}>" for i in range(count)]
            for tok, encoder, vec in zip(model.tokenizers, model.text_encoders, vectors, strict=True):
                vec = vec.reshape(-1, vec.shape[-1])
                table = encoder.get_input_embeddings()
                if vec.shape[-1] != table.weight.shape[-1]:
                    raise EngineError("BAD_LORA", f"embedding {path}: vectors of size {vec.shape[-1]}, the model's "
                                      f"text encoder has {table.weight.shape[-1]}: made for another architecture")
                tok.add_tokens(tokens)
                encoder.resize_token_embeddings(len(tok))
                table = encoder.get_input_embeddings()
                ids = tok.convert_tokens_to_ids(tokens)
                with torch.no_grad():
                    table.weight[ids] = vec.to(table.weight.dtype)
            self.words[name] = " ".join(tokens)

    def expand(self, text: str) -> str:
        for name, tokens in self.words.items():
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", tokens, text)
        return text
