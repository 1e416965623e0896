"""What inspect_checkpoint says about real and broken files, and that load_base_model raises the same errors."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from danlu_engine.models import inspect_checkpoint, load_base_model, make_tiny
from danlu_engine.protocol import EngineError

torch.set_num_threads(1)  # see test_models.py


class Callback:
    """Stands for the training-framework objects old .ckpt files carry: loading one needs a full unpickle."""


@pytest.fixture(scope="module")
def tiny_sd15(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("m") / "tiny-sd15.safetensors")
    make_tiny("sd15", path, single_file=True, seed=3)
    return path


def _raises(path: str, code: str, *words: str) -> str:
    for call in (inspect_checkpoint, load_base_model):
        with pytest.raises(EngineError) as e:
            call(path)
        assert e.value.code == code, (call.__name__, e.value.message)
        for word in words:
            assert word in e.value.message, (call.__name__, e.value.message)
    return e.value.message


def test_inspect_a_tiny_single_file(tiny_sd15):
    info = inspect_checkpoint(tiny_sd15)
    assert (info["format"], info["arch"], info["prediction_type"], info["dtype"]) == ("single_file", "sd15", "epsilon", "float16")
    assert info["size_bytes"] == os.path.getsize(tiny_sd15)
    assert set(info["parameters"]) == {"unet", "vae", "text_encoder"}
    model = load_base_model(tiny_sd15)
    assert info["parameters"]["unet"] == sum(p.numel() for p in model.unet.parameters())
    assert info["parameters"]["text_encoder"] == sum(p.numel() for p in model.text_encoders[0].parameters())
    assert any("tiny" in n for n in info["notes"]) and any("prediction type" in n for n in info["notes"])


def test_inspect_a_tiny_sdxl_folder(tmp_path):
    make_tiny("sdxl", str(tmp_path / "xl"), single_file=False, seed=0)
    info = inspect_checkpoint(str(tmp_path / "xl"))
    assert (info["format"], info["arch"], info["prediction_type"]) == ("diffusers", "sdxl", "epsilon")
    assert set(info["parameters"]) == {"unet", "vae", "text_encoder", "text_encoder_2"}
    assert any("fp16" in n for n in info["notes"])


def test_missing_file(tmp_path):
    _raises(str(tmp_path / "nope.safetensors"), "FILE_NOT_FOUND", "nope.safetensors")


def test_random_bytes_and_json_are_not_checkpoints(tmp_path):
    noise = tmp_path / "noise.safetensors"
    # 0x80 first: what a pickle starts with, but no pickle protocol after it (1 random file in 256 did this)
    for first in (b"\x17", b"\x80", b"\x80\x7f"):
        noise.write_bytes(first + random.Random(7).randbytes(4096))
        _raises(str(noise), "BAD_MODEL", "not a model checkpoint")
    config = tmp_path / "config.safetensors"
    config.write_text(json.dumps({"_class_name": "UNet2DConditionModel", "in_channels": 4}))
    _raises(str(config), "BAD_MODEL", "not a model checkpoint", "JSON")
    folder = tmp_path / "empty-folder"
    folder.mkdir()
    _raises(str(folder), "BAD_MODEL", "model_index.json")


def test_a_vae_alone_is_not_a_base_model(tiny_sd15, tmp_path):
    vae = {k: v for k, v in load_file(tiny_sd15).items() if k.startswith("first_stage_model.")}
    save_file(vae, str(tmp_path / "vae.safetensors"))
    _raises(str(tmp_path / "vae.safetensors"), "BAD_MODEL", "VAE")


def test_truncated_safetensors(tiny_sd15, tmp_path):
    cut = tmp_path / "cut.safetensors"
    data = Path(tiny_sd15).read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    _raises(str(cut), "BAD_MODEL", "truncated")


def test_lora_given_as_base_model(tmp_path):
    lora = tmp_path / "my_lora.safetensors"
    name = "lora_unet_down_blocks_0_attentions_0_proj_in"
    save_file({f"{name}.lora_down.weight": torch.zeros(4, 32), f"{name}.lora_up.weight": torch.zeros(32, 4),
               f"{name}.alpha": torch.tensor(4.0)}, str(lora))
    _raises(str(lora), "BAD_MODEL", "LoRA", "not a base model")


@pytest.mark.parametrize("key,name", [
    ("model.diffusion_model.joint_blocks.0.context_block.adaLN_modulation.1.bias", "Stable Diffusion 3"),
    ("double_blocks.0.img_attn.norm.key_norm.scale", "Flux"),
    ("model.diffusion_model.double_blocks.0.img_attn.qkv.weight", "Flux"),
])
def test_unsupported_architectures_are_named(tmp_path, key, name):
    path = tmp_path / "other.safetensors"
    save_file({key: torch.zeros(2, 2), "model.diffusion_model.x_embedder.proj.weight": torch.zeros(2, 2)}, str(path))
    _raises(str(path), "UNSUPPORTED_ARCH", name)


def test_inpainting_unet_is_unsupported(tiny_sd15, tmp_path):
    tensors = load_file(tiny_sd15)
    key = "model.diffusion_model.input_blocks.0.0.weight"
    tensors[key] = torch.zeros(tensors[key].shape[0], 9, 3, 3, dtype=tensors[key].dtype)
    path = tmp_path / "inpaint.safetensors"
    save_file(tensors, str(path))
    _raises(str(path), "UNSUPPORTED_ARCH", "inpainting")


def test_ckpt_loads_only_through_the_safe_loader(tiny_sd15, tmp_path):
    tensors = load_file(tiny_sd15)
    safe = tmp_path / "safe.ckpt"
    torch.save({"state_dict": tensors, "global_step": 1234}, str(safe))
    info = inspect_checkpoint(str(safe))
    assert (info["format"], info["arch"]) == ("ckpt", "sd15") and "global_step 1234" in info["notes"]
    a, b = load_base_model(tiny_sd15), load_base_model(str(safe))
    for (name, p), (_, q) in zip(a.unet.named_parameters(), b.unet.named_parameters(), strict=True):
        assert torch.equal(p, q), name
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save({"state_dict": tensors, "callbacks": Callback()}, str(unsafe))
    _raises(str(unsafe), "BAD_MODEL", "refused for safety", "safetensors")


def test_wrong_requested_arch(tiny_sd15):
    with pytest.raises(EngineError) as e:
        load_base_model(tiny_sd15, arch="sdxl")
    assert e.value.code == "BAD_MODEL" and "sd15" in e.value.message


def test_early_sd1_layout_without_text_model_level(tiny_sd15, tmp_path):
    prefix = "cond_stage_model.transformer.text_model."
    tensors = {(k.replace(prefix, "cond_stage_model.transformer.") if k.startswith(prefix) else k): v
               for k, v in load_file(tiny_sd15).items()}
    old = tmp_path / "old.safetensors"
    save_file(tensors, str(old))
    a, b = load_base_model(tiny_sd15), load_base_model(str(old))
    for (name, p), (_, q) in zip(a.text_encoders[0].named_parameters(), b.text_encoders[0].named_parameters(), strict=True):
        assert torch.equal(p, q), name
