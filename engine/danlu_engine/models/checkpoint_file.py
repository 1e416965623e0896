"""Reading tensors out of a single-file checkpoint: ``.safetensors`` (header parsed here, so a truncated or
foreign file is named precisely) or a pickled ``.ckpt`` through torch's weights-only loader (never a full
unpickle: a pickle can run arbitrary code)."""
from __future__ import annotations

import json
import os
import pickle
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from ..protocol import EngineError

SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2", "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
    "BOOL": "bool",
}
MAX_HEADER_BYTES = 100_000_000  # the safetensors format's own limit


@dataclass
class CheckpointFile:
    """Tensor names, shapes and dtypes of a file, and a way to read one tensor at a time."""

    path: str
    format: str  # "single_file" (safetensors) | "ckpt"
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    metadata: dict[str, str] = field(default_factory=dict)
    extras: dict = field(default_factory=dict)  # ckpt top-level entries besides the state dict (global_step)
    _tensors: dict | None = None  # ckpt: the loaded state dict
    stored_names: dict[str, str] = field(default_factory=dict)  # normalised name -> name in the file, where they differ

    def keys(self) -> list[str]:
        return list(self.shapes)

    @contextmanager
    def reader(self) -> Iterator[Callable[[str], torch.Tensor]]:
        """``with ckpt.reader() as get: get(key)``: one open file for many reads (safetensors re-parses its
        header on every open, which is slow for thousands of tensors)."""
        rename = self.stored_names.get
        if self._tensors is not None:
            tensors = self._tensors
            yield lambda key: tensors[rename(key, key)]
            return
        from safetensors import safe_open

        with safe_open(self.path, framework="pt") as f:
            yield lambda key: f.get_tensor(rename(key, key))


def _not_a_checkpoint(path: str, why: str) -> EngineError:
    return EngineError("BAD_MODEL", f"{path} is not a model checkpoint: {why}")


def _describe_foreign_bytes(head: bytes) -> str:
    """A guess at what a non-checkpoint file is, for the error message."""
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        return "it looks like a JSON text file"
    if head[:4] == b"PK\x03\x04":
        return "it is a zip archive but not a PyTorch checkpoint"
    if head[:3] == b"\xff\xd8\xff" or head[:8] == b"\x89PNG\r\n\x1a\n":
        return "it is an image"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head[:64]) and head:
        return "it is a text file"
    return "its contents are neither safetensors nor a PyTorch checkpoint"


def read_safetensors_header(path: str) -> CheckpointFile:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _not_a_checkpoint(path, f"only {size} bytes")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > min(MAX_HEADER_BYTES, size - 8) or header_len < 2:
            f.seek(0)
            raise _not_a_checkpoint(path, _describe_foreign_bytes(f.read(256)))
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _not_a_checkpoint(path, "its safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise _not_a_checkpoint(path, "its safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    shapes, dtypes, data_end = {}, {}, 0
    for name, info in header.items():
        if not isinstance(info, dict) or "shape" not in info or "data_offsets" not in info:
            raise _not_a_checkpoint(path, f"tensor entry {name!r} is malformed")
        shapes[name] = tuple(info["shape"])
        dtype = str(info.get("dtype"))
        dtypes[name] = SAFETENSORS_DTYPES.get(dtype, dtype)
        data_end = max(data_end, int(info["data_offsets"][1]))
    available = size - 8 - header_len
    if data_end > available:
        raise EngineError(
            "BAD_MODEL",
            f"{path} is truncated: its header describes {data_end + 8 + header_len} bytes but the file has "
            f"{size} (an interrupted download? download it again)",
        )
    return CheckpointFile(path, "single_file", shapes, dtypes, metadata=dict(metadata))


def read_ckpt(path: str) -> CheckpointFile:
    """Load a pickled checkpoint with ``torch.load(weights_only=True)`` (tensors and plain containers only)."""
    with open(path, "rb") as f:
        is_zip = f.read(2) == b"PK"  # torch's zip format can be memory-mapped; the legacy raw pickle cannot
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as e:
        if "weights only load failed" in str(e).lower() or "weights_only" in str(e).lower():
            raise EngineError(
                "BAD_MODEL",
                f"{path} was refused for safety: this .ckpt needs full Python unpickling (it can run code). "
                "Convert it to .safetensors with a tool you trust, or download the .safetensors version.",
                detail=str(e).split("\n")[0],
            ) from None
        raise _not_a_checkpoint(path, str(e).split("\n")[0]) from None
    except RuntimeError as e:
        message = str(e).split("\n")[0]
        if "central directory" in message or "unexpected eof" in message.lower():
            raise EngineError("BAD_MODEL", f"{path} is truncated or damaged ({message}); download it again") from None
        raise _not_a_checkpoint(path, message) from None
    except (EOFError, ValueError) as e:
        raise _not_a_checkpoint(path, f"{type(e).__name__}: {e}") from None
    if not isinstance(obj, dict):
        raise _not_a_checkpoint(path, f"it holds a {type(obj).__name__}, not a state dict")
    state = obj.get("state_dict", obj)
    if not isinstance(state, dict):
        raise _not_a_checkpoint(path, "its state_dict entry is not a dict")
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    extras = {k: v for k, v in obj.items() if k != "state_dict" and not isinstance(v, (torch.Tensor, dict))}
    return CheckpointFile(
        path, "ckpt", {k: tuple(v.shape) for k, v in tensors.items()},
        {k: str(v.dtype).removeprefix("torch.") for k, v in tensors.items()}, extras=extras, _tensors=tensors,
    )


def _normalise_legacy_clip_names(ckpt: CheckpointFile) -> CheckpointFile:
    """Early SD1.x files store the CLIP tower without transformers' ``text_model.`` level: add it."""
    p = "cond_stage_model.transformer."
    legacy = [k for k in ckpt.shapes if k.startswith(p) and not k.startswith(p + "text_model.")]
    if not legacy or any(k.startswith(p + "text_model.") for k in ckpt.shapes):
        return ckpt
    for key in legacy:
        new = p + "text_model." + key[len(p):]
        ckpt.stored_names[new] = key
        ckpt.shapes[new] = ckpt.shapes.pop(key)
        ckpt.dtypes[new] = ckpt.dtypes.pop(key)
    return ckpt


def open_checkpoint(path: str) -> CheckpointFile:
    """Read a single-file checkpoint's index; the format is decided by content, not by the extension."""
    if not os.path.exists(path):
        raise EngineError("FILE_NOT_FOUND", f"model file not found: {path}")
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors: an 8-byte header length, then the JSON header. Its length's low byte can be 0x80 or "PK"
    # (1 file in 256), so a "{" after it decides first. A raw pickle starts with PROTO (0x80) and a protocol
    # 2-5 (torch.save's legacy format); other bytes after 0x80 are a damaged or foreign file, not a pickle.
    legacy_pickle = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    if head[8:9] != b"{" and (head[:2] == b"PK" or legacy_pickle):  # a torch zip, or a legacy raw pickle
        return _normalise_legacy_clip_names(read_ckpt(path))
    return _normalise_legacy_clip_names(read_safetensors_header(path))
