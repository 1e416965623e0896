"""danlu's LyCORIS files against the lycoris-lora package: for each algo, a file the real train command
writes (tiny SD1.5, 64 px, 1 step) has exactly the keys and tensor shapes that lycoris.kohya's network
saves for the same UNet and text encoder, dims, alphas, factor and conv settings (sd-scripts'
``--network_module lycoris.kohya --network_args ...``); on a tiny SDXL too, its UNet modules named by their
LDM paths as sd-scripts' SDXL UNet has them. And the maths: a lycoris network with random
values, read as a file, gives the same layer outputs through danlu's training modules and the same merged
weights through generation's lora_apply as the package's own modules compute."""
from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from lycoris import kohya
from lycoris.config import PRESET
from safetensors.torch import load_file
from test_train_loop import run_in_process
from test_train_support import make_spec, write_images

from danlu_engine.lora_apply import module_delta
from danlu_engine.lora_apply.formulas import kind_of
from danlu_engine.models.tiny import build_tiny_modules
from danlu_engine.network import NetworkOptions, network_from_weights

torch.set_num_threads(1)
DIM, ALPHA, CONV_DIM, CONV_ALPHA = 4, 2.0, 2, 1.0
# network_args as a person gives them (strings), the same for lycoris.kohya and danlu's spec.
CASES = {
    "locon": {"algo": "locon"},
    "locon-tucker": {"algo": "locon", "use_tucker": "True"},
    "dora": {"algo": "locon", "dora_wd": "True"},
    "loha": {"algo": "loha"},
    "loha-tucker": {"algo": "loha", "use_tucker": "True"},
    "lokr": {"algo": "lokr", "factor": "4"},
    "lokr-both": {"algo": "lokr", "factor": "4", "decompose_both": "True"},
    "lokr-full": {"algo": "lokr", "full_matrix": "True"},
    "ia3": {"algo": "ia3"},
}


def full_preset_for_sd() -> dict:
    """lycoris 4.1.3's "full" preset lists TimestepEmbedding (for Anima) beside the names
    time_embedding.linear_1/2, which on an SD UNet builds each of those twice and fails its duplicate-name
    check; without that class the preset is "full" as it targets SD1/2 and SDXL."""
    preset = dict(PRESET["full"])
    preset["unet_target_module"] = [m for m in preset["unet_target_module"] if m != "TimestepEmbedding"]
    return preset


def as_sd_scripts_sees_it(encoder: torch.nn.Module) -> torch.nn.Module:
    """transformers 5's CLIPTextModel has no ``text_model`` level; sd-scripts' (transformers 4) has, and
    files name the layers from it (lora_te_text_model_encoder_...): the same layers, one level down."""
    if hasattr(encoder, "text_model"):
        return encoder
    holder = torch.nn.Module()
    holder.text_model = encoder
    return holder


def lycoris_network(args: dict[str, str], arch: str = "sd15"):
    """(network, UNet, text encoder as built by danlu) for lycoris.kohya with those network_args."""
    modules = build_tiny_modules(arch, 0)
    unet = modules["unet"]
    names = [k for k in ("text_encoder", "text_encoder_2") if k in modules]
    encoders = [as_sd_scripts_sees_it(modules[k]) for k in names]
    preset = full_preset_for_sd()
    if arch == "sdxl":  # sd-scripts' SDXL UNet has LDM paths, where conv_in/conv_out/time_embedding.* match nothing
        preset["unet_target_name"] = []
    kohya.PRESET["danlu-sd"] = preset
    try:
        network = kohya.create_network(1.0, DIM, ALPHA, None, encoders if len(encoders) > 1 else encoders[0], unet,
                                       warn_on_unmatched=False, conv_dim=str(CONV_DIM), conv_alpha=str(CONV_ALPHA),
                                       preset="danlu-sd", **args)
    finally:
        del kohya.PRESET["danlu-sd"]
    network.apply_to(encoders if len(encoders) > 1 else encoders[0], unet, True, True)
    return network, unet, modules["text_encoder"]


def lycoris_shapes(args: dict[str, str]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in lycoris_network(args)[0].state_dict().items()}


def danlu_network(args: dict[str, str]) -> dict:
    """The spec's network section for those network_args (what src/training/network-spec.ts makes of them)."""
    return {"module": "lycoris", "dim": DIM, "alpha": ALPHA, "conv_dim": CONV_DIM, "conv_alpha": CONV_ALPHA,
            "algo": args["algo"], "use_tucker": args.get("use_tucker") == "True",
            "dora_wd": args.get("dora_wd") == "True", "factor": int(args.get("factor", -1)),
            "decompose_both": args.get("decompose_both") == "True",
            "full_matrix": args.get("full_matrix") == "True", "train_text_encoder": True, "args": args}


@pytest.mark.parametrize("case", sorted(CASES))
def test_trained_file_has_the_keys_and_shapes_lycoris_writes(sd15, tmp_path, monkeypatch, case):
    args = CASES[case]
    images = write_images(str(tmp_path / "images"), 1)
    run_in_process(make_spec(sd15, str(tmp_path), images, epochs=1, batch=1, network=danlu_network(args)), monkeypatch)
    mine = {k: tuple(v.shape) for k, v in load_file(str(tmp_path / "tiny.safetensors")).items()}
    reference = lycoris_shapes(args)
    assert sorted(set(reference) - set(mine)) == [] and sorted(set(mine) - set(reference)) == []
    assert {k: s for k, s in mine.items() if reference[k] != s} == {}


def layer_input(layer: torch.nn.Linear | torch.nn.Conv2d) -> torch.Tensor:
    if isinstance(layer, torch.nn.Conv2d):
        return torch.randn(1, layer.in_channels, 6, 6)
    return torch.randn(2, layer.in_features)


def with_weight(layer: torch.nn.Linear | torch.nn.Conv2d, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The layer's output with another weight. The reference for a merge is the package module's forward:
    lycoris 4.1.3's LoHa/LoKr get_merged_weight scales by alpha/dim twice (get_weight already applies it)."""
    if isinstance(layer, torch.nn.Conv2d):
        return F.conv2d(x, weight, layer.bias, layer.stride, layer.padding, layer.dilation, layer.groups)
    return F.linear(x, weight, layer.bias)


def _message(name: str, what: str) -> Callable[[str], str]:
    return lambda m: f"{name} ({what}): {m}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_training_modules_and_generation_deltas_compute_what_lycoris_computes(case):
    torch.manual_seed(0)
    network, unet, encoder = lycoris_network(CASES[case])
    network.eval()
    with torch.no_grad():
        for name, p in network.named_parameters():  # away from the zero init, so every factor counts
            p.copy_(p + 0.1 * torch.randn_like(p) if name.endswith("dora_scale") else 0.2 * torch.randn_like(p))
    tensors = {k: v.detach().clone() for k, v in network.state_dict().items()}
    mine = network_from_weights(unet, [encoder], tensors, NetworkOptions(module="lycoris")).eval()
    danlu_modules = {a.lora_name: a for a in mine.all_loras()}
    assert set(danlu_modules) == {lora.lora_name for lora in network.loras}
    with torch.no_grad():
        for lora in network.loras:
            base = lora.org_module[0]
            x = layer_input(base)
            reference_out = lora.forward(x)  # the package's module, hooked on the layer
            plain = lora.org_forward(x)
            adapter = danlu_modules[lora.lora_name]
            torch.testing.assert_close(plain + adapter.change(x, plain), reference_out, rtol=1e-4, atol=1e-5,
                                       msg=_message(lora.lora_name, "training"))
            own = {k.split(".", 1)[1]: v for k, v in tensors.items() if k.split(".", 1)[0] == lora.lora_name}
            weight = base.weight.float()
            kind = kind_of(set(own))
            assert kind is not None
            merged = weight + module_delta(kind, own, weight)
            torch.testing.assert_close(with_weight(base, x, merged), reference_out, rtol=1e-4, atol=1e-5,
                                       msg=_message(lora.lora_name, "merge"))


def ldm_named(network, unet) -> dict[str, tuple[int, ...]]:
    """The package's saved keys with each UNet module named by its LDM path, as sd-scripts' SDXL UNet has it."""
    from danlu_engine.models.ldm_keys import UnetLayout, unet_ldm_path

    layout = UnetLayout.from_config(dict(unet.config))
    paths = {id(m): p for p, m in unet.named_modules()}
    renamed = {}
    for lora in network.unet_loras:
        ldm = unet_ldm_path(paths[id(lora.org_module[0])], layout)
        renamed[lora.lora_name] = f"lora_unet.{ldm}".replace(".", "_")
    out = {}
    for key, value in network.state_dict().items():
        name, _, suffix = key.partition(".")
        out[f"{renamed.get(name, name)}.{suffix}"] = tuple(value.shape)
    return out


@pytest.mark.parametrize("case", ["dora", "loha-tucker", "lokr-both", "ia3"])
def test_sdxl_file_has_the_keys_and_shapes_lycoris_writes(tmp_path, monkeypatch, case):
    from danlu_engine.models import make_tiny

    model = str(tmp_path / "tiny-sdxl.safetensors")
    make_tiny("sdxl", model, True, 0)
    args = CASES[case]
    images = write_images(str(tmp_path / "images"), 1)
    run_in_process(make_spec(model, str(tmp_path), images, epochs=1, batch=1, network=danlu_network(args)),
                   monkeypatch)
    mine = {k: tuple(v.shape) for k, v in load_file(str(tmp_path / "tiny.safetensors")).items()}
    network, unet, _ = lycoris_network(args, "sdxl")
    reference = ldm_named(network, unet)
    assert sorted(set(reference) - set(mine)) == [] and sorted(set(mine) - set(reference)) == []
    assert {k: s for k, s in mine.items() if reference[k] != s} == {}
