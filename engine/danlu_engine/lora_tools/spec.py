"""What the lora-* commands' specs share (spec-lora.ts is the TypeScript side). Each command parses its spec
into its own frozen dataclass with pydantic (``parse_spec`` in danlu_engine/spec.py); the checks below are the
ones the types alone cannot express, as BAD_SPEC errors naming the key."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..spec import _bad

Precision = Literal["float", "fp16", "bf16"]  # LORA_PRECISIONS


@dataclass(frozen=True)
class WeightedFile:
    """One LoRA file of a merge or a bake, with its weight."""

    path: str
    weight: float


def check_rank(key: str, rank: int) -> None:
    if rank < 1:
        raise _bad(key, f"must be at least 1 (is {rank})")


def check_files(key: str, files: list[WeightedFile]) -> list[tuple[str, float]]:
    """The files as (path, weight); at least one."""
    if not files:
        raise _bad(key, "needs at least one {path, weight}")
    return [(f.path, f.weight) for f in files]

