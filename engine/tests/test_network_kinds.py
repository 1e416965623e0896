"""LoCon, LoHa, LoKr, IA3 and DoRA: key names and shapes on the real SD1.5 UNet (built on the meta device)
against hand-derived expectations from what sd-scripts/LyCORIS write, init, and the weight change each adds."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from danlu_engine.models import build, configs
from danlu_engine.network import (
    IA3Module,
    LoHaModule,
    LoKrModule,
    LoRAModule,
    NetworkOptions,
    block_index,
    build_network,
    factorization,
)

torch.set_num_threads(1)
Q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"  # Linear 320 -> 320
FF = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj"  # Linear 320 -> 2560
CONV1 = "lora_unet_down_blocks_0_resnets_0_conv1"  # Conv2d 320 -> 320, 3x3
PROJ_IN = "lora_unet_down_blocks_0_attentions_0_proj_in"  # Conv2d 320 -> 320, 1x1 in SD1.5


@pytest.fixture(scope="module")
def sd15():
    with torch.device("meta"):
        unet = build.build_unet(configs.shipped("sd15", "unet"))
        encoder = build.build_text_encoder(configs.shipped("sd15", "text_encoder"), False)
    return unet, encoder


def shapes(sd15, **options) -> dict[str, tuple[int, ...]]:
    unet, encoder = sd15
    with torch.device("meta"):
        network = build_network(unet, [encoder], NetworkOptions(**{"dim": 8, "alpha": 4, **options}))
    return {k: tuple(v.shape) for k, v in network.kohya_state_dict().items()}


def test_kohya_locon_adds_the_resnet_and_sampler_layers(sd15):
    sd = shapes(sd15, conv_dim=4, conv_alpha=1)
    modules = {k.split(".")[0] for k in sd if k.startswith("lora_unet")}
    assert len(modules) == 192 + 22 * 3 + 14 + 6  # resnets: conv1, conv2, time_emb_proj; 14 shortcuts; samplers
    assert sd[f"{CONV1}.lora_down.weight"] == (4, 320, 3, 3) and sd[f"{CONV1}.lora_up.weight"] == (320, 4, 1, 1)
    assert sd["lora_unet_down_blocks_0_downsamplers_0_conv.lora_down.weight"] == (4, 320, 3, 3)
    assert sd["lora_unet_up_blocks_0_upsamplers_0_conv.lora_down.weight"] == (4, 1280, 3, 3)
    assert sd["lora_unet_down_blocks_1_resnets_0_conv_shortcut.lora_down.weight"] == (8, 320, 1, 1)  # network dim
    assert sd["lora_unet_down_blocks_0_resnets_0_time_emb_proj.lora_down.weight"] == (8, 1280)
    assert "lora_unet_conv_in.lora_down.weight" not in sd


def test_lycoris_full_preset_adds_conv_in_out_and_time_embedding(sd15):
    sd = shapes(sd15, module="lycoris", algo="locon", conv_dim=4, conv_alpha=1)
    assert len({k.split(".")[0] for k in sd if k.startswith("lora_unet")}) == 278 + 4
    assert sd["lora_unet_conv_in.lora_down.weight"] == (4, 4, 3, 3)
    assert sd["lora_unet_conv_out.lora_up.weight"] == (4, 4, 1, 1)
    assert sd["lora_unet_time_embedding_linear_1.lora_down.weight"] == (8, 320)


def test_loha_keys_and_shapes(sd15):
    sd = shapes(sd15, module="lycoris", algo="loha", conv_dim=4, conv_alpha=1)
    assert {k.split(".", 1)[1] for k in sd} == {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "alpha"}
    assert (sd[f"{Q}.hada_w1_a"], sd[f"{Q}.hada_w1_b"], sd[f"{Q}.hada_w2_b"]) == ((320, 8), (8, 320), (8, 320))
    assert (sd[f"{FF}.hada_w2_a"], sd[f"{FF}.hada_w2_b"]) == ((2560, 8), (8, 320))
    assert (sd[f"{CONV1}.hada_w1_a"], sd[f"{CONV1}.hada_w1_b"]) == ((320, 4), (4, 320 * 9))
    assert sd[f"{PROJ_IN}.hada_w1_b"] == (8, 320)
    tucker = shapes(sd15, module="lycoris", algo="loha", conv_dim=4, conv_alpha=1, use_tucker=True)
    assert tucker[f"{CONV1}.hada_t1"] == (4, 4, 3, 3) and tucker[f"{CONV1}.hada_t2"] == (4, 4, 3, 3)
    assert (tucker[f"{CONV1}.hada_w1_a"], tucker[f"{CONV1}.hada_w2_b"]) == ((4, 320), (4, 320))
    assert f"{Q}.hada_t1" not in tucker and f"{PROJ_IN}.hada_t1" not in tucker  # only on k x k convs


def test_factorization_matches_lycoris():
    # Values LyCORIS's factorization() returns (its docstring table is stale for 360).
    table = {(127, -1): (1, 127), (128, -1): (8, 16), (250, -1): (10, 25), (360, -1): (18, 20),
             (512, -1): (16, 32), (1024, -1): (32, 32), (128, 2): (2, 64), (250, 8): (5, 50), (250, 4): (2, 125),
             (360, 16): (15, 24), (360, 8): (8, 45), (1024, 16): (16, 64), (320, -1): (16, 20), (2560, -1): (40, 64)}
    for (dimension, factor), expected in table.items():
        assert factorization(dimension, factor) == expected, (dimension, factor)


def test_lokr_keys_and_shapes(sd15):
    sd = shapes(sd15, module="lycoris", algo="lokr", conv_dim=4, conv_alpha=1)
    assert (sd[f"{Q}.lokr_w1"], sd[f"{Q}.lokr_w2_a"], sd[f"{Q}.lokr_w2_b"]) == ((16, 16), (20, 8), (8, 20))
    assert (sd[f"{FF}.lokr_w1"], sd[f"{FF}.lokr_w2_a"], sd[f"{FF}.lokr_w2_b"]) == ((40, 16), (64, 8), (8, 20))
    assert (sd[f"{CONV1}.lokr_w1"], sd[f"{CONV1}.lokr_w2_a"], sd[f"{CONV1}.lokr_w2_b"]) == ((16, 16), (20, 4), (4, 180))
    both = shapes(sd15, module="lycoris", algo="lokr", factor=16, decompose_both=True, conv_dim=4, conv_alpha=1,
                  dim=4)
    assert (both[f"{Q}.lokr_w1_a"], both[f"{Q}.lokr_w1_b"], both[f"{Q}.lokr_w2_a"]) == ((16, 4), (4, 16), (20, 4))
    tucker = shapes(sd15, module="lycoris", algo="lokr", conv_dim=4, conv_alpha=1, use_tucker=True)
    assert (tucker[f"{CONV1}.lokr_t2"], tucker[f"{CONV1}.lokr_w2_a"]) == ((4, 4, 3, 3), (4, 20))
    full = shapes(sd15, module="lycoris", algo="lokr", dim=10000, conv_dim=10000, conv_alpha=1)
    assert (full[f"{Q}.lokr_w1"], full[f"{Q}.lokr_w2"], full[f"{CONV1}.lokr_w2"]) == ((16, 16), (20, 20), (20, 20, 3, 3))
    assert f"{Q}.lokr_w2_a" not in full


def test_ia3_and_dora_keys_and_shapes(sd15):
    ia3 = shapes(sd15, module="lycoris", algo="ia3", conv_dim=4, conv_alpha=1)
    assert {k.split(".", 1)[1] for k in ia3} == {"weight", "on_input"}
    assert (ia3[f"{Q}.weight"], ia3[f"{CONV1}.weight"], ia3[f"{Q}.on_input"]) == ((320,), (1, 320, 1, 1), ())
    dora = shapes(sd15, module="lycoris", algo="locon", dora_wd=True, conv_dim=4, conv_alpha=1)
    assert (dora[f"{Q}.dora_scale"], dora[f"{CONV1}.dora_scale"]) == ((320, 1), (320, 1, 1, 1))
    assert dora[f"{FF}.dora_scale"] == (2560, 1) and dora[f"{Q}.lora_down.weight"] == (8, 320)


def test_block_index_follows_sd_scripts():
    assert block_index("lora_unet_down_blocks_0_attentions_0_proj_in") == 1
    assert block_index("lora_unet_down_blocks_1_resnets_1_conv1") == 5
    assert block_index("lora_unet_down_blocks_2_downsamplers_0_conv") == 9
    assert block_index("lora_unet_mid_block_attentions_0_proj_in") == 12
    assert block_index("lora_unet_up_blocks_0_resnets_2_conv1") == 15
    assert block_index("lora_unet_up_blocks_3_attentions_2_proj_out") == 24


def test_block_dims_set_each_block_and_zero_leaves_it_out(sd15):
    dims = [0] + [2] * 11 + [0] + [6] * 12  # no mid block
    sd = shapes(sd15, block_dims=dims, block_alphas=[1.0] * 25)
    assert sd[f"{Q}.lora_down.weight"] == (2, 320)
    assert sd["lora_unet_up_blocks_3_attentions_2_proj_out.lora_up.weight"] == (320, 6, 1, 1)
    assert not any(k.startswith("lora_unet_mid_block") for k in sd)


def _random(module) -> None:
    torch.manual_seed(3)
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.3)


def _check_weight_change(adapter, base, expected_dw, x):
    expected = (F.conv2d(x, base.weight + expected_dw, base.bias, base.stride, base.padding)
                if isinstance(base, torch.nn.Conv2d) else F.linear(x, base.weight + expected_dw, base.bias))
    adapter.apply_to_base()
    torch.testing.assert_close(base(x), expected, rtol=1e-4, atol=1e-4)
    adapter.remove_from_base()


def test_each_kind_starts_as_no_change_then_adds_its_weight_change():
    torch.manual_seed(0)
    linear, conv = torch.nn.Linear(12, 8), torch.nn.Conv2d(6, 8, 3, padding=1)
    xl, xc = torch.randn(2, 12), torch.randn(1, 6, 5, 5)
    for base, x in ((linear, xl), (conv, xc)):
        for adapter in (LoHaModule("m", base, 2, 1.0), LoKrModule("m", base, 2, 1.0, factor=2),
                        IA3Module("m", base), LoRAModule("m", base, 2, 1.0, dora=True)):
            _check_weight_change(adapter, base, torch.zeros_like(base.weight), x)
    loha = LoHaModule("m", linear, 2, 1.0)
    _random(loha)
    dw = (loha.hada_w1_a @ loha.hada_w1_b) * (loha.hada_w2_a @ loha.hada_w2_b) * 0.5
    _check_weight_change(loha, linear, dw.detach(), xl)
    lokr = LoKrModule("m", conv, 1, 0.5, factor=2)  # dim 1 < max(4, 3) / 2: w2 is low-rank
    _random(lokr)
    w2 = (lokr.lokr_w2_a @ lokr.lokr_w2_b).reshape(4, 3, 3, 3)  # (8 = 2*4, 6 = 2*3) with 3x3 kernels
    _check_weight_change(lokr, conv, (torch.kron(lokr.lokr_w1[:, :, None, None], w2) * 0.5).detach(), xc)
    ia3 = IA3Module("m", conv)
    _random(ia3)
    _check_weight_change(ia3, conv, (conv.weight * ia3.weight.view(8, 1, 1, 1)).detach(), xc)


def test_dora_rescales_each_output_row_to_its_magnitude():
    torch.manual_seed(1)
    base = torch.nn.Linear(12, 8)
    dora = LoRAModule("m", base, 4, 4.0, dora=True)
    assert dora.decompose is not None
    torch.testing.assert_close(dora.decompose.dora_scale[:, 0], base.weight.norm(dim=1))
    _random(dora)
    merged = base.weight + dora.lora_up.weight @ dora.lora_down.weight
    expected = merged * dora.decompose.dora_scale / merged.norm(dim=1, keepdim=True)
    _check_weight_change(dora, base, (expected - base.weight).detach(), torch.randn(3, 12))


def test_inits_follow_lycoris():
    torch.manual_seed(0)
    base = torch.nn.Linear(64, 64)
    loha = LoHaModule("m", base, 16, 8.0)
    assert torch.count_nonzero(loha.hada_w2_a) == 0 and 0.8 < loha.hada_w1_b.std() < 1.2
    assert 0.08 < loha.hada_w1_a.std() < 0.12 and float(loha.alpha) == 8.0
    lokr = LoKrModule("m", base, 2, 1.0)
    assert torch.count_nonzero(lokr.lokr_w2_b) == 0 and lokr.lokr_w1.abs().max() <= 1 / math.sqrt(8)
    full = LoKrModule("m", base, 1000, 1.0)
    assert full.use_w1 and full.use_w2 and float(full.alpha) == 1000 and full.scale == 1.0


def test_dropouts_act_only_while_training_with_gradients():
    torch.manual_seed(0)
    base = torch.nn.Linear(16, 16)
    lora = LoRAModule("m", base, 8, 8.0, rank_dropout=0.5, module_dropout=0.0)
    _random(lora)
    lora.apply_to_base()
    x = torch.randn(4, 16)
    with torch.no_grad():
        first, second = base(x), base(x)
    assert torch.equal(first, second)  # no gradients (sampling): no dropout
    assert not torch.equal(base(x), base(x))  # training: ranks dropped at random
    lora.module_dropout = 1.0 - 1e-9
    assert lora.base_forward is not None
    torch.testing.assert_close(base(x), lora.base_forward(x))  # the whole change skipped


def test_sdxl_locon_uses_ldm_names_and_lycoris_leaves_conv_in_out():
    from danlu_engine.train.setup import unet_file_names

    with torch.device("meta"):
        unet = build.build_unet(configs.shipped(configs.variant_for("sdxl", False), "unet"))
        rename = unet_file_names(type("M", (), {"unet": unet, "arch": "sdxl"}))
        kohya = build_network(unet, [], NetworkOptions(dim=8, conv_dim=4, train_text_encoder=False), rename)
        lycoris = build_network(unet, [], NetworkOptions(module="lycoris", algo="loha", dim=8, conv_dim=4,
                                                         train_text_encoder=False), rename)
    sd = {k: tuple(v.shape) for k, v in kohya.kohya_state_dict().items()}
    assert sd["lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight"] == (4, 320, 3, 3)  # resnet conv1
    assert sd["lora_unet_input_blocks_3_0_op.lora_down.weight"] == (4, 320, 3, 3)  # downsampler
    assert sd["lora_unet_input_blocks_1_0_emb_layers_1.lora_down.weight"] == (8, 1280)  # time_emb_proj
    assert set(lycoris.unet_loras) == set(kohya.unet_loras)  # no conv_in/conv_out/time_embed for SDXL


def test_a_file_without_alphas_loads_with_scale_one():
    from danlu_engine.models.tiny import build_tiny_modules
    from danlu_engine.network import network_from_weights

    unet = build_tiny_modules("sd15", 0)["unet"]
    name = "lora_unet_down_blocks_0_attentions_0_proj_in"
    tensors = {f"{name}.lora_down.weight": torch.ones(2, 16, 1, 1), f"{name}.lora_up.weight": torch.ones(16, 2, 1, 1)}
    network = network_from_weights(unet, [], tensors, NetworkOptions(train_text_encoder=False))
    (module,) = network.all_loras()
    assert isinstance(module, LoRAModule)
    assert module.scale == 1.0 and float(module.alpha) == 2 and network.dim == 2
