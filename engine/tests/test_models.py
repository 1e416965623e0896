"""Tiny models with the real architectures: folder and single-file layouts, loading, round trips."""
from __future__ import annotations

import os

import pytest
import torch
from accelerate import init_empty_weights

from danlu_engine.models import BaseModel, build, configs, load_base_model, make_tiny

# Tiny models gain nothing from a second thread, and on a shared 2-core machine OpenMP's spinning threads
# made one tiny UNet forward take seconds instead of ~0.1 s.
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """arch -> (folder, single file), each written once for the whole module."""
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for arch in ("sd15", "sdxl"):
        folder = str(root / f"{arch}-folder")
        single = str(root / f"{arch}.safetensors")
        make_tiny(arch, folder, single_file=False, seed=1)
        make_tiny(arch, single, single_file=True, seed=1)
        out[arch] = (folder, single)
    return out


def _names(module: torch.nn.Module) -> set[str]:
    return {n for n, _ in module.named_parameters()}


def _real_modules(arch: str) -> dict[str, torch.nn.Module]:
    """The full-size architecture, on the meta device (no memory, no weights)."""
    variant = configs.variant_for(arch, False)
    out: dict[str, torch.nn.Module]
    with init_empty_weights():
        out = {"unet": build.build_unet(configs.shipped(variant, "unet")),
               "vae": build.build_vae(configs.shipped(variant, "vae")),
               "text_encoder": build.build_text_encoder(configs.shipped(variant, "text_encoder"), False)}
        if arch == "sdxl":
            out["text_encoder_2"] = build.build_text_encoder(configs.shipped(variant, "text_encoder_2"), True)
    return out


def _unet_inputs(model: BaseModel, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    cross = model.unet.config.cross_attention_dim
    kwargs = {}
    if model.arch == "sdxl":
        pooled = model.text_encoders[1].config.projection_dim
        kwargs["added_cond_kwargs"] = {"text_embeds": torch.randn(2, pooled, generator=g),
                                       "time_ids": torch.tensor([[64, 64, 0, 0, 64, 64]] * 2, dtype=torch.float32)}
    return torch.randn(2, 4, 8, 8, generator=g), torch.tensor([10, 500]), torch.randn(2, 77, cross, generator=g), kwargs


def _unet_out(model: BaseModel) -> torch.Tensor:
    latents, t, cond, kwargs = _unet_inputs(model)
    with torch.no_grad():
        return model.unet(latents, t, encoder_hidden_states=cond, **kwargs).sample


@pytest.mark.parametrize("arch", ["sd15", "sdxl"])
def test_tiny_has_the_real_parameter_names(arch, tiny):
    model = load_base_model(tiny[arch][0])
    real = _real_modules(arch)
    assert _names(model.unet) == _names(real["unet"])
    assert _names(model.vae) == _names(real["vae"])
    for ours, theirs in zip(model.text_encoders, [real[k] for k in ("text_encoder", "text_encoder_2") if k in real],
                            strict=False):
        assert _names(ours) == _names(theirs)
        assert ours.config.vocab_size == 49408
    small = sum(p.numel() for p in model.unet.parameters())
    assert small < sum(p.numel() for p in real["unet"].parameters()) / 100


def test_sd15_folder_layout_and_load(tiny):
    folder = tiny["sd15"][0]
    for rel in ("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "vae/config.json",
                "text_encoder/config.json", "text_encoder/model.safetensors", "tokenizer/vocab.json",
                "scheduler/scheduler_config.json"):
        assert os.path.isfile(os.path.join(folder, rel)), rel
    model = load_base_model(folder)
    assert (model.arch, model.v_prediction, model.source_path) == ("sd15", False, folder)
    assert model.noise_scheduler.config.prediction_type == "epsilon"
    assert model.noise_scheduler.config.num_train_timesteps == 1000
    assert model.vae.config.scaling_factor == 0.18215
    assert model.model_hash == "IsADirectory"
    assert len(model.text_encoders) == len(model.tokenizers) == 1
    assert model.text_encoders[0].config.num_hidden_layers == 12
    for module in [model.unet, model.vae, *model.text_encoders]:
        assert not module.training
        assert all(p.dtype == torch.float32 and not p.requires_grad and p.device.type == "cpu" for p in module.parameters())
    assert _unet_out(model).shape == (2, 4, 8, 8)


def test_sdxl_folder_load(tiny):
    model = load_base_model(tiny["sdxl"][0])
    assert model.arch == "sdxl" and len(model.text_encoders) == 2 and len(model.tokenizers) == 2
    unet = model.unet.config
    te1, te2 = (te.config for te in model.text_encoders)
    assert unet.addition_embed_type == "text_time"
    assert list(unet.transformer_layers_per_block) == [1, 2, 10]
    assert unet.cross_attention_dim == te1.hidden_size + te2.hidden_size
    assert unet.projection_class_embeddings_input_dim == 6 * unet.addition_time_embed_dim + te2.projection_dim
    assert (te1.num_hidden_layers, te2.num_hidden_layers) == (12, 32)
    assert model.tokenizers[1].pad_token_id == 0 and model.tokenizers[0].pad_token_id == 49407
    assert model.vae.config.scaling_factor == 0.13025
    assert _unet_out(model).shape == (2, 4, 8, 8)


@pytest.mark.parametrize("arch", ["sd15", "sdxl"])
def test_single_file_round_trip_gives_the_same_model(arch, tiny):
    folder, single = tiny[arch]
    a, b = load_base_model(folder), load_base_model(single)
    assert b.arch == arch and b.source_path == single
    torch.testing.assert_close(_unet_out(a), _unet_out(b), rtol=0, atol=1e-5)
    ids = a.tokenizers[0]("a photo of a cat", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.no_grad():
        for te_a, te_b in zip(a.text_encoders, b.text_encoders, strict=True):
            out_a, out_b = te_a(ids, output_hidden_states=True), te_b(ids, output_hidden_states=True)
            torch.testing.assert_close(out_a.hidden_states[-2], out_b.hidden_states[-2], rtol=0, atol=0)
            torch.testing.assert_close(out_a[1], out_b[1], rtol=0, atol=0)  # pooled (projected for SDXL's second)
        image = torch.rand(1, 3, 64, 64) * 2 - 1
        torch.testing.assert_close(a.vae.encode(image).latent_dist.mean, b.vae.encode(image).latent_dist.mean)
    assert len(b.model_hash) == 64 and len(b.legacy_model_hash) == 8


def test_seed_decides_the_weights(tmp_path):
    make_tiny("sd15", str(tmp_path / "a.safetensors"), single_file=True, seed=7)
    make_tiny("sd15", str(tmp_path / "b.safetensors"), single_file=True, seed=7)
    make_tiny("sd15", str(tmp_path / "c.safetensors"), single_file=True, seed=8)
    data = [(tmp_path / f"{n}.safetensors").read_bytes() for n in "abc"]
    assert data[0] == data[1] and data[0] != data[2]
    assert len(data[0]) < 12_000_000


def test_make_tiny_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(Exception) as e:
        make_tiny("sd15", str(tmp_path), single_file=False, seed=0)
    assert getattr(e.value, "code", None) == "BAD_SPEC"
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_vae_path_replaces_the_model_vae(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, single = tiny["sd15"]
    make_tiny("sd15", str(tmp_path / "other.safetensors"), single_file=True, seed=99)
    ldm_vae = {k.removeprefix("first_stage_model."): v for k, v in load_file(str(tmp_path / "other.safetensors")).items()
               if k.startswith("first_stage_model.")}
    save_file(ldm_vae, str(tmp_path / "vae.safetensors"))  # as the web UIs' VAE files are laid out
    reference = load_base_model(str(tmp_path / "other.safetensors")).vae.state_dict()
    for vae_path in (str(tmp_path / "vae.safetensors"), os.path.join(folder, "vae"), folder):
        expected = reference if vae_path.endswith(".safetensors") else load_base_model(folder).vae.state_dict()
        vae = load_base_model(single, vae_path=vae_path).vae
        assert vae.config.scaling_factor == 0.18215 and not vae.training
        for key, value in vae.state_dict().items():
            assert torch.equal(value, expected[key]), (vae_path, key)


def test_a_checkpoint_without_vae_needs_vae_path(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    from danlu_engine.protocol import EngineError

    folder, single = tiny["sd15"]
    no_vae = str(tmp_path / "no-vae.safetensors")
    save_file({k: v for k, v in load_file(single).items() if not k.startswith("first_stage_model.")}, no_vae)
    with pytest.raises(EngineError) as e:
        load_base_model(no_vae)
    assert e.value.code == "BAD_MODEL" and "vae_path" in e.value.message
    assert load_base_model(no_vae, vae_path=os.path.join(folder, "vae")).vae.config.latent_channels == 4
