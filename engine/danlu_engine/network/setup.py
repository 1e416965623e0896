"""The network of a training run from the spec: new, or continued from ``network_weights``; its ss_* keys."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import torch
from safetensors import safe_open

from ..protocol import EngineError
from .build import build_network, network_from_weights
from .lora import LoRANetwork
from .targets import NetworkOptions

MODULE_NAMES = {"lora": "networks.lora", "lycoris": "lycoris.kohya"}


def options_of(net) -> NetworkOptions:
    """The spec's network section (same field names) as NetworkOptions."""
    return NetworkOptions(**{f.name: getattr(net, f.name) for f in dataclasses.fields(NetworkOptions)})


def read_weights(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a network file (.safetensors, or .pt/.ckpt read with weights_only)."""
    if path.endswith(".safetensors"):
        with safe_open(path, "pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    data = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}, {}


def build_run_network(unet, text_encoders, net, unet_rename: Callable[[str], str] | None = None) -> LoRANetwork:
    """A new network from the options, or the one in ``net.weights`` (kinds, dims, alphas and values from it)."""
    opts = options_of(net)
    if not net.weights:
        return build_network(unet, text_encoders, opts, unet_rename)
    tensors, meta = read_weights(net.weights)
    try:
        network = network_from_weights(unet, text_encoders, tensors, opts, unet_rename)
    except (ValueError, KeyError) as e:
        raise EngineError("BAD_SPEC", f"network_weights {net.weights} does not fit this run: {e}",
                          "use a file trained on this model architecture, for the parts this run trains") from e
    network.file_metadata = {k: v for k, v in meta.items() if k in ("ss_network_module", "ss_network_args")}
    return network


def network_metadata(net, network: LoRANetwork) -> dict[str, str]:
    """ss_network_* as sd-scripts writes them (args only when there are some; from the file when continuing)."""
    meta = {
        "ss_network_module": MODULE_NAMES[net.module],
        "ss_network_dim": str(network.dim),
        "ss_network_alpha": str(network.alpha),
        "ss_network_dropout": str(net.dropout) if net.dropout else "None",
    }
    if net.args:
        meta["ss_network_args"] = json.dumps(net.args)
    inherited = getattr(network, "file_metadata", {})
    weights = getattr(net, "weights", None)
    if weights and not net.args and inherited:
        meta.update(inherited)
    elif weights and not net.args and any(a.kind not in ("lora",) for a in network.all_loras()):
        meta["ss_network_module"] = "lycoris.kohya"  # a LyCORIS file without metadata
    return meta
