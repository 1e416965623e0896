"""Applying LoRA / LyCORIS files at runtime: the merged UNet matches diffusers' load_lora_weights on a
kohya file; LoHa, LoKr, IA3 and DoRA follow their formulas; restore() is exact; wrong-architecture and
no-match files are errors that name the file."""
from __future__ import annotations

import pytest
import torch
from gen_helpers import kohya_names, tiny_model, write_kohya_lora
from safetensors.torch import save_file

from danlu_engine.lora_apply import LoraApplier, module_delta
from danlu_engine.protocol import EngineError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("lora_apply"))


def _unet_out(unet, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = unet.config
    sample = torch.randn(1, cfg.in_channels, 8, 8, generator=g)
    context = torch.randn(1, 77, cfg.cross_attention_dim, generator=g)
    with torch.no_grad():
        return unet(sample, torch.tensor([500]), encoder_hidden_states=context).sample


def test_merged_unet_matches_diffusers_load_lora_weights(model, tmp_path):
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline

    names = kohya_names(model, "lora_unet_", "attn") + kohya_names(model, "lora_unet_", "proj_")
    path = str(tmp_path / "k.safetensors")
    write_kohya_lora(model, path, names, rank=2, alpha=1.0, scale=0.3)
    base = _unet_out(model.unet)
    applier = LoraApplier(model)
    report = applier.apply(path, unet_weight=0.8, te_weight=0.8)
    assert report.matched == len(names) and report.unmatched == [] and report.kind == "lora"
    merged = _unet_out(model.unet)
    applier.restore()
    assert torch.equal(_unet_out(model.unet), base)  # restore puts the weights back exactly

    pipe = StableDiffusionPipeline(vae=model.vae, text_encoder=model.text_encoders[0], tokenizer=model.tokenizers[0],
                                   unet=model.unet, scheduler=model.noise_scheduler, requires_safety_checker=False,
                                   # diffusers annotates both without None, which the pipeline takes
                                   safety_checker=None, feature_extractor=None)  # type: ignore[arg-type]
    pipe.load_lora_weights(path, adapter_name="k")
    pipe.set_adapters(["k"], adapter_weights=[0.8])
    reference = _unet_out(pipe.unet)
    pipe.unload_lora_weights()
    assert not torch.allclose(reference, base, atol=1e-4)  # the LoRA really changes the output
    torch.testing.assert_close(merged, reference, atol=1e-5, rtol=1e-4)


def _first(model, contains: str):
    name = kohya_names(model, "lora_unet_", contains)[0]
    return name, LoraApplier(model).targets[name].module


def _apply_file(model, path, tensors, weight):
    save_file(tensors, path)
    applier = LoraApplier(model)
    return applier, applier.apply(path, unet_weight=weight, te_weight=weight)


def test_loha_formula_and_merge(model, tmp_path):
    name, module = _first(model, "attn1_to_q")
    out_dim, in_dim = module.weight.shape
    g = torch.Generator().manual_seed(1)
    w1a, w1b = torch.randn(out_dim, 2, generator=g), torch.randn(2, in_dim, generator=g)
    w2a, w2b = torch.randn(out_dim, 2, generator=g), torch.randn(2, in_dim, generator=g)
    t = {"hada_w1_a": w1a, "hada_w1_b": w1b, "hada_w2_a": w2a, "hada_w2_b": w2b, "alpha": torch.tensor(1.0)}
    expected = (w1a @ w1b) * (w2a @ w2b) * (1.0 / 2)  # Hadamard product of two low-rank products x alpha/rank
    torch.testing.assert_close(module_delta("loha", t, module.weight.float()), expected)
    before = module.weight.detach().clone()
    applier, report = _apply_file(model, str(tmp_path / "loha.safetensors"), {f"{name}.{k}": v for k, v in t.items()}, 0.5)
    assert report.kind == "loha" and report.matched == 1
    torch.testing.assert_close(module.weight.detach(), before + 0.5 * expected)
    applier.restore()
    assert torch.equal(module.weight.detach(), before)


def test_lokr_formula(model):
    _, module = _first(model, "attn1_to_q")
    out_dim, in_dim = module.weight.shape
    g = torch.Generator().manual_seed(2)
    w1 = torch.randn(2, 2, generator=g)
    w2a, w2b = torch.randn(out_dim // 2, 3, generator=g), torch.randn(3, in_dim // 2, generator=g)
    t = {"lokr_w1": w1, "lokr_w2_a": w2a, "lokr_w2_b": w2b, "alpha": torch.tensor(6.0)}
    expected = torch.kron(w1, w2a @ w2b) * (6.0 / 3)  # Kronecker product; rank from the decomposed w2
    torch.testing.assert_close(module_delta("lokr", t, module.weight.float()), expected)
    full = {"lokr_w1": w1, "lokr_w2": w2a @ w2b, "alpha": torch.tensor(6.0)}  # both full: alpha unused
    torch.testing.assert_close(module_delta("lokr", full, module.weight.float()), torch.kron(w1, w2a @ w2b))


def test_ia3_and_dora_formulas(model):
    _, module = _first(model, "attn1_to_q")
    base = module.weight.detach().float()
    g = torch.Generator().manual_seed(3)
    w_out = torch.randn(base.shape[0], generator=g)
    out = module_delta("ia3", {"weight": w_out, "on_input": torch.tensor(False)}, base)
    torch.testing.assert_close(out, base * w_out[:, None])  # scales each output row
    w_in = torch.randn(base.shape[1], generator=g)
    torch.testing.assert_close(module_delta("ia3", {"weight": w_in, "on_input": torch.tensor(True)}, base),
                               base * w_in[None, :])  # scales each input column
    down, up = torch.randn(2, base.shape[1], generator=g), torch.randn(base.shape[0], 2, generator=g)
    magnitude = torch.rand(1, base.shape[1], generator=g) + 0.5
    t = {"lora_down.weight": down, "lora_up.weight": up, "alpha": torch.tensor(2.0), "dora_scale": magnitude}
    merged = base + up @ down
    expected = merged * (magnitude / merged.norm(dim=0, keepdim=True)) - base  # per-column magnitude
    torch.testing.assert_close(module_delta("lora", t, base), expected)


def test_sdxl_file_on_sd15_is_an_error(model, tmp_path):
    path = str(tmp_path / "xl.safetensors")
    name = "lora_te1_text_model_encoder_layers_0_self_attn_q_proj"
    save_file({f"{name}.lora_down.weight": torch.zeros(2, 32), f"{name}.lora_up.weight": torch.zeros(32, 2)}, path)
    with pytest.raises(EngineError) as err:
        LoraApplier(model).apply(path, 1.0, 1.0)
    assert err.value.code == "BAD_LORA" and path in err.value.message and "sdxl" in err.value.message


def test_file_matching_nothing_is_an_error(model, tmp_path):
    path = str(tmp_path / "odd.safetensors")
    odd = {"lora_unet_nowhere.lora_down.weight": torch.zeros(2, 4), "lora_unet_nowhere.lora_up.weight": torch.zeros(4, 2)}
    save_file(odd, path)
    with pytest.raises(EngineError) as err:
        LoraApplier(model).apply(path, 1.0, 1.0)
    assert err.value.code == "BAD_LORA" and path in err.value.message and "none of its 1 modules" in err.value.message


@pytest.mark.parametrize("prefix, layout", [("unet.down_blocks.0", "diffusers/PEFT"),
                                            ("diffusion_model.input_blocks.1", "ComfyUI")])
def test_file_in_another_layout_names_it_and_the_convert_command(model, tmp_path, prefix, layout):
    path = str(tmp_path / "other.safetensors")
    save_file({f"{prefix}.lora_A.weight": torch.zeros(2, 4), f"{prefix}.lora_B.weight": torch.zeros(4, 2)}, path)
    with pytest.raises(EngineError) as err:
        LoraApplier(model).apply(path, 1.0, 1.0)
    assert err.value.message == f"LoRA {path} is in the {layout} layout; generation reads the kohya layout"
    assert err.value.detail == f"convert it: danlu lora convert {path} {tmp_path / 'other'}-kohya.safetensors --to kohya"


def test_partly_matching_file_reports_the_rest(model, tmp_path):
    path = str(tmp_path / "part.safetensors")
    names = kohya_names(model, "lora_unet_", "attn2_to_k")[:1]
    tensors = write_kohya_lora(model, path, names)
    tensors["lora_unet_nowhere.lora_down.weight"] = torch.zeros(2, 4)
    tensors["lora_unet_nowhere.lora_up.weight"] = torch.zeros(4, 2)
    save_file(tensors, path)
    applier = LoraApplier(model)
    report = applier.apply(path, 1.0, 1.0)
    applier.restore()
    assert report.matched == 1 and report.unmatched == ["lora_unet_nowhere"]


def test_locon_conv_delta(model, tmp_path):
    name = kohya_names(model, "lora_unet_", "resnets_0_conv1")[0]
    module = LoraApplier(model).targets[name].module
    out_dim, in_dim, kh, kw = module.weight.shape
    assert (kh, kw) == (3, 3)
    g = torch.Generator().manual_seed(4)
    down, up = torch.randn(2, in_dim, kh, kw, generator=g), torch.randn(out_dim, 2, 1, 1, generator=g)
    t = {"lora_down.weight": down, "lora_up.weight": up, "alpha": torch.tensor(1.0)}
    expected = torch.einsum("or,rikl->oikl", up[:, :, 0, 0], down) * 0.5  # a 3x3 down, a 1x1 up, alpha/rank
    torch.testing.assert_close(module_delta("lora", t, module.weight.float()), expected)
