"""Latents for each micro-batch: encoded once and kept (in memory, optionally on disk) or encoded per step.

Cached latents are the mean of the VAE's posterior (deterministic, so a disk cache can be reused);
latents encoded per step are sampled from it with the step's generator (a little augmentation).
A disk entry is keyed on the image file (path, size, mtime), its bucket/resize/crop, and the VAE: if
any of those change, the key changes and the image is encoded again.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable

import torch
from safetensors.torch import load_file, save_file

from .. import cancel
from ..network.save import default_mode
from ..spec import ImageSpec
from .data import load_pixels

ENCODE_BATCH = 4  # images per VAE call while caching
CACHE_FORMAT = 1  # bump when what is stored changes


def cache_key(image: ImageSpec, vae_id: str) -> str:
    stat = os.stat(image.path)
    fields = {
        "format": CACHE_FORMAT,
        "path": os.path.abspath(image.path),
        "bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "bucket": list(image.bucket),
        "resized": list(image.resized),
        "crop": list(image.crop),
        "vae": vae_id,
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class LatentSource:
    """Gives the latents [B, C, h, w] (float32, on the device) of a micro-batch's images."""

    def __init__(self, images: list[ImageSpec], vae, vae_dtype: torch.dtype, device: torch.device, vae_id: str):
        self.images, self.vae, self.vae_dtype, self.device, self.vae_id = images, vae, vae_dtype, device, vae_id
        self.scaling = float(vae.config.scaling_factor)
        self.shift = float(getattr(vae.config, "shift_factor", None) or 0.0)
        self.cached: dict[tuple[int, bool], torch.Tensor] = {}
        self.read_from_disk: set[int] = set()

    @torch.no_grad()
    def _encode(self, pixels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if self.device.type == "cuda":  # page-locked: the copy is a DMA the host does not wait on
            pixels = pixels.pin_memory().to(self.device, non_blocking=True)
        dist = self.vae.encode(pixels.to(self.device, self.vae_dtype)).latent_dist
        latents = dist.mean if generator is None else dist.sample(generator)
        return ((latents.float() - self.shift) * self.scaling).float()

    def _needed(self, indices: list[int]) -> list[tuple[int, bool]]:
        wanted = [(i, False) for i in indices] + [(i, True) for i in indices if self.images[i].flip]
        return sorted(wanted, key=lambda k: (self._bucket(k), k))

    def cache(self, indices: list[int], disk_dir: str | None, report: Callable[[int, int], None]) -> None:
        """Encode (or read from disk) every (image, flipped) pair the plan uses; ``report(done, total)``."""
        wanted = self._needed(indices)
        if disk_dir:
            self._read_disk(wanted, disk_dir)
        todo = [k for k in wanted if k not in self.cached]
        done = len(wanted) - len(todo)
        report(done, len(wanted))
        start = 0
        while start < len(todo):  # todo is sorted by bucket: each chunk shares one image size
            if cancel.requested():
                raise cancel.Cancelled(None, 0)
            bucket = self._bucket(todo[start])
            end = start + 1
            while end < len(todo) and end - start < ENCODE_BATCH and self._bucket(todo[end]) == bucket:
                end += 1
            chunk = todo[start:end]
            pixels = torch.stack([self._pixels(i, flip) for i, flip in chunk])
            for key, latent in zip(chunk, self._encode(pixels, None), strict=True):
                self.cached[key] = latent
            done, start = done + len(chunk), end
            report(done, len(wanted))
        if disk_dir:
            self._write_disk(wanted, disk_dir)

    def _bucket(self, key: tuple[int, bool]) -> tuple[int, int]:
        bucket = self.images[key[0]].bucket
        return (bucket[0], bucket[1])

    def _pixels(self, index: int, flip: bool) -> torch.Tensor:
        pixels = load_pixels(self.images[index])
        return torch.flip(pixels, dims=[2]) if flip else pixels

    def _disk_path(self, disk_dir: str, index: int) -> str:
        return os.path.join(disk_dir, cache_key(self.images[index], self.vae_id) + ".safetensors")

    def _read_disk(self, wanted_list: list[tuple[int, bool]], disk_dir: str) -> None:
        wanted = set(wanted_list)
        for index in sorted({i for i, _ in wanted}):
            path = self._disk_path(disk_dir, index)
            if not os.path.isfile(path):
                continue
            try:
                stored = load_file(path)
            except Exception:  # noqa: BLE001 - a damaged entry is simply encoded again
                continue
            found = {(index, False): stored.get("latents"), (index, True): stored.get("flipped")}
            needed = {k: v for k, v in found.items() if k in wanted}
            present = {k: v for k, v in needed.items() if v is not None}
            if len(present) == len(needed):
                self.cached.update({k: v.to(self.device) for k, v in present.items()})
                self.read_from_disk.add(index)

    def _write_disk(self, wanted: list[tuple[int, bool]], disk_dir: str) -> None:
        os.makedirs(disk_dir, exist_ok=True)
        for index in sorted({i for i, _ in wanted} - self.read_from_disk):
            tensors = {"latents": self.cached[(index, False)].cpu().contiguous()}
            if (index, True) in self.cached:
                tensors["flipped"] = self.cached[(index, True)].cpu().contiguous()
            path = self._disk_path(disk_dir, index)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=disk_dir)
            os.close(fd)
            save_file(tensors, tmp)
            os.chmod(tmp, default_mode())
            os.replace(tmp, path)

    def batch(self, indices: list[int], flips: list[bool], generator: torch.Generator) -> torch.Tensor:
        if all((i, f) in self.cached for i, f in zip(indices, flips, strict=True)):
            return torch.stack([self.cached[(i, f)] for i, f in zip(indices, flips, strict=True)])
        pixels = torch.stack([self._pixels(i, f) for i, f in zip(indices, flips, strict=True)])
        return self._encode(pixels, generator)
