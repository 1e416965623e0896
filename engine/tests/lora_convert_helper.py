"""Python side of src/lora/convert/convert.test.ts (not a pytest module): one process per call.

``prepare DIR``: writes tiny-model kohya LoRAs DIR/{sd15,sdxl}.safetensors with mixed ranks and alphas,
and prints JSON {arch: {"unet": [[diffusers path, LDM path or null], ...], "te": [CLIP paths]}} for every
Linear/Conv2d of the real SD1.5 and SDXL architectures (built on the meta device), from the engine's map.
``check DIR``: per arch, applies DIR/{arch}.safetensors with danlu's own per-module hooks (each module's
rank and alpha) and DIR/{arch}-diffusers.safetensors with diffusers' load_lora_weights on the same tiny
model; prints JSON {arch: {max_diff, diffs, lora_effect}} (UNet and text-encoder outputs).
"""
from __future__ import annotations

import json
import sys
from typing import Any

import torch

torch.set_num_threads(1)


def names() -> dict:
    from danlu_engine.models import build, configs
    from danlu_engine.models.ldm_keys import UnetLayout, unet_ldm_path

    out = {}
    for arch in ("sd15", "sdxl"):
        variant = configs.variant_for(arch, False)
        with torch.device("meta"):
            unet = build.build_unet(configs.shipped(variant, "unet"))
            te = build.build_text_encoder(configs.shipped(variant, "text_encoder"), False)
        layout = UnetLayout.from_config(dict(unet.config))
        layers = [p for p, m in unet.named_modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        te_paths = [p for p, m in te.named_modules() if isinstance(m, torch.nn.Linear)]
        out[arch] = {"unet": [[p, unet_ldm_path(p, layout)] for p in layers],
                     "te": [p if p.startswith("text_model") else "text_model." + p for p in te_paths]}
    return out


def _modules(arch: str):
    from danlu_engine.models.tiny import build_tiny_modules

    return build_tiny_modules(arch, 0)


def make(folder: str) -> None:
    from danlu_engine.network import LoRAModule, build_lora_network, save_lora_file
    from danlu_engine.train.setup import unet_file_names

    for arch in ("sd15", "sdxl"):
        modules = _modules(arch)
        encoders = [modules["text_encoder"]] + ([modules["text_encoder_2"]] if arch == "sdxl" else [])
        rename = unet_file_names(type("M", (), {"unet": modules["unet"], "arch": arch})) if arch == "sdxl" else None
        torch.manual_seed(1)
        network = build_lora_network(modules["unet"], encoders, 4, 2.0, True, True, rename)
        sd = {}
        for i, lora in enumerate(network.all_loras()):
            assert isinstance(lora, LoRAModule)
            torch.nn.init.normal_(lora.lora_up.weight, std=0.5)
            rank = 2 if i % 3 == 0 else 4  # mixed ranks and alphas: PEFT rank_pattern / alpha_pattern
            sd[f"{lora.lora_name}.lora_down.weight"] = lora.lora_down.weight[:rank]
            sd[f"{lora.lora_name}.lora_up.weight"] = lora.lora_up.weight[:, :rank]
            sd[f"{lora.lora_name}.alpha"] = torch.tensor(1.0 if i % 2 else 2.0)
        meta = {"ss_network_dim": "4", "ss_network_alpha": "2.0", "ss_tag_frequency": json.dumps({"1_x": {"sks": 3}})}
        save_lora_file(f"{folder}/{arch}.safetensors", sd, "fp16", meta)


def check(kohya: str, other: str, arch: str) -> dict:
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline
    from diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl import StableDiffusionXLPipeline

    from danlu_engine.models import build
    from danlu_engine.tokenizer import tokenizers_for

    modules = _modules(arch)
    tok = tokenizers_for(arch)
    # Any: diffusers annotates the scheduler as the KarrasDiffusionSchedulers enum and safety_checker and
    # feature_extractor without None (both pipelines take these), and the modules come as dict[str, Module]
    parts: dict[str, Any] = {"vae": modules["vae"], "text_encoder": modules["text_encoder"], "tokenizer": tok[0],
                             "unet": modules["unet"], "scheduler": build.training_scheduler(False)}
    pipe: StableDiffusionPipeline | StableDiffusionXLPipeline
    if arch == "sdxl":
        parts |= {"text_encoder_2": modules["text_encoder_2"], "tokenizer_2": tok[1]}
        pipe = StableDiffusionXLPipeline(**parts, add_watermarker=False)
    else:
        parts |= {"safety_checker": None, "feature_extractor": None}
        pipe = StableDiffusionPipeline(**parts, requires_safety_checker=False)
    gen = torch.Generator().manual_seed(3)
    unet = modules["unet"]
    x, hidden = torch.randn(1, 4, 8, 8, generator=gen), torch.randn(1, 77, unet.config.cross_attention_dim, generator=gen)
    extra = None
    if arch == "sdxl":
        extra = {"text_embeds": torch.randn(1, modules["text_encoder_2"].config.projection_dim, generator=gen),
                 "time_ids": torch.tensor([[64.0, 64, 0, 0, 64, 64]])}
    ids = torch.tensor([[49406, 320, 1125, 539, 320, 2368, 49407] + [49407] * 70])
    encoders = [modules["text_encoder"]] + ([modules["text_encoder_2"]] if arch == "sdxl" else [])

    def outputs():
        with torch.no_grad():
            return [unet(x, torch.tensor([500]), hidden, added_cond_kwargs=extra).sample] + [e(ids)[0] for e in encoders]

    base = outputs()
    applied = _apply_kohya(kohya, modules, arch)
    reference = outputs()  # the kohya file applied by danlu's own hooks, module by module
    for lora in applied:
        lora.remove_from_base()
    # (diffusers 0.42.1 reading the kohya file itself scales modules wrongly when alphas differ per module:
    # so the reference is danlu's own hooks, not diffusers' kohya loader.)
    pipe.load_lora_weights(other, adapter_name="other")
    diffs = [float((a - b).abs().max()) for a, b in zip(outputs(), reference, strict=True)]  # unet, te1[, te2]
    return {"max_diff": max(diffs), "diffs": diffs,
            "lora_effect": min(float((a - b).abs().max()) for a, b in zip(reference, base, strict=True))}


def _apply_kohya(path: str, modules: dict, arch: str) -> list:
    """Hooks a LoRAModule (its own rank and alpha) on every layer the kohya file names."""
    from danlu_engine.lora_tools.factors import read_lora
    from danlu_engine.lora_tools.targets import all_layers
    from danlu_engine.network.lora import LoRAModule

    encoders = [modules["text_encoder"]] + ([modules["text_encoder_2"]] if arch == "sdxl" else [])
    layers = all_layers(modules["unet"], encoders, arch)
    applied = []
    for name, f in read_lora(path).modules.items():
        lora = LoRAModule(name, layers[name], f.rank, f.alpha)
        with torch.no_grad():
            lora.lora_down.weight.copy_(f.down.reshape(lora.lora_down.weight.shape))
            lora.lora_up.weight.copy_(f.up.reshape(lora.lora_up.weight.shape))
        lora.apply_to_base()
        applied.append(lora)
    return applied


if __name__ == "__main__":
    folder = sys.argv[2]
    if sys.argv[1] == "prepare":
        make(folder)
        print(json.dumps(names()))
    else:
        print(json.dumps({a: check(f"{folder}/{a}.safetensors", f"{folder}/{a}-diffusers.safetensors", a)
                          for a in ("sd15", "sdxl")}))
