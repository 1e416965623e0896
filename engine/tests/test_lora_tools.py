"""lora-resize / lora-merge / lora-bake / lora-extract: the linear algebra checked against the product of the
factors and against the UNet output with the LoRAs applied at runtime by diffusers' load_lora_weights."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from safetensors import safe_open

from danlu_engine.commands import lora_bake, lora_extract, lora_merge, lora_resize
from danlu_engine.lora_tools.factors import (
    Factors,
    LoraFile,
    rank_by_sv_cumulative,
    rank_by_sv_fro,
    rank_by_sv_ratio,
    read_lora,
)
from danlu_engine.lora_tools.reshape import merge_concat, merge_svd, resize
from danlu_engine.models import build, load_base_model, make_tiny
from danlu_engine.models.tiny import build_tiny_modules
from danlu_engine.network import LoRAModule, build_lora_network, save_lora_file
from danlu_engine.protocol import EngineError
from danlu_engine.tokenizer import tokenizers_for

torch.set_num_threads(1)


def _lora_file(path: str, modules: dict, seed: int, dim: int = 4, alpha: float = 2.0) -> str:
    """A kohya file with random non-zero up weights on the sd15 default targets of ``modules``."""
    torch.manual_seed(seed)
    network = build_lora_network(modules["unet"], [modules["text_encoder"]], dim, alpha, True, True)
    for lora in network.all_loras():
        assert isinstance(lora, LoRAModule)
        torch.nn.init.normal_(lora.lora_up.weight, std=0.5)
    save_lora_file(path, network.kohya_state_dict(), "float", {"ss_network_dim": str(dim), "ss_output_name": "x"})
    return path


def _pipe(modules: dict):
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(vae=modules["vae"], text_encoder=modules["text_encoder"], tokenizer=tokenizers_for("sd15")[0],
                                   unet=modules["unet"], scheduler=build.training_scheduler(False), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)


def _unet_out(unet) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 4, 8, 8, generator=gen)
    hidden = torch.randn(1, 77, unet.config.cross_attention_dim, generator=gen)
    with torch.no_grad():
        return unet(x, torch.tensor([500]), hidden).sample


def test_dynamic_rank_rules_follow_sd_scripts():
    s = torch.tensor([8.0, 4.0, 2.0, 1.0])
    assert rank_by_sv_ratio(s, 5.0) == 3  # keeps values above 8/5
    assert rank_by_sv_cumulative(s, 0.8) == 2  # 12/15 = 0.8 reached at rank 2
    assert rank_by_sv_fro(s, 0.99) == 3  # squares 64, 16, 4, 1: (64+16+4)/85 = 0.988 >= 0.99**2
    assert rank_by_sv_fro(s, 0.995) == 4  # 0.988 < 0.995**2 = 0.990
    assert rank_by_sv_fro(s, 0.5) == 1


def test_resize_to_full_rank_reproduces_the_product_and_lower_rank_reports_the_share(tmp_path):
    torch.manual_seed(0)
    modules = {"a": Factors(torch.randn(6, 10), torch.randn(12, 6), 3.0),
               "b": Factors(torch.randn(6, 5, 3, 3), torch.randn(8, 6, 1, 1), 6.0)}
    lora = LoraFile(modules, {}, torch.float32)
    full, report = resize(lora, 6, 6, "fixed", None)
    for name, f in modules.items():
        torch.testing.assert_close(full[name].delta(), f.delta(), atol=1e-4, rtol=1e-4)
        assert full[name].scale == pytest.approx(f.scale)
    assert all(r["fro_kept"] == pytest.approx(1.0) for r in report)
    low, report = resize(lora, 2, 3, "fixed", None)
    assert (low["a"].rank, low["b"].rank, low["b"].down.shape[2:]) == (2, 3, (3, 3))
    assert all(0 < r["fro_kept"] < 1 for r in report)
    dyn, report = resize(lora, 6, 6, "sv_fro", 0.9)
    assert all(r["fro_kept"] >= 0.9 for r in report) and all(r["new_rank"] <= 6 for r in report)


def test_resize_command_writes_metadata_and_hash(tmp_path):
    modules = build_tiny_modules("sd15", 0)
    src = _lora_file(str(tmp_path / "in.safetensors"), modules, 1, dim=4)
    out = str(tmp_path / "out.safetensors")
    lora_resize.run({"version": 1, "path": src, "out": out, "rank": 2, "conv_rank": 2, "method": "fixed",
                     "param": None, "precision": "fp16"})
    with safe_open(out, "pt") as f:
        meta = f.metadata()
        assert meta["ss_network_dim"] == "2" and meta["ss_network_alpha"] == "1.0" and meta["ss_output_name"] == "x"
        assert f.get_tensor(f.keys()[0]).dtype == torch.float16
    assert meta["sshs_model_hash"] != read_lora(src).metadata["sshs_model_hash"]


def test_merge_concat_matches_two_loras_applied_at_runtime(tmp_path):
    modules = build_tiny_modules("sd15", 0)
    a = _lora_file(str(tmp_path / "a.safetensors"), modules, 1)
    b = _lora_file(str(tmp_path / "b.safetensors"), modules, 2, dim=2, alpha=1.0)
    merged = str(tmp_path / "m.safetensors")
    lora_merge.run({"version": 1, "inputs": [{"path": a, "weight": 0.7}, {"path": b, "weight": -0.4}], "out": merged,
                    "mode": "concat", "rank": 4, "conv_rank": 4, "precision": None})
    pipe = _pipe(modules)
    pipe.load_lora_weights(a, adapter_name="a")
    pipe.load_lora_weights(b, adapter_name="b")
    pipe.set_adapters(["a", "b"], adapter_weights=[0.7, -0.4])
    runtime = _unet_out(modules["unet"])
    pipe.load_lora_weights(merged, adapter_name="m")
    pipe.set_adapters(["m"], adapter_weights=[1.0])
    torch.testing.assert_close(_unet_out(modules["unet"]), runtime, atol=1e-4, rtol=1e-4)
    assert read_lora(merged).modules[next(iter(read_lora(merged).modules))].rank == 6
    # SVD to the summed rank is the same change; to rank 1 it loses some of it
    weighted = [(read_lora(a), 0.7), (read_lora(b), -0.4)]
    exact, (full, _) = merge_concat(weighted), merge_svd(weighted, 6, 6)
    for name, f in exact.items():
        torch.testing.assert_close(full[name].delta(), f.delta(), atol=1e-4, rtol=1e-4)
    _, report = merge_svd(weighted, 1, 1)
    assert max(r["fro_kept"] for r in report) < 1


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("tiny") / "tiny-sd15.safetensors")
    make_tiny("sd15", path, True, 0)
    return path


def test_bake_matches_the_lora_applied_at_runtime_and_extract_recovers_it(tmp_path, tiny_file):
    base = load_base_model(tiny_file)
    modules = {"unet": base.unet, "vae": base.vae, "text_encoder": base.text_encoders[0]}
    lora = _lora_file(str(tmp_path / "l.safetensors"), modules, 4)
    baked = str(tmp_path / "baked.safetensors")
    lora_bake.run({"version": 1, "model": tiny_file, "loras": [{"path": lora, "weight": 0.8}], "out": baked,
                   "precision": "float"})
    pipe = _pipe(modules)
    pipe.load_lora_weights(lora, adapter_name="l")
    pipe.set_adapters(["l"], adapter_weights=[0.8])
    runtime = _unet_out(base.unet)
    torch.testing.assert_close(_unet_out(load_base_model(baked).unet), runtime, atol=1e-4, rtol=1e-4)

    out = str(tmp_path / "extracted.safetensors")
    lora_extract.run({"version": 1, "base": tiny_file, "tuned": baked, "out": out, "rank": 4, "text_encoder": True,
                      "min_diff": 0.0, "precision": "float"})
    known, found = read_lora(lora), read_lora(out)
    assert set(found.modules) == set(known.modules)
    for name, f in known.modules.items():
        torch.testing.assert_close(found.modules[name].delta(), f.delta() * 0.8, atol=2e-5, rtol=1e-3)


def test_a_diffusers_layout_file_is_refused_by_name(tmp_path):
    from safetensors.torch import save_file

    path = str(tmp_path / "peft.safetensors")
    save_file({"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight": torch.zeros(2, 4)}, path)
    with pytest.raises(EngineError, match="danlu lora convert"):
        read_lora(path)


def test_bake_refuses_a_lora_for_another_model(tmp_path, tiny_file):
    modules = build_tiny_modules("sdxl", 0)
    torch.manual_seed(0)
    network = build_lora_network(modules["unet"], [], 2, 1.0, True, False)
    path = str(tmp_path / "xl.safetensors")
    save_lora_file(path, network.kohya_state_dict(), "float", {})
    with pytest.raises(EngineError, match="match no layer|changes a"):
        lora_bake.run({"version": 1, "model": tiny_file, "loras": [{"path": path, "weight": 1.0}],
                       "out": str(tmp_path / "o.safetensors"), "precision": "fp16"})


LYCORIS_KINDS: dict[str, dict[str, Any]] = {
    "loha": {"algo": "loha", "conv_dim": 2, "conv_alpha": 1.0},
    "loha-tucker": {"algo": "loha", "conv_dim": 2, "conv_alpha": 1.0, "use_tucker": True},
    "lokr": {"algo": "lokr", "factor": 4, "conv_dim": 2, "conv_alpha": 1.0},
    "dora": {"algo": "locon", "dora_wd": True, "conv_dim": 2, "conv_alpha": 1.0},
    "ia3": {"algo": "ia3"},
}


def _lycoris_file(path: str, modules: dict, options: dict):
    """A LyCORIS file with every parameter random (an ia3/dora/loha at its initial values changes nothing)."""
    from danlu_engine.network import NetworkOptions, build_network

    torch.manual_seed(5)
    network = build_network(modules["unet"], [modules["text_encoder"]],
                            NetworkOptions(module="lycoris", dim=4, alpha=2.0, **options))
    with torch.no_grad():
        for p in network.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    save_lora_file(path, network.kohya_state_dict(), "float", {"ss_network_module": "lycoris.kohya"})
    return network


@pytest.mark.parametrize("kind", sorted(LYCORIS_KINDS))
def test_bake_applies_lycoris_kinds_as_the_trained_network_does(tmp_path, tiny_file, kind):
    """LoHa, LoKr, DoRA and IA3 bake to the weights whose UNet output equals the trained network hooked in."""
    base = load_base_model(tiny_file)
    modules = {"unet": base.unet, "vae": base.vae, "text_encoder": base.text_encoders[0]}
    path = str(tmp_path / f"{kind}.safetensors")
    network = _lycoris_file(path, modules, LYCORIS_KINDS[kind])
    baked = str(tmp_path / "baked.safetensors")
    lora_bake.run({"version": 1, "model": tiny_file, "loras": [{"path": path, "weight": 1.0}], "out": baked,
                   "precision": "float"})
    network.eval()
    network.apply_to_base()
    with torch.no_grad():
        hooked = _unet_out(base.unet)
    network.remove_from_base()
    with torch.no_grad():
        assert not torch.allclose(_unet_out(base.unet), hooked, atol=1e-3)  # the network changes the output
        torch.testing.assert_close(_unet_out(load_base_model(baked).unet), hooked, atol=1e-4, rtol=1e-4)


def test_resize_and_merge_refuse_lycoris_kinds_naming_the_kind_and_what_to_do(tmp_path, tiny_file):
    modules = build_tiny_modules("sd15", 0)
    loha, lora = str(tmp_path / "loha.safetensors"), _lora_file(str(tmp_path / "l.safetensors"), modules, 1)
    _lycoris_file(loha, modules, LYCORIS_KINDS["loha"])
    with pytest.raises(EngineError, match=r"loha.safetensors is a LoHa network: resize is defined only for plain "
                       r"LoRA/LoCon factors; bake it") as error:
        lora_resize.run({"version": 1, "path": loha, "out": str(tmp_path / "r.safetensors"), "rank": 2,
                         "conv_rank": 2, "method": "fixed", "param": None, "precision": None})
    assert error.value.code == "BAD_LORA"
    with pytest.raises(EngineError, match=r"LoHa network: merge .*danlu lora bake MODEL"):
        lora_merge.run({"version": 1, "inputs": [{"path": lora, "weight": 1}, {"path": loha, "weight": 1}],
                        "out": str(tmp_path / "m.safetensors"), "mode": "svd", "rank": 4, "conv_rank": 4,
                        "precision": None})
