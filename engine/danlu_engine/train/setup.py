"""The steps before the loop: pick the device and dtypes, freeze and place the base model, add the LoRA."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import torch

from ..network import LoRANetwork
from ..network.setup import build_run_network
from ..protocol import EngineError, emit
from ..spec import TrainSpec

WEIGHT_DTYPES = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Precision:
    weight: torch.dtype  # frozen base weights (UNet, text encoders)
    vae: torch.dtype
    autocast: bool  # matmuls/convs in `weight` dtype under torch.autocast; LoRA weights stay float32
    loss_scaling: bool  # fp16 needs a GradScaler so small gradients do not flush to zero


def resolve_device(choice: str) -> torch.device:
    if choice == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        _configure_cuda()
        return torch.device("cuda", torch.cuda.current_device())
    if choice == "cuda":
        raise EngineError(
            "DEVICE_UNAVAILABLE",
            "training.device is cuda but PyTorch sees no CUDA GPU",
            "check the NVIDIA driver and CUDA_VISIBLE_DEVICES, or train with device auto/cpu",
        )
    return torch.device("cpu")


def _configure_cuda() -> None:
    # TF32 matmuls: ~8x the float32 throughput on Ampere+ with a 10-bit mantissa, plenty for a LoRA
    # gradient (diffusers' examples offer the same as --allow_tf32). cudnn.benchmark picks the fastest
    # convolution per input shape; a run has few shapes (one per bucket), so the search pays off.
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True


def resolve_precision(mixed_precision: str, vae_fp32: bool) -> Precision:
    weight = WEIGHT_DTYPES[mixed_precision]
    return Precision(
        weight=weight,
        vae=torch.float32 if vae_fp32 else weight,
        autocast=mixed_precision != "no",
        loss_scaling=mixed_precision == "fp16",
    )


def place_base_model(model, device: torch.device, precision: Precision, spec: TrainSpec) -> None:
    """Freeze every base weight, move it to the device in its dtype, set attention and checkpointing."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    for module in (model.unet, model.vae, *model.text_encoders):
        module.requires_grad_(False)
    model.vae.to(device, precision.vae).eval()
    model.unet.to(device, precision.weight)
    model.unet.set_attn_processor(AttnProcessor2_0())  # PyTorch SDPA (flash / memory-efficient kernels)
    if device.type == "cuda":
        model.unet.to(memory_format=torch.channels_last)  # cuDNN's fast convolution layout
    for encoder in model.text_encoders:
        encoder.to(device, precision.weight).eval()
    if spec.training.gradient_checkpointing:
        model.unet.enable_gradient_checkpointing()
        if spec.network.train_text_encoder:
            for encoder in model.text_encoders:
                encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.unet.train(spec.network.train_unet)
    for encoder in model.text_encoders:
        encoder.train(spec.network.train_text_encoder)
    if os.environ.get(COMPILE_ENV) == "1":
        compile_unet(model.unet, device)


# Not yet a training key (that touches spec.py and the TypeScript config): DANLU_TORCH_COMPILE=1 in the
# engine's environment. Off by default: bench/train/step_options.py measures it.
COMPILE_ENV = "DANLU_TORCH_COMPILE"


def compile_unet(unet: torch.nn.Module, device: torch.device) -> None:
    """torch.compile the UNet in place (nn.Module.compile: the module and its hooks stay the same objects;
    the LoRA hooks in later and is traced with it at the first forward). That first call compiles: its time
    is reported as a log event, and a failure to compile is an error that says how to run without it."""
    unet.compile()
    compiled = cast(Callable[..., Any], unet._compiled_call_impl)  # set by nn.Module.compile; __call__ uses it
    first = [True]

    def call(*args, **kwargs):
        if not first[0]:
            return compiled(*args, **kwargs)
        started = time.perf_counter()
        try:
            out = compiled(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - dynamo/inductor raise many kinds; all mean "cannot compile here"
            raise EngineError(
                "INTERNAL",
                f"torch.compile of the UNet failed on {device.type}: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                f"train without it (unset {COMPILE_ENV}); compiling needs a C++ compiler on the CPU, Triton on a GPU",
            ) from e
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        first[0] = False
        emit("log", level="info", message=f"torch.compile: the UNet's first forward (compiling) took "
                                          f"{time.perf_counter() - started:.1f} s")
        return out

    unet._compiled_call_impl = call


def add_network(model, spec: TrainSpec, device: torch.device) -> LoRANetwork:
    """Build the LoRA (seeded, so its initial weights repeat), hook it in, keep its weights in float32."""
    torch.manual_seed(spec.training.seed)
    rename = unet_file_names(model) if model.arch == "sdxl" else None
    network = build_run_network(model.unet, list(model.text_encoders), spec.network, rename)
    network.to(device, torch.float32)  # upcast trainables: optimizer updates in half precision lose bits
    network.requires_grad_(True)
    network.apply_to_base()
    return network


def unet_file_names(model):
    """SDXL files name UNet modules by their original (LDM) paths, as sd-scripts writes them."""
    from ..models.ldm_keys import UnetLayout, unet_ldm_path

    layout = UnetLayout.from_config(dict(model.unet.config))

    def rename(path: str) -> str:
        ldm = unet_ldm_path(path, layout)
        if ldm is None:
            raise EngineError("INTERNAL", f"no LDM name for UNet module {path}")
        return ldm

    return rename
