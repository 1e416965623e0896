"""``python -m danlu_engine doctor SPEC.json``: what this machine can train with (doctorSpec in
src/engine/spec-doctor.ts). Each check runs a tiny real operation (a matmul, an 8-bit optimizer step)
rather than trusting ``is_available()``, and records its error instead of raising: the CLI turns the
report into advice (src/doctor/advice.ts).
Events: ready, result {python, platform, torch, gpus, nvidia_smi, cuda, mps, training_device, bf16,
bitsandbytes, memory}, done."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Literal

from ..protocol import emit
from ..spec import parse_spec


@dataclass(frozen=True)
class DoctorSpec:
    version: Literal[1]


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}".rstrip(": ")


def _nvidia_smi() -> dict:
    """The driver and GPUs as NVIDIA's own tool sees them (present even when torch cannot use them)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {"found": False, "driver": None, "gpus": [], "error": None}
    try:
        out = subprocess.run(
            [exe, "--query-gpu=driver_version,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return {"found": True, "driver": None, "gpus": [], "error": _error(e)}
    rows = [[c.strip() for c in line.split(",")] for line in out.strip().splitlines() if line.strip()]
    return {
        "found": True,
        "driver": rows[0][0] if rows else None,
        "gpus": [{"name": r[1], "memory_mb": float(r[2]) if r[2].replace(".", "").isdigit() else None} for r in rows],
        "error": None,
    }


def _try_matmul(torch, device: str, dtype=None) -> str | None:
    """None when a small matmul on ``device`` gives a finite result; else the error."""
    try:
        x = torch.ones(16, 16, device=device, dtype=dtype or torch.float32)
        y = (x @ x).float().sum().item()  # .item() syncs: a kernel that fails asynchronously fails here
        return None if y == 16 * 16 * 16 else f"wrong result {y}"
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        return _error(e)


def _gpus(torch) -> list[dict]:
    gpus = []
    for i in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(i)
        gpus.append({"index": i, "name": p.name, "memory_mb": p.total_memory / 2**20,
                     "capability": f"{p.major}.{p.minor}"})
    return gpus


def _cuda(torch) -> dict:
    try:
        available = torch.cuda.is_available()
    except Exception as e:  # noqa: BLE001
        return {"available": False, "usable": False, "error": _error(e)}
    if not available:
        return {"available": False, "usable": False, "error": None}
    error = _try_matmul(torch, "cuda")
    return {"available": True, "usable": error is None, "error": error}


def _mps(torch) -> dict:
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        return {"available": False, "usable": False, "error": None}
    error = _try_matmul(torch, "mps")
    return {"available": True, "usable": error is None, "error": error}


def _bf16(torch, device: str) -> dict:
    """Whether bfloat16 math works where training runs (CUDA asks the GPU: Turing and older emulate it)."""
    if device.startswith("cuda"):
        return {"device": device, "supported": bool(torch.cuda.is_bf16_supported(including_emulation=False))}
    return {"device": device, "supported": _try_matmul(torch, device, torch.bfloat16) is None}


def _bitsandbytes(torch, device: str) -> dict:
    """One AdamW8bit step on a 64x64 weight (4096 values: the smallest that gets 8-bit state)."""
    try:
        import bitsandbytes as bnb
    except Exception as e:  # noqa: BLE001 - a broken native library raises more than ImportError
        return {"version": None, "usable": False, "device": device, "error": _error(e)}
    try:
        weight = torch.nn.Parameter(torch.randn(64, 64, device=device))
        optimizer = bnb.optim.AdamW8bit([weight], lr=1e-3)
        weight.grad = torch.randn_like(weight)
        optimizer.step()
        state = optimizer.state[weight].get("state1")
        if state is None or state.dtype != torch.uint8:
            raise RuntimeError("the optimizer state is not 8-bit")
        error = None
    except Exception as e:  # noqa: BLE001
        error = _error(e)
    return {"version": getattr(bnb, "__version__", None), "usable": error is None, "device": device, "error": error}


def _memory() -> dict | None:
    try:
        import psutil
    except ImportError:
        return None
    vm = psutil.virtual_memory()
    return {"total_mb": vm.total / 2**20, "available_mb": vm.available / 2**20}


def report() -> dict:
    """Every check; never raises (a failed import is recorded under torch.error)."""
    data: dict = {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": {"system": platform.system(), "machine": platform.machine(), "release": platform.release()},
        "nvidia_smi": _nvidia_smi(),
        "memory": _memory(),
    }
    try:
        import torch
    except Exception as e:  # noqa: BLE001
        data["torch"] = {"version": None, "cuda_build": None, "mps_build": False, "error": _error(e)}
        return data
    mps = getattr(torch.backends, "mps", None)
    data["torch"] = {"version": torch.__version__, "cuda_build": torch.version.cuda,
                     "mps_build": bool(mps and mps.is_built()), "error": None}
    data["cuda"] = _cuda(torch)
    data["gpus"] = _gpus(torch) if data["cuda"]["available"] else []
    data["mps"] = _mps(torch)
    # what train/setup.py's device = "auto" picks: CUDA when usable, else the CPU (MPS is not used)
    device = "cuda:0" if data["cuda"]["usable"] else "cpu"
    data["training_device"] = device
    data["bf16"] = _bf16(torch, device)
    data["bitsandbytes"] = _bitsandbytes(torch, device)
    return data


def run(raw: Any) -> None:
    started = time.monotonic()
    # the handshake without importing torch first: a broken torch is what this command must report
    try:
        import torch

        torch_version = str(torch.__version__)
    except Exception:  # noqa: BLE001
        torch_version = "not importable"
    from .. import __version__

    emit("ready", engine_version=__version__, torch_version=torch_version, device="cpu", dtype="float32",
         pid=os.getpid())
    parse_spec(raw, DoctorSpec)
    emit("result", data=report())
    emit("done", outputs=[], steps=0, elapsed_s=time.monotonic() - started)
