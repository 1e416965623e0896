"""Spec checking for the lora-* commands (the zod schemas in src/engine/spec.ts are the other side)."""
from __future__ import annotations

from ..protocol import EngineError

OPTIONAL_FLOAT = (float, int, type(None))
OPTIONAL_STR = (str, type(None))
FLOAT = (float, int)
PRECISIONS = ("float", "fp16", "bf16")


def check(spec: object, fields: dict[str, type | tuple], name: str) -> dict:
    """Exactly ``fields`` (key -> type or tuple of types), version 1; else BAD_SPEC naming the key."""
    if not isinstance(spec, dict):
        raise EngineError("BAD_SPEC", f"{name} spec must be a JSON object")
    unknown = [k for k in spec if k not in fields]
    if unknown:
        raise EngineError("BAD_SPEC", f"{name} spec: unknown key {unknown[0]!r} (expected {', '.join(fields)})")
    for key, typ in fields.items():
        if key not in spec:
            raise EngineError("BAD_SPEC", f"{name} spec: missing key {key!r}")
        value = spec[key]
        types = typ if isinstance(typ, tuple) else (typ,)
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise EngineError("BAD_SPEC", f"{name} spec: {key!r} has the wrong type: {value!r}")
    if spec["version"] != 1:
        raise EngineError("BAD_SPEC", f"{name} spec: version {spec['version']} is not supported (expected 1)")
    if spec.get("precision") is not None and spec["precision"] not in PRECISIONS:
        raise EngineError("BAD_SPEC", f"{name} spec: precision must be one of {', '.join(PRECISIONS)}")
    return spec


def weighted_files(items: object, key: str, name: str) -> list[tuple[str, float]]:
    """[{path, weight}] -> [(path, weight)]; at least one."""
    if not isinstance(items, list) or not items:
        raise EngineError("BAD_SPEC", f"{name} spec: {key!r} must be a non-empty list")
    out = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"path", "weight"} or not isinstance(item["path"], str) \
                or not isinstance(item["weight"], (int, float)) or isinstance(item["weight"], bool):
            raise EngineError("BAD_SPEC", f"{name} spec: each of {key!r} must be {{path, weight}}, got {item!r}")
        out.append((item["path"], float(item["weight"])))
    return out
