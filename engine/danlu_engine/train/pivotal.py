"""Pivotal tuning: new tokens ``<s0>..<sN-1>`` in every text encoder, trained for the first part of the run.

As the diffusers advanced SDXL LoRA script does it (read for the facts): each tokenizer gets the new tokens
as added special tokens, each encoder's token table gets one new row per token, initialised as random
normal scaled to the std of the existing table (or copied from the tokens of an init word, cycled). The
new rows train with their own AdamW and learning rate while every original row stays as it was; after
``train_steps`` optimizer steps they freeze and the LoRA trains on alone.

Here the original rows cannot change by construction: the encoder's ``nn.Embedding`` is wrapped by
``TokenRows``, which looks ids below the table size up in the frozen table and the rest in a small float32
parameter (so no full-table gradient or optimizer state, and no restore step).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from safetensors.torch import load_file, save_file

from ..network import save_lora_file
from ..protocol import EngineError
from ..spec import PivotalSpec
from .outputs import Saver

# The file keys A1111 and ComfyUI read for each encoder (ComfyUI: clip_l for SD1, clip_h for SD2's
# OpenCLIP ViT-H, clip_l + clip_g for SDXL; A1111 takes the single tensor of a one-key file).
EMBEDDING_KEYS = {"sd15": ["clip_l"], "sd2": ["clip_h"], "sdxl": ["clip_l", "clip_g"]}
TEXT_WEIGHT_DECAY = 1e-3  # the diffusers script's default for its text parameters (adam_weight_decay_text_encoder)
STATE_ROWS, STATE_OPTIMIZER = "pivotal.safetensors", "pivotal_optimizer.pt"


class TokenRows(torch.nn.Module):
    """An encoder's token table plus trainable rows for ids >= the table size."""

    def __init__(self, base: torch.nn.Embedding, new_rows: torch.Tensor):
        super().__init__()
        self.base = base
        self.new_rows = torch.nn.Parameter(new_rows.detach().to(base.weight.device, torch.float32).clone())

    @property
    def weight(self) -> torch.Tensor:
        """The whole table (original rows then new rows), for code that reads ``.weight``."""
        return torch.cat([self.base.weight, self.new_rows.to(self.base.weight.dtype)])

    @property
    def num_embeddings(self) -> int:
        return self.base.num_embeddings + self.new_rows.shape[0]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        size = self.base.num_embeddings
        old = self.base(ids.clamp(max=size - 1))
        new = torch.nn.functional.embedding((ids - size).clamp(min=0), self.new_rows).to(old.dtype)
        return torch.where((ids >= size).unsqueeze(-1), new, old)


def initial_rows(tokenizer, table: torch.Tensor, count: int, init_word: str, generator: torch.Generator):
    """[count, hidden]: the rows of the init word's tokens (cycled), or random normal x the table's std."""
    if init_word:
        ids = tokenizer(init_word, add_special_tokens=False).input_ids
        if not ids:
            raise EngineError("BAD_SPEC", f"spec key pivotal.init_word: {init_word!r} has no tokens")
        return torch.stack([table[ids[i % len(ids)]].float() for i in range(count)])
    std = table.float().std()
    return torch.randn(count, table.shape[1], generator=generator).to(table.device) * std


def add_tokens(tokenizer, encoder, tokens: list[str], init_word: str, generator: torch.Generator) -> TokenRows:
    """Add ``tokens`` to the tokenizer and their rows to the encoder; returns the installed TokenRows."""
    base = encoder.get_input_embeddings()
    before = len(tokenizer)
    if any(t in tokenizer.get_vocab() for t in tokens):
        raise EngineError("BAD_SPEC", f"spec key pivotal.tokens: one of {tokens} is already in the tokenizer")
    tokenizer.add_tokens(tokens, special_tokens=True)
    ids = tokenizer.convert_tokens_to_ids(tokens)
    if before != base.num_embeddings or ids != list(range(before, before + len(tokens))):
        raise EngineError("INTERNAL", f"the tokenizer ({before} tokens) does not match its encoder's table "
                          f"({base.num_embeddings} rows)")
    rows = TokenRows(base, initial_rows(tokenizer, base.weight.detach(), len(tokens), init_word, generator))
    encoder.set_input_embeddings(rows)
    if encoder.get_input_embeddings() is not rows:
        raise EngineError("INTERNAL", f"could not replace the token table of {type(encoder).__name__}")
    return rows


@dataclass
class PivotalTuner:
    """The new rows of every encoder, their optimizer, and when they stop training."""

    spec: PivotalSpec
    keys: list[str]  # the file key of each encoder's rows
    rows: list[TokenRows]
    optimizer: torch.optim.Optimizer
    training: bool = True
    on_freeze: Callable[[], None] | None = None  # e.g. let the text conditioner cache again

    @classmethod
    def install(cls, spec: PivotalSpec, arch: str, tokenizers, encoders, seed: int) -> PivotalTuner:
        generator = torch.Generator().manual_seed(seed)  # not the global RNG: the LoRA's init stays the same
        rows = [add_tokens(t, e, spec.tokens, spec.init_word, generator) for t, e in zip(tokenizers, encoders, strict=True)]
        params = [r.new_rows for r in rows]
        optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=TEXT_WEIGHT_DECAY)
        return cls(spec, EMBEDDING_KEYS[arch], rows, optimizer, training=spec.train_steps > 0)

    def cache_text_after_freeze(self, text, allowed: bool) -> None:
        """Once the rows freeze, a frozen text encoder's outputs may be cached (encoded afresh from then)."""

        def cache_again() -> None:
            text.cached.clear()  # nothing encoded with the rows still training may be reused
            text.use_cache = allowed

        self.on_freeze = cache_again

    def start_at(self, step: int) -> None:
        """Before the loop (step = the resumed step): frozen already when the pivot is behind."""
        if step >= self.spec.train_steps:
            self.freeze()

    def freeze(self) -> None:
        self.training = False
        for r in self.rows:
            r.new_rows.requires_grad_(False)
            r.new_rows.grad = None
        if self.on_freeze:
            self.on_freeze()

    def step(self, step: int, scaler: torch.amp.GradScaler | None) -> None:
        """One optimizer step of the new rows (call before the scaler's update), then freeze at the pivot."""
        if not self.training:
            return
        if scaler is not None:
            scaler.unscale_(self.optimizer)
            scaler.step(self.optimizer)
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if step >= self.spec.train_steps:
            self.freeze()

    def embeddings(self) -> dict[str, torch.Tensor]:
        return {k: r.new_rows.detach().float().cpu().clone() for k, r in zip(self.keys, self.rows, strict=True)}

    def fingerprint(self, base: str) -> str:
        s = self.spec
        parts = [base, s.tokens, s.init_word, s.lr, s.train_steps]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]

    def save_state(self, folder: str) -> None:
        save_file(self.embeddings(), os.path.join(folder, STATE_ROWS))
        torch.save(self.optimizer.state_dict(), os.path.join(folder, STATE_OPTIMIZER))

    def load_state(self, folder: str) -> None:
        paths = [os.path.join(folder, name) for name in (STATE_ROWS, STATE_OPTIMIZER)]
        if not all(os.path.isfile(p) for p in paths):
            raise EngineError("RESUME_MISMATCH", f"the state in {folder} has no pivotal-tuning embeddings")
        saved = load_file(paths[0])
        with torch.no_grad():
            for key, r in zip(self.keys, self.rows, strict=True):
                r.new_rows.copy_(saved[key].to(r.new_rows.device))
        self.optimizer.load_state_dict(torch.load(paths[1], map_location="cpu", weights_only=True))


def embedding_file(lora_path: str) -> str:
    """``name.safetensors`` -> ``name_emb.safetensors`` (beside the LoRA, as the diffusers script names it)."""
    stem = lora_path[: -len(".safetensors")] if lora_path.endswith(".safetensors") else lora_path
    return f"{stem}_emb.safetensors"


@dataclass
class PivotalSaver(Saver):
    """A Saver that writes the embeddings file beside every LoRA file it writes."""

    tuner: PivotalTuner | None = None

    def save_lora(self, network, kind: str, file_name: str, epoch: int, step: int) -> str:
        path = super().save_lora(network, kind, file_name, epoch, step)
        if self.tuner is not None:
            tokens = "".join(self.tuner.spec.tokens)
            meta = {"danlu.tokens": json.dumps(self.tuner.spec.tokens), "modelspec.trigger_phrase": tokens}
            emb = embedding_file(path)
            save_lora_file(emb, self.tuner.embeddings(), "float", meta)
            self.outputs.append(emb)
        return path
