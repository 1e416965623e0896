"""The train spec (``trainSpec`` in src/engine/spec.ts) parsed once into typed dataclasses.

TypeScript resolves every default and writes the whole plan, so nothing is defaulted here: a missing
key, an unknown key, or a value of the wrong type is a ``BAD_SPEC`` error that names the key. pydantic
checks the JSON against the dataclasses (``parse_spec``); the cross-field rules are below it.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pydantic

from .protocol import EngineError

T = TypeVar("T")


@dataclass(frozen=True)
class ModelSpec:
    path: str
    arch: Literal["sd15", "sd2", "sdxl"] | None
    v_prediction: bool | None
    vae_path: str | None


@dataclass(frozen=True)
class OutputSpec:
    dir: str
    name: str
    save_every_n_epochs: int
    save_every_n_steps: int
    save_state: bool
    save_precision: Literal["float", "fp16", "bf16"]
    metadata: dict[str, str]


@dataclass(frozen=True)
class NetworkSpec:
    """Same names as network.NetworkOptions (src/engine/spec-network.ts); weights: network_weights."""

    module: Literal["lora", "lycoris"]  # networks.lora | lycoris.kohya
    algo: Literal["lora", "locon", "loha", "lokr", "ia3"]
    dim: int
    alpha: float
    conv_dim: int  # 0: no k x k convs
    conv_alpha: float
    dora_wd: bool
    use_tucker: bool
    factor: int
    decompose_both: bool
    full_matrix: bool
    dropout: float
    rank_dropout: float
    module_dropout: float
    block_dims: list[int] | None
    block_alphas: list[float] | None
    conv_block_dims: list[int] | None
    conv_block_alphas: list[float] | None
    weights: str | None
    args: dict[str, str]
    train_unet: bool
    train_text_encoder: bool


@dataclass(frozen=True)
class OptimizerSpec:
    type: Literal["AdamW", "AdamW8bit", "Lion", "Lion8bit", "Prodigy", "Adafactor", "DAdaptAdam", "AdamWScheduleFree"]
    unet_lr: float
    text_encoder_lr: float
    weight_decay: float  # weight_decay, betas, eps: AdamW and AdamW8bit only
    betas: tuple[float, float]
    eps: float
    max_grad_norm: float
    # optimizer_args given (checked per optimizer in TypeScript; train/optimizers.py). TypeScript always
    # writes it; the default is for code that builds an OptimizerSpec directly.
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    # SDXL's second text encoder (lora_te2_*); None or == text_encoder_lr: one text group. Written by
    # TypeScript too; the default is for code that builds an OptimizerSpec directly.
    text_encoder_lr2: float | None = None


@dataclass(frozen=True)
class SchedulerSpec:
    type: Literal["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial",
                  "adafactor"]
    warmup_steps: int
    num_cycles: int
    power: float


@dataclass(frozen=True)
class LossSpec:
    """Noise, timesteps and loss options (sd-scripts' names; train/noise.py and train/step.py)."""

    noise_offset_random_strength: bool
    adaptive_noise_scale: float | None
    multires_noise_iterations: int  # 0: off
    multires_noise_discount: float
    zero_terminal_snr: bool
    min_snr_gamma: float | None
    debiased_estimation_loss: bool
    loss_type: Literal["l1", "l2", "huber", "smooth_l1"]
    huber_schedule: Literal["constant", "exponential", "snr"]
    huber_c: float
    huber_scale: float
    min_timestep: int
    max_timestep: int  # exclusive, as torch.randint's high
    masked_loss: bool  # weight the loss by each image's alpha channel (train/masks.py)


@dataclass(frozen=True)
class TrainingSpec:
    device: Literal["auto", "cpu", "cuda"]
    mixed_precision: Literal["no", "fp16", "bf16"]
    gradient_checkpointing: bool
    gradient_accumulation_steps: int
    num_processes: int  # the processes the plan is made for: a step takes num_processes x accumulation micro-batches
    cache_latents: bool
    cache_latents_to_disk: bool
    vae_fp32: bool
    clip_skip: int
    max_token_length: Literal[75, 150, 225]
    seed: int
    noise_offset: float
    epochs: int
    total_steps: int


@dataclass(frozen=True)
class ImageSpec:
    path: str
    width: int
    height: int
    bucket: tuple[int, int]  # [w, h]
    resized: tuple[int, int]  # [w, h]
    crop: tuple[int, int]  # [left, top] inside `resized`
    flip: bool
    is_reg: bool
    loss_weight: float


@dataclass(frozen=True)
class BatchSpec:
    images: list[int]
    captions: list[str]


@dataclass(frozen=True)
class SamplePrompt:
    prompt: str
    negative_prompt: str
    width: int
    height: int
    seed: int
    steps: int
    scale: float
    sampler: str


@dataclass(frozen=True)
class SampleSpec:
    prompts: list[SamplePrompt]
    every_n_epochs: int
    every_n_steps: int
    at_start: bool


@dataclass(frozen=True)
class ValidationImage:
    image: int  # index into TrainSpec.images (in no batch)
    caption: str


@dataclass(frozen=True)
class ValidationSpec:
    images: list[ValidationImage]  # empty: no validation
    every_n_steps: int  # 0: at epoch ends only
    timesteps: list[int]  # each image is scored at every one, with fixed noise


@dataclass(frozen=True)
class PivotalSpec:
    """Pivotal tuning (train/pivotal.py): new tokens trained for the first ``train_steps`` optimizer steps."""

    tokens: list[str]  # e.g. ["<s0>", "<s1>"], already in the plan's captions in place of the trigger
    init_word: str  # "": random init scaled to the table's std; else copied from this word's tokens
    lr: float
    train_steps: int


@dataclass(frozen=True)
class TrainSpec:
    version: Literal[1]
    model: ModelSpec
    output: OutputSpec
    network: NetworkSpec
    optimizer: OptimizerSpec
    scheduler: SchedulerSpec
    training: TrainingSpec
    loss: LossSpec
    images: list[ImageSpec]
    epochs: list[list[BatchSpec]]
    sample: SampleSpec
    validation: ValidationSpec
    pivotal: PivotalSpec | None  # null: no pivotal tuning
    resume: str | None
    # What the run is (settings, dataset, base model, length), written into every state's train_state.json
    # as given; TypeScript compares it when resuming (src/training/resume-check.ts). null: nothing recorded.
    run_record: dict[str, Any] | None


def _bad(path: str, message: str) -> EngineError:
    return EngineError("BAD_SPEC", f"spec key {path or '(root)'}: {message}")


_VALIDATORS: dict[type, type[pydantic.BaseModel]] = {}


def _validator(cls: type) -> type[pydantic.BaseModel]:
    """A pydantic model holding ``cls`` under the key ``spec`` (built once per class): strict types, unknown
    keys refused. Nested stdlib dataclasses take the enclosing model's config, so one config covers the
    whole spec."""
    model = _VALIDATORS.get(cls)
    if model is None:
        config = pydantic.ConfigDict(extra="forbid", strict=True)
        model = _VALIDATORS[cls] = pydantic.create_model(f"{cls.__name__}Validator", __config__=config,
                                                         spec=(cls, ...))
    return model


def _key_path(loc: tuple[str | int, ...]) -> str:
    """pydantic's error location as the spec's key path: ``("epochs", 1, 0, "images")`` -> ``epochs[1][0].images``."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _fields_at(cls: type, loc: tuple[str | int, ...]) -> list[str]:
    """The keys the dataclass at ``loc`` (below ``cls``) takes, for an unknown-key message; [] if none."""
    typ: Any = cls
    for part in loc:
        while typing.get_origin(typ) in (typing.Union, types.UnionType, list, tuple):
            args = [t for t in typing.get_args(typ) if t is not type(None)]
            typ = args[part] if typing.get_origin(typ) is tuple and isinstance(part, int) else args[0]
        if isinstance(part, int):
            continue
        if not dataclasses.is_dataclass(typ):
            return []
        typ = typing.get_type_hints(typ).get(part)
    while typing.get_origin(typ) in (typing.Union, types.UnionType):
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
    return [f.name for f in dataclasses.fields(typ)] if dataclasses.is_dataclass(typ) else []


def parse_spec(raw: Any, cls: type[T]) -> T:
    """Validate a spec's JSON against the dataclass ``cls`` with pydantic (strict: no "8" for 8, no 1 for
    true; JSON lists become tuples where ``cls`` says so); the first problem is BAD_SPEC naming its key."""
    try:
        return typing.cast(T, _validator(cls).model_validate_json(json.dumps({"spec": raw})).spec)  # type: ignore[attr-defined]
    except pydantic.ValidationError as invalid:
        error = invalid.errors()[0]
        loc = tuple(error["loc"][1:])
        if error["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
            expected = _fields_at(cls, loc[:-1])
            raise _bad(_key_path(loc), "unknown key" + (f" (expected one of: {', '.join(expected)})" if expected else
                                                          "")) from None
        if error["type"] == "missing":
            raise _bad(_key_path(loc), "missing") from None
        raise _bad(_key_path(loc), f"{error['input']!r} is not valid: {error['msg']}") from None


def _check_validation(spec: TrainSpec) -> None:
    for k, entry in enumerate(spec.validation.images):
        if not 0 <= entry.image < len(spec.images):
            raise _bad(f"validation.images[{k}].image", f"index {entry.image} is outside images")
    if spec.validation.images and not spec.validation.timesteps:
        raise _bad("validation.timesteps", "is empty but there are validation images")


def _check_plan(spec: TrainSpec) -> None:
    """Cross-field checks the schema alone cannot express (indices in range, one caption per image)."""
    if not spec.epochs:
        raise _bad("epochs", "needs at least one epoch")
    for e, batches in enumerate(spec.epochs):
        for b, batch in enumerate(batches):
            where = f"epochs[{e}][{b}]"
            if not batch.images:
                raise _bad(f"{where}.images", "is empty")
            if len(batch.captions) != len(batch.images):
                raise _bad(f"{where}.captions", f"has {len(batch.captions)} captions for {len(batch.images)} images")
            for i in batch.images:
                if not 0 <= i < len(spec.images):
                    raise _bad(f"{where}.images", f"index {i} is outside images (0..{len(spec.images) - 1})")
            buckets = {tuple(spec.images[i].bucket) for i in batch.images}
            if len(buckets) > 1:
                raise _bad(f"{where}.images", f"mixes buckets {sorted(buckets)}; a batch must share one bucket")
    for i, image in enumerate(spec.images):
        w, h = image.bucket
        if w % 8 or h % 8:
            raise _bad(f"images[{i}].bucket", f"{w}x{h} is not a multiple of 8")


def _check_run(spec: TrainSpec) -> None:
    count = sum(len(batches) for batches in spec.epochs)
    accumulation, processes = spec.training.gradient_accumulation_steps, spec.training.num_processes
    if processes < 1 or accumulation < 1:
        raise _bad("training.num_processes", f"and gradient_accumulation_steps must be >= 1 "
                   f"(are {processes} and {accumulation})")
    per_step = accumulation * processes
    steps = sum(-(-len(batches) // per_step) for batches in spec.epochs)  # an epoch's last step may be short
    if not (spec.network.train_unet or spec.network.train_text_encoder):
        raise _bad("network.train_unet", "neither the UNet nor the text encoder is trained; set train_unet")
    if spec.training.total_steps != steps:
        raise _bad(
            "training.total_steps",
            f"is {spec.training.total_steps} but the plan has {count} micro-batches = {steps} optimizer steps "
            f"at gradient_accumulation_steps {accumulation} x num_processes {processes} per step",
        )


def parse_train_spec(raw: Any) -> TrainSpec:
    """Parse and check a train spec dict; raises EngineError('BAD_SPEC') naming the offending key."""
    spec = parse_spec(raw, TrainSpec)
    _check_plan(spec)
    _check_validation(spec)
    _check_run(spec)
    return spec


def micro_batches(spec: TrainSpec) -> list[tuple[int, BatchSpec]]:
    """Every micro-batch of the run in order, as (epoch number starting at 1, batch)."""
    return [(e + 1, b) for e, batches in enumerate(spec.epochs) for b in batches]
