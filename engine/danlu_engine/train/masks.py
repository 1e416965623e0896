"""Alpha masks for the masked loss: each image's alpha channel, at latent resolution, weighting the loss.

As sd-scripts' apply_masked_loss: the mask (alpha in [0, 1]; ones for an image without alpha) is averaged
down to the loss's size ("area" interpolation: the mean over each 8x8 pixel block) and multiplies the
elementwise loss before its mean. Kept in memory per image at latent resolution (1/64 of the pixels);
a flipped image gets the flipped mask.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..spec import ImageSpec
from .data import load_alpha_mask


class MaskSource:
    def __init__(self, images: list[ImageSpec]):
        self.images = images
        self.cached: dict[int, torch.Tensor | None] = {}

    def _mask(self, index: int, size: tuple[int, int]) -> torch.Tensor | None:
        if index not in self.cached:
            alpha = load_alpha_mask(self.images[index])
            self.cached[index] = None if alpha is None else F.interpolate(alpha[None, None], size=size, mode="area")[0]
        return self.cached[index]

    def batch(self, indices: list[int], flips: list[bool], size: tuple[int, int], device) -> torch.Tensor | None:
        """[B, 1, h, w] masks for the micro-batch, or None when no image of it has transparency."""
        masks = [self._mask(i, size) for i in indices]
        if all(m is None for m in masks):
            return None
        ones = torch.ones(1, *size)
        stacked = [ones if m is None else (m.flip(-1) if flip else m) for m, flip in zip(masks, flips, strict=True)]
        return torch.stack(stacked).to(device)
