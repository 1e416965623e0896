"""The generate spec (``generateSpec`` in src/engine/spec.ts) parsed into typed dataclasses; unknown or
missing keys are BAD_SPEC errors naming the key (the same checker as the train spec)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Optional

from ..spec import ModelSpec, _bad, _parse_dataclass


@dataclass(frozen=True)
class Segment:
    text: str
    weight: float


@dataclass(frozen=True)
class ParsedPrompt:
    text: str  # as the user wrote it (PNG text)
    sections: list[list[Segment]]  # parts between BREAKs; each starts a new 75-token chunk


@dataclass(frozen=True)
class GenLora:
    path: str
    name: str
    unet_weight: float
    te_weight: float


@dataclass(frozen=True)
class GenJob:
    prompt: ParsedPrompt
    negative: ParsedPrompt
    loras: list[GenLora]
    sampler: str
    steps: int
    cfg: float
    width: int
    height: int
    seed: int
    batch_count: int
    batch_size: int
    clip_skip: int
    init_image: Optional[str]
    strength: float
    file_prefix: str


@dataclass(frozen=True)
class OutputSpec:
    dir: str


@dataclass(frozen=True)
class GenerateSpec:
    version: Literal[1]
    model: ModelSpec
    device: Literal["auto", "cpu", "cuda"]
    precision: Literal["no", "fp16", "bf16"]
    embeddings: list[str]
    output: OutputSpec
    jobs: list[GenJob]


def parse_generate_spec(raw: Any) -> GenerateSpec:
    spec = _parse_dataclass(raw, GenerateSpec, "")
    if not spec.jobs:
        raise _bad("jobs", "needs at least one job")
    prefixes = set()
    for i, job in enumerate(spec.jobs):
        if job.width % 8 or job.height % 8:
            raise _bad(f"jobs[{i}].width", f"{job.width}x{job.height} is not a multiple of 8")
        if not 0 <= job.strength <= 1:
            raise _bad(f"jobs[{i}].strength", f"{job.strength} is not between 0 and 1")
        if not job.file_prefix or "/" in job.file_prefix or "\\" in job.file_prefix or job.file_prefix in prefixes:
            raise _bad(f"jobs[{i}].file_prefix", f"{job.file_prefix!r} must be a unique plain file name part")
        prefixes.add(job.file_prefix)
    return spec
