"""The LoRA network: kohya targets and names on the real architectures, init, forward, the saved file,
and that diffusers' load_lora_weights reads the file and changes the model by the expected amount."""
from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import pytest
import torch
from safetensors import safe_open

from danlu_engine.models import build, configs
from danlu_engine.models.tiny import build_tiny_modules
from danlu_engine.network import build_lora_network, save_lora_file
from danlu_engine.network.lora import LoRAModule
from danlu_engine.tokenizer import tokenizers_for
from danlu_engine.train.setup import unet_file_names

torch.set_num_threads(1)  # two shared cores: more threads only spin
TE_LINEARS = ["self_attn_q_proj", "self_attn_k_proj", "self_attn_v_proj", "self_attn_out_proj", "mlp_fc1", "mlp_fc2"]
BLOCK_LINEARS = [f"attn{a}_to_{p}" for a in (1, 2) for p in ("q", "k", "v", "out_0")] + ["ff_net_0_proj", "ff_net_2"]


def expected_names(transformers: dict[str, int], te_layers: list[int]) -> set[str]:
    """kohya module names from a hand-written list of Transformer2DModel paths -> transformer_blocks count."""
    names = set()
    for path, blocks in transformers.items():
        names |= {f"lora_unet_{path}_proj_in", f"lora_unet_{path}_proj_out"}
        names |= {f"lora_unet_{path}_transformer_blocks_{b}_{n}" for b in range(blocks) for n in BLOCK_LINEARS}
    prefixes = ["lora_te"] if len(te_layers) == 1 else ["lora_te1", "lora_te2"]
    for prefix, layers in zip(prefixes, te_layers, strict=True):
        names |= {f"{prefix}_text_model_encoder_layers_{i}_{n}" for i in range(layers) for n in TE_LINEARS}
    return names


def real_network(arch: str):
    """The network on the real (full-size) architecture, built on the meta device: shapes, no memory."""
    variant = configs.variant_for(arch, False)
    with torch.device("meta"):
        unet = build.build_unet(configs.shipped(variant, "unet"))
        encoders = [build.build_text_encoder(configs.shipped(variant, "text_encoder"), False)]
        if arch == "sdxl":
            encoders.append(build.build_text_encoder(configs.shipped(variant, "text_encoder_2"), True))
        model = type("M", (), {"unet": unet, "arch": arch})
        rename = unet_file_names(model) if arch == "sdxl" else None
        return build_lora_network(unet, encoders, 16, 8, True, True, rename)


def test_sd15_names_and_shapes_match_sd_scripts():
    network = real_network("sd15")
    transformers = {f"down_blocks_{i}_attentions_{j}": 1 for i in range(3) for j in range(2)}
    transformers |= {"mid_block_attentions_0": 1}
    transformers |= {f"up_blocks_{i}_attentions_{j}": 1 for i in range(1, 4) for j in range(3)}
    names = set(network.unet_loras) | set(network.text_loras)
    assert names == expected_names(transformers, [12])
    assert (len(network.unet_loras), len(network.text_loras)) == (192, 72)
    sd = network.kohya_state_dict()
    # SD1.5 projects with 1x1 convs: the LoRA is a conv pair, as sd-scripts writes it
    assert sd["lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight"].shape == (16, 320, 1, 1)
    assert sd["lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight"].shape == (320, 16, 1, 1)
    assert sd["lora_unet_up_blocks_1_attentions_2_transformer_blocks_0_attn2_to_k.lora_down.weight"].shape == (16, 768)
    assert sd["lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj.lora_up.weight"].shape == (10240, 16)
    assert sd["lora_te_text_model_encoder_layers_11_mlp_fc1.lora_down.weight"].shape == (16, 768)
    assert sd["lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha"].shape == ()


def test_sdxl_uses_ldm_names_like_sd_scripts():
    network = real_network("sdxl")
    transformers = {f"input_blocks_{i}_1": 2 for i in (4, 5)} | {f"input_blocks_{i}_1": 10 for i in (7, 8)}
    transformers |= {"middle_block_1": 10}
    transformers |= {f"output_blocks_{i}_1": 10 for i in (0, 1, 2)} | {f"output_blocks_{i}_1": 2 for i in (3, 4, 5)}
    names = set(network.unet_loras) | set(network.text_loras)
    assert names == expected_names(transformers, [12, 32])
    assert (len(network.unet_loras), len(network.text_loras)) == (722, 264)
    sd = network.kohya_state_dict()
    assert sd["lora_unet_input_blocks_4_1_proj_in.lora_down.weight"].shape == (16, 640)  # Linear in SDXL
    assert sd["lora_unet_output_blocks_0_1_transformer_blocks_9_attn2_to_k.lora_down.weight"].shape == (16, 2048)
    assert sd["lora_te2_text_model_encoder_layers_31_mlp_fc2.lora_up.weight"].shape == (1280, 16)


def test_new_lora_changes_nothing_and_scales_by_alpha_over_dim():
    torch.manual_seed(0)
    base = torch.nn.Linear(12, 10)
    lora = LoRAModule("lora_x", base, dim=4, alpha=2.0)
    bound = 1 / math.sqrt(12)  # kaiming_uniform(a=sqrt(5)) on fan_in 12
    assert lora.lora_down.weight.abs().max() <= bound and lora.lora_down.weight.std() > bound / 4
    assert torch.count_nonzero(lora.lora_up.weight) == 0
    x = torch.randn(3, 12)
    expected_base = base(x)
    lora.apply_to_base()
    assert torch.equal(base(x), expected_base)
    torch.nn.init.normal_(lora.lora_up.weight)
    delta = x @ lora.lora_down.weight.T @ lora.lora_up.weight.T * (2.0 / 4)
    torch.testing.assert_close(base(x), expected_base + delta)
    lora.remove_from_base()
    assert torch.equal(base(x), expected_base)


def test_saved_file_has_hashes_precision_and_no_temp_files(tmp_path):
    unet = build_tiny_modules("sd15", 0)["unet"]
    network = build_lora_network(unet, [], 4, 4, True, False)
    path = str(tmp_path / "x.safetensors")
    meta = save_lora_file(path, network.kohya_state_dict(), "bf16", {"ss_network_dim": "4", "user": "kept"})
    assert os.listdir(tmp_path) == ["x.safetensors"]
    with open(path, "rb") as f:
        data = f.read()
    header = int.from_bytes(data[:8], "little")
    assert meta["sshs_model_hash"] == hashlib.sha256(data[8 + header :]).hexdigest()
    with safe_open(path, "pt") as f:
        assert f.metadata()["user"] == "kept" and f.metadata()["sshs_legacy_hash"] == meta["sshs_legacy_hash"]
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


def _nonzero_network(arch: str, modules: dict, train_te: bool):
    encoders = [modules["text_encoder"]] + ([modules["text_encoder_2"]] if arch == "sdxl" else [])
    rename = unet_file_names(type("M", (), {"unet": modules["unet"], "arch": arch})) if arch == "sdxl" else None
    torch.manual_seed(1)
    network = build_lora_network(modules["unet"], encoders, 4, 2.0, True, train_te, rename)
    for lora in network.all_loras():
        assert isinstance(lora, LoRAModule)
        torch.nn.init.normal_(lora.lora_up.weight, std=0.5)
    return network


def _unet_inputs(arch: str, modules: dict):
    torch.manual_seed(2)
    unet = modules["unet"]
    hidden = torch.randn(1, 77, unet.config.cross_attention_dim)
    extra = None
    if arch == "sdxl":
        extra = {"text_embeds": torch.randn(1, modules["text_encoder_2"].config.projection_dim),
                 "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
    return torch.randn(1, 4, 8, 8), torch.tensor([500]), hidden, extra


@pytest.mark.parametrize("arch", ["sd15", "sdxl"])
def test_diffusers_load_lora_weights_applies_the_file(tmp_path, arch):
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline
    from diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl import StableDiffusionXLPipeline

    modules = build_tiny_modules(arch, 0)
    unet, encoder = modules["unet"], modules["text_encoder"]
    x, t, hidden, extra = _unet_inputs(arch, modules)
    ids = torch.tensor([[49406, 320, 1125, 539, 320, 2368, 49407] + [49407] * 70])
    with torch.no_grad():
        base_out, base_text = unet(x, t, hidden, added_cond_kwargs=extra).sample, encoder(ids)[0]
    network = _nonzero_network(arch, modules, train_te=True)
    network.apply_to_base()
    with torch.no_grad():
        lora_out, lora_text = unet(x, t, hidden, added_cond_kwargs=extra).sample, encoder(ids)[0]
    network.remove_from_base()
    assert (lora_out - base_out).abs().max() > 1e-3 and (lora_text - base_text).abs().max() > 1e-3
    path = str(tmp_path / "lora.safetensors")
    save_lora_file(path, network.kohya_state_dict(), "float", {})

    tokenizers = tokenizers_for(arch)
    # Any: diffusers annotates the scheduler as the KarrasDiffusionSchedulers enum and safety_checker and
    # feature_extractor without None (both pipelines take these), and the modules come as dict[str, Module]
    parts: dict[str, Any] = {"vae": modules["vae"], "text_encoder": encoder, "tokenizer": tokenizers[0], "unet": unet,
                             "scheduler": build.training_scheduler(False)}
    pipe: StableDiffusionPipeline | StableDiffusionXLPipeline
    if arch == "sdxl":
        parts |= {"text_encoder_2": modules["text_encoder_2"], "tokenizer_2": tokenizers[1]}
        pipe = StableDiffusionXLPipeline(**parts, add_watermarker=False)
    else:
        parts |= {"safety_checker": None, "feature_extractor": None}
        pipe = StableDiffusionPipeline(**parts, requires_safety_checker=False)
    pipe.load_lora_weights(path, adapter_name="danlu")
    with torch.no_grad():
        loaded_out, loaded_text = unet(x, t, hidden, added_cond_kwargs=extra).sample, encoder(ids)[0]
    torch.testing.assert_close(loaded_out, lora_out, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(loaded_text, lora_text, atol=1e-4, rtol=1e-4)
    pipe.set_adapters(["danlu"], adapter_weights=[0.0])
    with torch.no_grad():
        off_out, off_text = unet(x, t, hidden, added_cond_kwargs=extra).sample, encoder(ids)[0]
    torch.testing.assert_close(off_out, base_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(off_text, base_text, atol=1e-5, rtol=1e-5)
