"""One short tiny-model training run per optimizer family and one with every noise/loss option on
(in-process, 64 px, two steps each): the options reach the trainer and it trains, saves and resumes."""
from __future__ import annotations

import math
import os

import pytest
import torch
from test_train_loop import losses, run_in_process
from test_train_support import make_spec, write_images

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    return write_images(str(tmp_path_factory.mktemp("images")), 2)


def progress(events: list[dict]) -> list[dict]:
    return [e for e in events if e["event"] == "progress"]


@pytest.mark.parametrize(
    ("kind", "lr", "args", "scheduler"),
    [
        ("Lion", 1e-4, {"weight_decay": 0.01}, "constant"),
        ("Prodigy", 1.0, {"d_coef": 2.0, "safeguard_warmup": True, "use_bias_correction": True}, "constant"),
        ("Adafactor", 1e-3, {}, "adafactor"),
        ("DAdaptAdam", 1.0, {"decouple": True}, "constant"),
    ],
)
def test_each_optimizer_family_trains_a_tiny_model(sd15, images, tmp_path, monkeypatch, kind, lr, args, scheduler):
    spec = make_spec(sd15, str(tmp_path), images, epochs=1, batch=1,
                     optimizer={"type": kind, "unet_lr": lr, "text_encoder_lr": lr, "args": args},
                     scheduler={"type": scheduler, "warmup_steps": 0, "num_cycles": 1, "power": 1.0})
    events = run_in_process(spec, monkeypatch)
    steps = progress(events)
    assert events[-1]["event"] == "done" and len(steps) == 2
    assert all(math.isfinite(e["loss"]) and e["lr"] > 0 for e in steps)
    assert os.path.isfile(tmp_path / "tiny.safetensors")
    if kind in ("Prodigy", "DAdaptAdam"):
        assert [e["lr"] for e in steps] == [1.0, 1.0]  # the multiplier; the step size is the package's d
    if kind == "Adafactor":
        assert steps[0]["lr"] != lr  # the relative step's own lr, reported by the adafactor schedule


def test_schedule_free_resumes_to_the_same_losses(sd15, images, tmp_path, monkeypatch):
    spec = make_spec(sd15, str(tmp_path / "straight"), images, epochs=2, batch=1,
                     optimizer={"type": "AdamWScheduleFree", "unet_lr": 1e-3, "args": {"warmup_steps": 1}})
    straight = losses(run_in_process(spec, monkeypatch))
    spec["output"]["dir"] = str(tmp_path / "cut")
    events = run_in_process(spec, monkeypatch, cancel_after=2)
    assert events[-1]["event"] == "cancelled" and losses(events) == straight[:2]
    resumed = losses(run_in_process({**spec, "resume": events[-1]["state_dir"]}, monkeypatch))
    assert resumed == pytest.approx(straight[2:], abs=1e-6) and len(straight) == 4


def test_every_noise_and_loss_option_trains_a_v_prediction_model(sd15, images, tmp_path, monkeypatch):
    options = {"noise_offset_random_strength": True, "adaptive_noise_scale": 0.01, "multires_noise_iterations": 4,
               "multires_noise_discount": 0.3, "zero_terminal_snr": True, "min_snr_gamma": 5.0,
               "debiased_estimation_loss": True, "loss_type": "smooth_l1", "huber_schedule": "snr",
               "min_timestep": 100, "max_timestep": 1000}
    spec = make_spec(sd15, str(tmp_path / "all"), images, epochs=1, batch=2, loss=options,
                     model={"path": sd15, "arch": None, "v_prediction": True, "vae_path": None},
                     training={"noise_offset": 0.05})
    with_options = losses(run_in_process(spec, monkeypatch))
    plain = make_spec(sd15, str(tmp_path / "plain"), images, epochs=1, batch=2,
                      model={"path": sd15, "arch": None, "v_prediction": True, "vae_path": None})
    assert len(with_options) == 1 and math.isfinite(with_options[0])
    assert with_options != losses(run_in_process(plain, monkeypatch))


def test_cosine_with_restarts_resumed_past_a_restart_keeps_the_lr_curve(sd15, images, tmp_path, monkeypatch):
    spec = make_spec(sd15, str(tmp_path / "straight"), images, epochs=2, batch=1,
                     scheduler={"type": "cosine_with_restarts", "warmup_steps": 0, "num_cycles": 2, "power": 1.0})
    straight = progress(run_in_process(spec, monkeypatch))
    spec["output"]["dir"] = str(tmp_path / "cut")
    cut = run_in_process(spec, monkeypatch, cancel_after=3)  # steps 1-2: cycle 1; 3-4: cycle 2
    resumed = progress(run_in_process({**spec, "resume": cut[-1]["state_dir"]}, monkeypatch))
    lrs = [e["lr"] for e in straight]
    assert [e["lr"] for e in progress(cut) + resumed] == pytest.approx(lrs)
    assert [e["loss"] for e in resumed] == pytest.approx([e["loss"] for e in straight[3:]], abs=1e-6)
    assert lrs[1] > lrs[0] and min(lrs[:-1]) > 0  # the restart after step 2, no zero before the end
