"""SD2.x: OpenCLIP ViT-H text tower (penultimate layer), linear projections, and the v-prediction rule."""
from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from danlu_engine.models import inspect_checkpoint, load_base_model, make_tiny

torch.set_num_threads(1)  # see test_models.py


@pytest.fixture(scope="module")
def sd2(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd2")
    folder, single = str(root / "folder"), str(root / "tiny-sd2.safetensors")
    make_tiny("sd2", folder, single_file=False, seed=4)
    make_tiny("sd2", single, single_file=True, seed=4)
    return folder, single


def test_sd2_folder_and_single_file_are_the_same_model(sd2):
    a, b = (load_base_model(p) for p in sd2)
    assert a.arch == b.arch == "sd2" and not a.v_prediction and not b.v_prediction
    assert a.unet.config.use_linear_projection and a.text_encoders[0].config.hidden_act == "gelu"
    assert a.text_encoders[0].config.num_hidden_layers == b.text_encoders[0].config.num_hidden_layers == 23
    assert a.tokenizers[0].pad_token_id == 0
    g = torch.Generator().manual_seed(0)
    latents, cond = torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 77, a.unet.config.cross_attention_dim, generator=g)
    ids = a.tokenizers[0]("a photo of a cat", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(a.unet(latents, 999, cond).sample, b.unet(latents, 999, cond).sample, rtol=0, atol=1e-5)
        torch.testing.assert_close(a.text_encoders[0](ids)[0], b.text_encoders[0](ids)[0], rtol=0, atol=0)


def test_single_file_stores_the_unused_last_open_clip_layer(sd2):
    from danlu_engine.models.checkpoint_file import open_checkpoint

    keys = open_checkpoint(sd2[1]).keys()
    layers = {int(k.split(".")[4]) for k in keys if k.startswith("cond_stage_model.model.transformer.resblocks.")}
    assert layers == set(range(24))  # like the real ViT-H tower; SD2 conditions on layer 23 of 24


def test_v_prediction_rule_for_single_files(sd2, tmp_path):
    named = tmp_path / "v2-1_768-v-tiny.safetensors"
    shutil.copyfile(sd2[1], named)
    model = load_base_model(str(named))
    assert model.v_prediction and model.noise_scheduler.config.prediction_type == "v_prediction"
    assert inspect_checkpoint(str(named))["prediction_type"] == "v_prediction"
    assert not load_base_model(str(named), v_prediction=False).v_prediction  # the argument wins

    with_yaml = tmp_path / "plain.safetensors"
    shutil.copyfile(sd2[1], with_yaml)
    assert not load_base_model(str(with_yaml)).v_prediction
    (tmp_path / "plain.yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    assert load_base_model(str(with_yaml)).v_prediction
    assert load_base_model(sd2[1], v_prediction=True).noise_scheduler.config.prediction_type == "v_prediction"


def test_v_prediction_from_a_folder_scheduler_config(sd2, tmp_path):
    folder = str(tmp_path / "v-folder")
    shutil.copytree(sd2[0], folder)
    config_path = os.path.join(folder, "scheduler", "scheduler_config.json")
    with open(config_path) as f:
        config = json.load(f)
    with open(config_path, "w") as f:
        json.dump({**config, "prediction_type": "v_prediction"}, f)
    assert load_base_model(folder).v_prediction
    assert inspect_checkpoint(folder)["prediction_type"] == "v_prediction"
    assert not load_base_model(sd2[0]).v_prediction


def test_768_v_in_an_sd15_file_name_is_not_a_hint(tmp_path):
    path = tmp_path / "my-768-v-finetune.safetensors"
    make_tiny("sd15", str(path), single_file=True, seed=0)
    assert not load_base_model(str(path)).v_prediction
