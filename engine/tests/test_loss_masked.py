"""Masked loss from alpha masks: the alpha channel read like the pixels, averaged to latent size,
flipped with the image, multiplying the loss (sd-scripts' apply_masked_loss); one tiny-model run."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from test_loss import loss_maker
from test_train_loop import losses, run_in_process
from test_train_support import make_spec, write_images

from danlu_engine.models import make_tiny
from danlu_engine.spec import ImageSpec
from danlu_engine.train.data import load_alpha_mask, load_pixels
from danlu_engine.train.masks import MaskSource
from danlu_engine.train.step import PLAIN

torch.set_num_threads(1)


def rgba(path: str, size: int, left_alpha: int, right_alpha: int) -> str:
    array = np.full((size, size, 4), 128, dtype=np.uint8)
    array[:, : size // 2, 3] = left_alpha
    array[:, size // 2 :, 3] = right_alpha
    Image.fromarray(array, "RGBA").save(path)
    return path


def spec_of(path: str, size: int, resized: int, crop: tuple[int, int], bucket: int) -> ImageSpec:
    return ImageSpec(path, size, size, (bucket, bucket), (resized, resized), crop, True, False, 1.0)


def test_alpha_is_resized_and_cropped_like_the_pixels(tmp_path):
    path = rgba(str(tmp_path / "a.png"), 32, 0, 255)
    image = spec_of(path, 32, 64, (16, 0), 32)  # 2x up, then the middle 32 columns
    mask = load_alpha_mask(image)
    assert mask is not None
    assert mask.shape == load_pixels(image).shape[1:] == (32, 32)
    assert mask[:, :8].max() == 0 and mask[:, 24:].min() == 1  # left half transparent, right opaque (Lanczos edge)
    (plain,) = write_images(str(tmp_path / "rgb"), 1, size=32)
    assert load_alpha_mask(spec_of(plain, 32, 32, (0, 0), 32)) is None


def test_masks_are_averaged_to_latent_size_and_flipped(tmp_path):
    path = rgba(str(tmp_path / "a.png"), 32, 0, 255)
    (plain,) = write_images(str(tmp_path / "rgb"), 1, size=32)
    source = MaskSource([spec_of(path, 32, 32, (0, 0), 32), spec_of(plain, 32, 32, (0, 0), 32)])
    masks = source.batch([0, 0, 1], [False, True, False], (4, 4), torch.device("cpu"))
    assert masks is not None
    half = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 4)
    torch.testing.assert_close(masks[0, 0], half)
    torch.testing.assert_close(masks[1, 0], half.flip(-1))
    torch.testing.assert_close(masks[2, 0], torch.ones(4, 4))  # no alpha: every pixel counts
    assert source.batch([1], [False], (4, 4), torch.device("cpu")) is None


def test_the_mask_multiplies_the_elementwise_loss():
    from danlu_engine.models.build import training_scheduler

    pred, target = torch.randn(2, 4, 4, 4), torch.randn(2, 4, 4, 4)
    mask = torch.rand(2, 1, 4, 4)
    maker = loss_maker(training_scheduler(False), False)
    expected = (F.mse_loss(pred, target, reduction="none") * mask).mean()
    torch.testing.assert_close(maker._reduce(pred, target, torch.tensor([1, 2]), torch.ones(2), mask), expected)


def test_a_fully_transparent_image_teaches_nothing(tmp_path, monkeypatch):
    model = str(tmp_path / "tiny")
    make_tiny("sd15", model, False, 0)
    clear = rgba(str(tmp_path / "clear.png"), 64, 0, 0)
    half = rgba(str(tmp_path / "half.png"), 64, 0, 255)
    masked = dataclasses.asdict(dataclasses.replace(PLAIN, masked_loss=True))
    spec = make_spec(model, str(tmp_path / "clear-out"), [clear], epochs=1, batch=1, loss=masked)
    assert losses(run_in_process(spec, monkeypatch)) == [0.0]
    spec = make_spec(model, str(tmp_path / "half-out"), [half], epochs=1, batch=1, loss=masked)
    with_mask = losses(run_in_process(spec, monkeypatch))
    spec = make_spec(model, str(tmp_path / "plain-out"), [half], epochs=1, batch=1)
    without = losses(run_in_process(spec, monkeypatch))
    assert 0 < with_mask[0] < without[0] and os.path.isfile(tmp_path / "half-out" / "tiny.safetensors")
