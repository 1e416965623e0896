"""The diffusers <-> LDM key mapping, checked against diffusers' own (independent) LDM converters, and the
sd-scripts SDXL module names."""
from __future__ import annotations

import pytest
import torch
from accelerate import init_empty_weights
from diffusers.loaders import single_file_utils as sfu
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from transformers import CLIPTextModel

from danlu_engine.models import build, configs, ldm_unet_module_names
from danlu_engine.models.single_file import ldm_state_dict
from danlu_engine.models.tiny import build_tiny_modules


def _same_tensors(ours: dict, theirs: dict, what: str) -> None:
    assert set(ours) == set(theirs), (what, sorted(set(ours) ^ set(theirs))[:5])
    for key, value in ours.items():
        assert torch.equal(value, theirs[key].reshape(value.shape)), (what, key)


@pytest.mark.parametrize("arch", ["sd15", "sd2", "sdxl"])
def test_ldm_layout_matches_diffusers_converters(arch):
    modules = build_tiny_modules(arch, seed=5)
    ldm = ldm_state_dict(arch, modules)
    unet, vae, te = modules["unet"], modules["vae"], modules["text_encoder"]
    assert isinstance(unet, UNet2DConditionModel) and isinstance(vae, AutoencoderKL) and isinstance(te, CLIPTextModel)
    _same_tensors(unet.state_dict(), sfu.convert_ldm_unet_checkpoint(ldm, dict(unet.config)), "unet")
    _same_tensors(vae.state_dict(), sfu.convert_ldm_vae_checkpoint(ldm, dict(vae.config)), "vae")
    if arch == "sd2":
        theirs = sfu.convert_open_clip_checkpoint(te, ldm, prefix="cond_stage_model.model.")
        layers = te.config.num_hidden_layers  # diffusers keeps every stored layer; SD2 uses one fewer
        theirs = {k.removeprefix("text_model."): v for k, v in theirs.items() if f"layers.{layers}." not in k}
        theirs = {k: v for k, v in theirs.items() if k != "text_projection.weight"}
    else:
        theirs = {k.removeprefix("text_model."): v for k, v in sfu.convert_ldm_clip_checkpoint(ldm).items()
                  if not k.startswith("conditioner.embedders.1")}
    _same_tensors(te.state_dict(), theirs, "text_encoder")
    if arch == "sdxl":
        te2 = modules["text_encoder_2"]
        theirs = sfu.convert_open_clip_checkpoint(te2, ldm, prefix="conditioner.embedders.1.model.")
        _same_tensors(te2.state_dict(), theirs, "text_encoder_2")


def test_sdxl_ldm_module_names_as_sd_scripts_names_them():
    with init_empty_weights():
        unet = build.build_unet(configs.shipped("sdxl", "unet"))
    names = ldm_unet_module_names(unet, "sdxl")
    expected = {
        "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q": "input_blocks.4.1.transformer_blocks.0.attn1.to_q",
        "down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_out.0": "input_blocks.8.1.transformer_blocks.9.attn2.to_out.0",
        "down_blocks.1.attentions.1.proj_in": "input_blocks.5.1.proj_in",
        "mid_block.attentions.0.transformer_blocks.3.ff.net.0.proj": "middle_block.1.transformer_blocks.3.ff.net.0.proj",
        "up_blocks.0.attentions.2.transformer_blocks.0.attn1.to_k": "output_blocks.2.1.transformer_blocks.0.attn1.to_k",
        "up_blocks.1.attentions.0.proj_out": "output_blocks.3.1.proj_out",
        "down_blocks.0.resnets.1.conv1": "input_blocks.2.0.in_layers.2",
        "down_blocks.1.resnets.0.conv_shortcut": "input_blocks.4.0.skip_connection",
        "down_blocks.0.downsamplers.0.conv": "input_blocks.3.0.op",
        "up_blocks.0.upsamplers.0.conv": "output_blocks.2.2.conv",
        "up_blocks.2.resnets.2.time_emb_proj": "output_blocks.8.0.emb_layers.1",
        "mid_block.resnets.1.conv2": "middle_block.2.out_layers.3",
        "add_embedding.linear_1": "label_emb.0.0",
        "conv_out": "out.2",
    }
    for diffusers_path, ldm_path in expected.items():
        assert names[diffusers_path] == ldm_path
    transformer_children = [p for p in names if ".transformer_blocks." in p and p.endswith("attn1.to_q")]
    assert len(transformer_children) == 2 * 2 + 2 * 10 + 10 + 3 * 10 + 3 * 2  # = 70 blocks in SDXL
    assert len(set(names.values())) == len(names)  # one-to-one


def test_sd15_upsampler_without_attention_sits_in_slot_one():
    with init_empty_weights():
        unet = build.build_unet(configs.shipped("sd15", "unet"))
    names = ldm_unet_module_names(unet, "sd15")
    assert names["up_blocks.0.upsamplers.0.conv"] == "output_blocks.2.1.conv"  # UpBlock2D: no attention
    assert names["up_blocks.1.upsamplers.0.conv"] == "output_blocks.5.2.conv"
    assert names["down_blocks.2.downsamplers.0.conv"] == "input_blocks.9.0.op"
    up = "up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_v"
    assert names[up] == "output_blocks.11.1.transformer_blocks.0.attn2.to_v"


@pytest.mark.parametrize("variant", ["sd15", "sd2-512", "sd2-768-v", "sdxl"])
def test_full_size_configs_are_derived_back_from_their_shapes(variant):
    """A real checkpoint's tensor shapes (made on the meta device: no memory) give back the shipped configs."""
    from danlu_engine.models import derive

    arch = variant.split("-")[0]
    modules: dict[str, torch.nn.Module]
    with init_empty_weights():
        modules = {"unet": build.build_unet(configs.shipped(variant, "unet")),
                   "vae": build.build_vae(configs.shipped(variant, "vae")),
                   "text_encoder": build.build_text_encoder(configs.shipped(variant, "text_encoder"), False)}
        if arch == "sdxl":
            modules["text_encoder_2"] = build.build_text_encoder(configs.shipped(variant, "text_encoder_2"), True)
    shapes = {k: tuple(v.shape) for k, v in ldm_state_dict(arch, modules).items()}
    derived = {"unet": derive.unet_config(arch, variant, shapes, "x"), "vae": derive.vae_config(variant, shapes, "x"),
               "text_encoder": derive.text_config(arch, variant, 0, shapes, "x")}
    if arch == "sdxl":
        derived["text_encoder_2"] = derive.text_config(arch, variant, 1, shapes, "x")
    for name, config in derived.items():
        shipped = configs.shipped(variant, name)
        if name == "text_encoder" and arch != "sdxl":
            config.pop("projection_dim"), shipped.pop("projection_dim")  # CLIPTextModel has no projection
        assert config == shipped, name


def test_text_encoder_module_names_have_the_text_model_level():
    from danlu_engine.models import text_encoder_module_names

    modules = build_tiny_modules("sdxl", seed=0)
    te1 = text_encoder_module_names(modules["text_encoder"])
    te2 = text_encoder_module_names(modules["text_encoder_2"])
    assert te1["encoder.layers.0.self_attn.q_proj"] == "text_model.encoder.layers.0.self_attn.q_proj"
    assert te2["text_model.encoder.layers.31.mlp.fc2"] == "text_model.encoder.layers.31.mlp.fc2"
    assert te2["text_projection"] == "text_projection"
