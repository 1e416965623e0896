"""The validation loss: fixed inputs (the same weights give the same figure), it moves with training,
and it is reported at step 0, every N steps and each epoch end."""
from __future__ import annotations

import io
import json

import pytest
import torch
from test_train_support import image_entry, make_spec, write_images

from danlu_engine import cancel, protocol
from danlu_engine.commands import train as train_command

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    return write_images(str(tmp_path_factory.mktemp("images")), 4)


def validation_spec(sd15: str, out: str, images: list[str], lr: float, every: int = 2) -> dict:
    """Three images train for 2 epochs of 2 steps; the fourth validates (not in any batch)."""
    spec = make_spec(sd15, out, images[:3], epochs=2, batch=2,
                     optimizer={"unet_lr": lr, "text_encoder_lr": lr, "weight_decay": 0.0},
                     network={"train_text_encoder": True})
    spec["images"].append(image_entry(images[3]))
    spec["validation"] = {"images": [{"image": 3, "caption": "a photo of sks shape 3"}], "every_n_steps": every,
                          "timesteps": [100, 500, 900]}
    return spec


def validation_events(spec: dict, monkeypatch) -> list[dict]:
    stdout = io.StringIO()
    monkeypatch.setattr(protocol, "_stdout", stdout)
    cancel.reset()
    train_command.run(spec)
    events = [json.loads(line) for line in stdout.getvalue().splitlines()]
    return [e for e in events if e["event"] == "validation"]


def test_same_weights_give_the_same_loss_and_training_moves_it(sd15, images, tmp_path, monkeypatch):
    frozen = validation_events(validation_spec(sd15, str(tmp_path / "a"), images, lr=0.0), monkeypatch)
    # step 0 (baseline), step 2 (every 2 steps and the end of epoch 1), step 4 (every 2 and epoch 2): once each
    assert [(e["step"], e["epoch"], e["images"]) for e in frozen] == [(0, 0, 1), (2, 1, 1), (4, 2, 1)]
    losses = [e["loss"] for e in frozen]
    assert losses[0] > 0 and losses == [losses[0]] * 3  # lr 0: unchanged weights, the same figure exactly

    trained = validation_events(validation_spec(sd15, str(tmp_path / "b"), images, lr=0.05), monkeypatch)
    assert trained[0]["loss"] == losses[0]  # the same untrained weights in another run: the same figure
    assert trained[-1]["loss"] != pytest.approx(losses[0], abs=1e-6)


def test_a_bad_validation_index_is_named(sd15, images, tmp_path):
    from danlu_engine.protocol import EngineError
    from danlu_engine.spec import parse_train_spec

    spec = validation_spec(sd15, str(tmp_path), images, lr=0.0)
    spec["validation"]["images"][0]["image"] = 9
    with pytest.raises(EngineError, match=r"validation.images\[0\].image"):
        parse_train_spec(spec)
