"""Captions -> the UNet's text conditioning, as sd-scripts computes it (library/strategy_sd*.py, read).

- max_token_length 150/225: the caption is tokenized to 152/227 ids, cut into 77-id chunks
  (<BOS> + 75 tokens + <EOS/PAD>), each chunk encoded, and the states joined back as
  <BOS> + 75 x n + <EOS> (so 152 or 227 positions).
- SD1/2: clip_skip 1 is the last layer; clip_skip k takes the k-th layer from the end, then the final
  layer norm. SDXL: both encoders give the layer before the last (one more per extra clip_skip), no
  final norm; concatenated; the pooled vector is encoder 2's projected <EOS> state of the first chunk.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch

from .. import cancel

CHUNK = 77  # CLIP's context length
TOKENS_PER_CHUNK = CHUNK - 2


def chunked_ids(tokenizer, caption: str, max_token_length: int) -> torch.Tensor:
    """Token ids [n_chunks, 77] for one caption (n_chunks = max_token_length / 75)."""
    if max_token_length <= TOKENS_PER_CHUNK:
        ids = tokenizer(caption, padding="max_length", truncation=True, max_length=CHUNK).input_ids
        return torch.tensor([ids])
    ids = tokenizer(caption, padding="max_length", truncation=True, max_length=max_token_length + 2).input_ids
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    chunks = []
    for start in range(1, len(ids) - CHUNK + 2, TOKENS_PER_CHUNK):
        chunk = [ids[0], *ids[start : start + TOKENS_PER_CHUNK], ids[-1]]
        if pad != eos:  # OpenCLIP padding ("!"): every chunk must still end its text with <EOS>
            if chunk[-2] not in (eos, pad):
                chunk[-1] = eos
            if chunk[1] == pad:
                chunk[1] = eos
        chunks.append(chunk)
    return torch.tensor(chunks)


def final_layer_norm(encoder):
    # transformers 5's CLIPTextModel holds the layers itself; older versions and the
    # projection model keep them under .text_model
    return getattr(encoder, "text_model", encoder).final_layer_norm


def _join_chunks(states: torch.Tensor, batch: int, n_chunks: int) -> torch.Tensor:
    """[B*n, 77, D] -> [B, 2 + 75n, D]: drop the inner <BOS>/<EOS> of every chunk."""
    states = states.reshape(batch, n_chunks * CHUNK, states.shape[-1])
    if n_chunks == 1:
        return states
    parts = [states[:, :1]]
    parts += [states[:, i : i + TOKENS_PER_CHUNK] for i in range(1, n_chunks * CHUNK, CHUNK)]
    parts.append(states[:, -1:])
    return torch.cat(parts, dim=1)


def encode_sd(encoder, ids: torch.Tensor, clip_skip: int) -> torch.Tensor:
    batch, n_chunks, _ = ids.shape
    flat = ids.reshape(-1, CHUNK)
    if clip_skip <= 1:
        states = encoder(flat).last_hidden_state
    else:
        out = encoder(flat, output_hidden_states=True)
        states = final_layer_norm(encoder)(out.hidden_states[-clip_skip])
    return _join_chunks(states, batch, n_chunks)


def encode_sdxl(encoders, ids: list[torch.Tensor], clip_skip: int, eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    batch, n_chunks, _ = ids[0].shape
    layer = -(clip_skip + 1)  # SDXL trains on the layer before the last
    flat1, flat2 = ids[0].reshape(-1, CHUNK), ids[1].reshape(-1, CHUNK)
    states1 = encoders[0](flat1, output_hidden_states=True).hidden_states[layer]
    out2 = encoders[1](flat2, output_hidden_states=True)
    states2 = out2.hidden_states[layer]
    # eos_id comes from the tokenizer: SDXL's published encoder-2 config says 2, a legacy value.
    eos_at = (flat2 == eos_id).int().argmax(dim=-1)  # the first <EOS> of each chunk
    pooled = out2.last_hidden_state[torch.arange(flat2.shape[0], device=flat2.device), eos_at]
    pooled = encoders[1].text_projection(pooled.to(encoders[1].text_projection.weight.dtype))
    pooled = pooled.reshape(batch, n_chunks, -1)[:, 0]
    hidden = torch.cat([_join_chunks(states1, batch, n_chunks), _join_chunks(states2, batch, n_chunks)], dim=-1)
    return hidden, pooled


class TextConditioner:
    """Encodes captions; remembers each caption's result when the encoders are frozen."""

    def __init__(self, tokenizers, encoders, clip_skip: int, max_token_length: int, device, cache: bool):
        self.tokenizers, self.encoders = tokenizers, encoders
        self.clip_skip, self.max_token_length, self.device = clip_skip, max_token_length, device
        self.use_cache = cache
        self.cached: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def encode_uncached(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self._encode(captions)

    def _encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        ids = [
            torch.stack([chunked_ids(tok, c, self.max_token_length) for c in captions]).to(self.device)
            for tok in self.tokenizers
        ]
        if len(self.encoders) == 2:
            return encode_sdxl(self.encoders, ids, self.clip_skip, self.tokenizers[1].eos_token_id)
        return encode_sd(self.encoders[0], ids[0], self.clip_skip), None

    def precache(self, captions: list[str], report: Callable[[int, int], None], batch: int = 16) -> None:
        todo = [c for c in dict.fromkeys(captions) if c not in self.cached]
        for start in range(0, len(todo), batch):
            if cancel.requested():
                raise cancel.Cancelled(None, 0)
            part = todo[start : start + batch]
            with torch.no_grad():
                hidden, pooled = self._encode(part)
            for i, caption in enumerate(part):
                self.cached[caption] = (hidden[i], None if pooled is None else pooled[i])
            report(min(start + batch, len(todo)), len(todo))

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.use_cache:
            return self._encode(captions)
        missing = [c for c in dict.fromkeys(captions) if c not in self.cached]
        if missing:
            self.precache(missing, lambda done, total: None)
        hidden = torch.stack([self.cached[c][0] for c in captions])
        if self.cached[captions[0]][1] is None:
            return hidden, None
        return hidden, torch.stack([cast(torch.Tensor, self.cached[c][1]) for c in captions])  # pooled: all or none
