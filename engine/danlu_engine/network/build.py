"""Build the network of a run: from the options (a new network) or from an existing file (network_weights)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from .adapter import Adapter, Layer
from .lora import LoRAModule, LoRANetwork
from .lycoris_modules import IA3Module, LoHaModule, LoKrModule
from .targets import UNET_PREFIX, NetworkOptions, Target, find_targets, text_encoder_prefixes

ALGOS = ("lora", "locon", "loha", "lokr", "ia3")


def clip_file_path(encoder: nn.Module) -> Callable[[str], str] | None:
    """Files name CLIP modules from ``text_model.``; transformers 5's CLIPTextModel has no such level."""
    if hasattr(encoder, "text_model"):
        return None
    return lambda path: f"text_model.{path}"


def make_adapter(opts: NetworkOptions, target: Target) -> Adapter:
    name, base, dim, alpha = target.lora_name, target.module, target.dim, target.alpha
    drops = {"rank_dropout": opts.rank_dropout, "module_dropout": opts.module_dropout}
    if opts.algo in ("lora", "locon"):
        return LoRAModule(name, base, dim, alpha, opts.dropout, dora=opts.dora_wd, use_tucker=opts.use_tucker, **drops)
    if opts.algo == "loha":
        return LoHaModule(name, base, dim, alpha, use_tucker=opts.use_tucker, **drops)
    if opts.algo == "lokr":
        return LoKrModule(name, base, dim, alpha, opts.factor, opts.decompose_both, opts.use_tucker,
                          opts.full_matrix, **drops)
    if opts.algo == "ia3":
        return IA3Module(name, base, opts.module_dropout)
    raise ValueError(f"unknown network algo {opts.algo!r} (expected one of {', '.join(ALGOS)})")


def _targets(unet, text_encoders, opts: NetworkOptions, unet_rename) -> tuple[list[Target], list[Target]]:
    unet_targets = find_targets(unet, UNET_PREFIX, opts, True, unet_rename) if opts.train_unet else []
    text_targets: list[Target] = []
    if opts.train_text_encoder:
        for encoder, prefix in zip(text_encoders, text_encoder_prefixes(len(text_encoders)), strict=True):
            text_targets += find_targets(encoder, prefix, opts, False, clip_file_path(encoder))
    return unet_targets, text_targets


def build_network(unet: nn.Module, text_encoders: list[nn.Module], opts: NetworkOptions,
                  unet_rename: Callable[[str], str] | None = None) -> LoRANetwork:
    """A new network on the targets of the parts being trained (not yet hooked in: apply_to_base).

    ``unet_rename`` maps a diffusers UNet module path to the name the file uses (SDXL: the LDM path).
    """
    unet_targets, text_targets = _targets(unet, text_encoders, opts, unet_rename)
    if not unet_targets and not text_targets:
        raise ValueError("the network has nothing to train: enable train_unet or train_text_encoder")
    return LoRANetwork([make_adapter(opts, t) for t in unet_targets],
                       [make_adapter(opts, t) for t in text_targets], opts.dim, opts.alpha)


def build_lora_network(unet, text_encoders, dim: int, alpha: float, train_unet: bool, train_text_encoder: bool,
                       unet_rename: Callable[[str], str] | None = None) -> LoRANetwork:
    """A plain kohya LoRA (networks.lora defaults) of ``dim``/``alpha``."""
    opts = NetworkOptions(dim=dim, alpha=alpha, train_unet=train_unet, train_text_encoder=train_text_encoder)
    return build_network(unet, text_encoders, opts, unet_rename)


def _module_kind(tensors: dict[str, torch.Tensor]) -> str:
    if "lora_down.weight" in tensors:
        return "lora"
    if "hada_w1_a" in tensors:
        return "loha"
    if "lokr_w1" in tensors or "lokr_w1_a" in tensors:
        return "lokr"
    if "weight" in tensors and "on_input" in tensors:
        return "ia3"
    raise ValueError(f"unsupported module tensors {sorted(tensors)}")


def _adapter_from_tensors(name: str, base: Layer, t: dict[str, torch.Tensor], opts: NetworkOptions) -> Adapter:
    """An adapter whose shapes fit the file's tensors (dim from the tensors, alpha from ``alpha``)."""
    kind = _module_kind(t)
    alpha = float(t["alpha"]) if "alpha" in t else 0.0
    drops = {"rank_dropout": opts.rank_dropout, "module_dropout": opts.module_dropout}
    if kind == "lora":
        dim = t["lora_down.weight"].shape[0]
        return LoRAModule(name, base, dim, alpha, opts.dropout, dora="dora_scale" in t,
                          use_tucker="lora_mid.weight" in t, **drops)
    if kind == "loha":
        return LoHaModule(name, base, t["hada_w1_b"].shape[0], alpha, use_tucker="hada_t1" in t, **drops)
    if kind == "ia3":
        return IA3Module(name, base, opts.module_dropout)
    w1, w2 = t.get("lokr_w1"), t.get("lokr_w2")
    if w1 is None:
        dim = t["lokr_w1_a"].shape[1]
    elif w2 is None:  # w2_a is [b, dim], or [dim, b] with a Tucker core
        dim = t["lokr_w2_a"].shape[0 if "lokr_t2" in t else 1]
    else:
        dim = 1  # both factors full: no rank (LyCORIS reads it as 1)
    a, c = w1.shape if w1 is not None else (t["lokr_w1_a"].shape[0], t["lokr_w1_b"].shape[1])
    return LoKrModule(name, base, dim, alpha, use_tucker="lokr_t2" in t,
                      layout=(a, c, w1 is not None, w2 is not None), **drops)


def _group(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    modules: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, suffix = key.partition(".")
        modules.setdefault(name, {})[suffix] = value
    return modules


def _layers_by_name(unet, text_encoders, unet_rename) -> dict[str, tuple[Layer, bool]]:
    """Every Linear/Conv2d under its file name (prefix + path), with whether it is in the UNet."""
    layers: dict[str, tuple[Layer, bool]] = {}
    roots = [(unet, UNET_PREFIX, unet_rename, True)]
    prefixes = text_encoder_prefixes(len(text_encoders))
    roots += [(e, p, clip_file_path(e), False) for e, p in zip(text_encoders, prefixes, strict=True)]
    for root, prefix, rename, is_unet in roots:
        for path, module in root.named_modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                try:
                    file_path = rename(path) if rename else path
                except Exception:  # noqa: BLE001 - a layer without a file name cannot be in a file
                    continue
                layers[f"{prefix}.{file_path}".replace(".", "_")] = (module, is_unet)
    return layers


def network_from_weights(unet, text_encoders, tensors: dict[str, torch.Tensor], opts: NetworkOptions,
                         unet_rename: Callable[[str], str] | None = None) -> LoRANetwork:
    """The network a file holds (kinds, dims and alphas from its tensors), loaded with its values.

    The parts it adapts must be the ones being trained; names that fit no layer of the model are errors.
    """
    layers = _layers_by_name(unet, text_encoders, unet_rename)
    unet_adapters: list[Adapter] = []
    text_adapters: list[Adapter] = []
    for name, module_tensors in _group(tensors).items():
        if name not in layers:
            raise ValueError(f"{name} names no layer of this model")
        base, is_unet = layers[name]
        if not (opts.train_unet if is_unet else opts.train_text_encoder):
            part = "UNet" if is_unet else "text encoder"
            raise ValueError(f"the file adapts the {part} ({name}), which this run does not train")
        (unet_adapters if is_unet else text_adapters).append(_adapter_from_tensors(name, base, module_tensors, opts))
    if not unet_adapters and not text_adapters:
        raise ValueError("the file holds no network modules")
    ranks = Counter(getattr(a, "dim", 0) for a in unet_adapters + text_adapters)
    dim = ranks.most_common(1)[0][0]
    with_alpha = [a for a in unet_adapters + text_adapters if hasattr(a, "alpha")]  # all kinds but IA3
    alphas = Counter(float(cast(torch.Tensor, a.alpha)) for a in with_alpha)
    alpha = alphas.most_common(1)[0][0] if alphas else float(dim)
    network = LoRANetwork(unet_adapters, text_adapters, dim, alpha)
    # A file without .alpha keys means alpha = dim (scale 1), which the new modules already hold.
    missing_alphas = {k: v for k, v in network.kohya_state_dict().items() if k.endswith(".alpha") and k not in tensors}
    network.load_kohya_state_dict({**missing_alphas, **{k: v.float() for k, v in tensors.items()}})
    return network
