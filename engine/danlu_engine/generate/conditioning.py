"""Weighted prompts -> UNet conditioning, the way A1111 does it (modules/sd_hijack_clip.py, read for facts).

- Tokens go into chunks of 75; a BREAK section always starts a new chunk; when a chunk fills up and a
  comma lies within its last 20 tokens, the tokens after that comma move to the next chunk.
- Each chunk is <BOS> + 75 tokens + <EOS> (padded with <EOS>, then the tokenizer's pad id after the
  first <EOS> for OpenCLIP), encoded alone; the chunks' states are concatenated (77 positions each).
- Weights: the chunk's states are multiplied per token by its weight, then rescaled so their mean
  equals the unweighted mean. SDXL: each encoder's half separately; the pooled vector is encoder 2's of
  the first chunk. Clip skip and layer choice: danlu_engine.train.text (the training side's encoders).
- Prompt and negative get the same number of chunks: the shorter is padded with empty chunks.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..train.text import CHUNK, TOKENS_PER_CHUNK, encode_sd, encode_sdxl
from .spec import ParsedPrompt

COMMA_BACKTRACK = 20  # A1111's comma_padding_backtrack default


@dataclass
class Chunk:
    tokens: list[int]
    weights: list[float]


def _split_chunks(pieces: Sequence[tuple[list[int], float] | None], comma_id: int) -> list[Chunk]:
    """pieces: (token ids, weight) per segment; None marks a BREAK. Returns chunks of <= 75 tokens."""
    chunks: list[Chunk] = []
    current, last_comma = Chunk([], []), -1

    def close() -> None:
        nonlocal current, last_comma
        chunks.append(current)
        current, last_comma = Chunk([], []), -1

    for piece in pieces:
        if piece is None:
            close()
            continue
        ids, weight = piece
        for token in ids:
            if token == comma_id:
                last_comma = len(current.tokens)
            elif len(current.tokens) == TOKENS_PER_CHUNK and last_comma != -1 and \
                    len(current.tokens) - last_comma <= COMMA_BACKTRACK:
                cut = last_comma + 1
                moved = Chunk(current.tokens[cut:], current.weights[cut:])
                current.tokens, current.weights = current.tokens[:cut], current.weights[:cut]
                close()
                current = moved
            if len(current.tokens) == TOKENS_PER_CHUNK:
                close()
            current.tokens.append(token)
            current.weights.append(weight)
    if current.tokens or not chunks:
        close()
    return chunks


def prompt_chunks(tokenizer, prompt: ParsedPrompt, expand=lambda text: text) -> list[Chunk]:
    """The prompt's 75-token chunks with per-token weights. ``expand`` rewrites segment text before
    tokenizing (embedding names -> their placeholder tokens)."""
    comma_id = tokenizer.convert_tokens_to_ids(",</w>")
    pieces: list[tuple[list[int], float] | None] = []
    for s, section in enumerate(prompt.sections):
        if s > 0:
            pieces.append(None)
        for seg in section:
            ids = tokenizer(expand(seg.text), add_special_tokens=False, truncation=False).input_ids
            pieces.append((ids, seg.weight))
    return _split_chunks(pieces, comma_id)


def chunk_ids(tokenizer, chunk: Chunk) -> list[int]:
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    fill = TOKENS_PER_CHUNK - len(chunk.tokens)
    # A1111 pads with <EOS>, then OpenCLIP models replace everything after the first <EOS> with pad
    return [bos, *chunk.tokens, eos] + [pad if pad is not None else eos] * fill


def _weighted(states: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    if bool((weights == 1).all()):
        return states  # nothing to weight: skip the rescale (and its division by a mean that may be ~0)
    mean = states.float().mean()
    weighted = states * weights.reshape(1, -1, 1).to(states.dtype)
    new_mean = weighted.float().mean()
    # A1111 restores the unweighted mean; a mean of about 0 (seen on tiny random models) would turn the
    # ratio into inf/NaN and the image black, so then the weighted states are kept as they are.
    if not torch.isfinite(mean / new_mean) or new_mean.abs() < 1e-6 * max(float(mean.abs()), 1e-12):
        return weighted
    return weighted * (mean / new_mean).to(states.dtype)


class PromptEncoder:
    def __init__(self, model, device, expand=lambda text: text):
        self.model, self.device, self.expand = model, device, expand

    def chunks(self, prompt: ParsedPrompt) -> list[Chunk]:
        return prompt_chunks(self.model.tokenizers[0], prompt, self.expand)

    def _encode_chunk(self, chunk: Chunk, clip_skip: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        ids = [torch.tensor([[chunk_ids(tok, chunk)]], device=self.device) for tok in self.model.tokenizers]
        weights = torch.tensor([1.0, *chunk.weights] + [1.0] * (CHUNK - 1 - len(chunk.weights)), device=self.device)
        encoders = self.model.text_encoders
        if len(encoders) == 1:
            return _weighted(encode_sd(encoders[0], ids[0], clip_skip), weights), None
        hidden, pooled = encode_sdxl(encoders, ids, clip_skip, self.model.tokenizers[1].eos_token_id)
        split = encoders[0].config.hidden_size
        halves = [_weighted(hidden[..., :split], weights), _weighted(hidden[..., split:], weights)]
        return torch.cat(halves, dim=-1), pooled

    @torch.no_grad()
    def encode_pair(self, prompt: ParsedPrompt, negative: ParsedPrompt, clip_skip: int) -> dict:
        """prompt_embeds etc. for a diffusers pipeline (batch 1; the pipeline repeats them)."""
        cond, uncond = self.chunks(prompt), self.chunks(negative)
        count = max(len(cond), len(uncond))
        empty = Chunk([], [])
        out = {}
        for key, chunks in (("prompt_embeds", cond), ("negative_prompt_embeds", uncond)):
            chunks = chunks + [empty] * (count - len(chunks))
            encoded = [self._encode_chunk(c, clip_skip) for c in chunks]
            out[key] = torch.cat([h for h, _ in encoded], dim=1)
            if encoded[0][1] is not None:
                out[key.replace("prompt_embeds", "pooled_prompt_embeds")] = encoded[0][1]
        return out
