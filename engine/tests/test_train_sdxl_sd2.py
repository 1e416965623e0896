"""SDXL and SD2 specifics: size/crop conditioning as sd-scripts computes it (flips included), frozen
text encoders cached, SD2 v-prediction; tiny models at 64 px, a few steps."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file
from test_train_loop import run_in_process
from test_train_support import make_spec, write_images

from danlu_engine.commands import train as train_command
from danlu_engine.models import make_tiny
from danlu_engine.spec import ImageSpec
from danlu_engine.train.data import sdxl_time_ids

torch.set_num_threads(1)


def image(width: int, height: int, bucket=(64, 64)) -> ImageSpec:
    return ImageSpec("x.png", width, height, bucket, (0, 0), (0, 0), True, False, 1.0)


def test_wide_image_in_a_square_bucket():
    # fitted inside 64x64 the 300x200 image is 64x42.67: top = (64 - 42.67) // 2 = 10, left 0
    assert sdxl_time_ids(image(300, 200)) == (200, 300, 10, 0, 64, 64)
    assert sdxl_time_ids(image(300, 200), flipped=True) == (200, 300, 10, 0, 64, 64)


def test_tall_image_flipped_measures_left_from_the_right_edge():
    # fitted: 42.67x64, left = (64 - 42.67) // 2 = 10, right = 52.67; flipped left = 64 - 52.67 = 11.33 -> 11
    assert sdxl_time_ids(image(200, 300)) == (300, 200, 0, 10, 64, 64)
    assert sdxl_time_ids(image(200, 300), flipped=True) == (300, 200, 0, 11, 64, 64)


def test_original_size_is_the_file_size_and_target_the_bucket():
    assert sdxl_time_ids(image(1024, 512, bucket=(128, 64))) == (512, 1024, 0, 0, 64, 128)


def tall_images(folder: str, count: int) -> list[dict]:
    """64x96 PNGs planned into a 64x64 bucket (centre crop 16 px from the top), flip_aug on."""
    os.makedirs(folder, exist_ok=True)
    entries = []
    for i in range(count):
        path = os.path.join(folder, f"tall{i}.png")
        array = np.full((96, 64, 3), 40 * (i + 1), dtype=np.uint8)
        array[20:60, 10:30] = 250
        Image.fromarray(array).save(path)
        entries.append({"path": path, "width": 64, "height": 96, "bucket": [64, 64], "resized": [64, 96],
                        "crop": [0, 16], "flip": True, "is_reg": False, "loss_weight": 1.0})
    return entries


def test_sdxl_frozen_encoders_cached_and_flipped_time_ids(tmp_path, monkeypatch):
    model = str(tmp_path / "tiny-sdxl.safetensors")
    make_tiny("sdxl", model, True, 0)
    entries = tall_images(str(tmp_path / "img"), 2)
    spec = make_spec(model, str(tmp_path / "out"), [e["path"] for e in entries], epochs=2, batch=2)
    spec["images"] = entries
    seen: list[tuple[int, ...]] = []
    forward = UNet2DConditionModel.forward

    def recording(self, *args, added_cond_kwargs=None, **kwargs):
        seen.extend(tuple(int(v) for v in row) for row in added_cond_kwargs["time_ids"].tolist())
        return forward(self, *args, added_cond_kwargs=added_cond_kwargs, **kwargs)

    monkeypatch.setattr(UNet2DConditionModel, "forward", recording)
    events = run_in_process(spec, monkeypatch)
    assert events[-1]["event"] == "done"
    assert any(e["event"] == "phase" and e["name"] == "cache_text" for e in events)  # encoders frozen
    assert set(seen) == {(96, 64, 0, 10, 64, 64), (96, 64, 0, 11, 64, 64)}  # plain and flipped both drawn
    with safe_open(str(tmp_path / "out" / "tiny.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert keys and not any(k.startswith("lora_te") for k in keys)


def test_sd2_v_prediction_trains_on_the_v_target(tmp_path, images_sd2, monkeypatch):
    model, paths = images_sd2
    spec = make_spec(model, str(tmp_path / "out"), paths, epochs=1, batch=2,
                     model={"path": model, "arch": None, "v_prediction": True, "vae_path": None})
    schedules = []
    original = train_command.NoiseSchedule.from_scheduler

    def recording(*args, **kwargs):
        schedules.append(original(*args, **kwargs))
        return schedules[-1]

    monkeypatch.setattr(train_command.NoiseSchedule, "from_scheduler", recording)
    events = run_in_process(spec, monkeypatch)
    assert events[-1]["event"] == "done" and schedules and schedules[0].v_prediction
    with safe_open(str(tmp_path / "out" / "tiny.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["ss_base_model_version"] == "sd_v2_v" and meta["modelspec.prediction_type"] == "v"
    assert meta["ss_v2"] == "True"


@pytest.fixture
def images_sd2(tmp_path):
    model = str(tmp_path / "tiny-sd2")
    make_tiny("sd2", model, False, 0)
    return model, write_images(str(tmp_path / "img"), 2)


def test_sdxl_second_text_encoder_gets_its_own_lr(tmp_path, monkeypatch):
    model = str(tmp_path / "tiny-sdxl.safetensors")
    make_tiny("sdxl", model, True, 0)
    paths = write_images(str(tmp_path / "img"), 2)
    spec = make_spec(model, str(tmp_path / "out"), paths, epochs=1, batch=2, network={"train_text_encoder": True},
                     optimizer={"text_encoder_lr": 2e-4, "text_encoder_lr2": 1e-4})
    groups: list[dict] = []
    build = train_command.build_optimizer

    def recording(options, param_groups, device):
        groups.extend({"name": g["name"], "lr": g["lr"], "n": len(g["params"])} for g in param_groups)
        return build(options, param_groups, device)

    monkeypatch.setattr(train_command, "build_optimizer", recording)
    events = run_in_process(spec, monkeypatch)
    assert events[-1]["event"] == "done"
    by_name = {g["name"]: g for g in groups}
    assert by_name["text_encoder"]["lr"] == 2e-4 and by_name["text_encoder_2"]["lr"] == 1e-4
    assert by_name["text_encoder"]["n"] > 0 and by_name["text_encoder_2"]["n"] > 0
    with safe_open(str(tmp_path / "out" / "tiny.safetensors"), "pt") as f:
        assert f.metadata()["ss_text_encoder_lr"] == "[0.0002, 0.0001]"


@pytest.mark.parametrize("layout", ["folder", "file"])
def test_sdxl_trains_with_a_separate_vae(tmp_path, monkeypatch, layout):
    """`vae` = a fp16-fix style VAE: a diffusers folder, or one diffusers-layout file (sdxl_vae.safetensors)."""
    model = str(tmp_path / "tiny-sdxl.safetensors")
    make_tiny("sdxl", model, True, 0)
    other = str(tmp_path / "other")
    make_tiny("sdxl", other, False, 1)  # another seed: its VAE differs from the model's own
    vae_path = os.path.join(other, "vae")
    expected = AutoencoderKL.from_pretrained(vae_path).state_dict()
    if layout == "file":
        vae_path = str(tmp_path / "sdxl_vae.safetensors")
        save_file({k: v.contiguous() for k, v in expected.items()}, vae_path)
    used = []
    original = train_command.LatentSource

    def recording(images, vae, *args):
        used.append(vae)
        return original(images, vae, *args)

    monkeypatch.setattr(train_command, "LatentSource", recording)
    paths = write_images(str(tmp_path / "img"), 2)
    spec = make_spec(model, str(tmp_path / "out"), paths, epochs=1, batch=2,
                     model={"path": model, "arch": None, "v_prediction": None, "vae_path": vae_path})
    events = run_in_process(spec, monkeypatch)
    assert events[-1]["event"] == "done"
    state = used[0].state_dict()
    assert all(torch.equal(state[k].float().cpu(), v.float()) for k, v in expected.items())
    assert used[0].config.scaling_factor == pytest.approx(0.13025)
