"""``python -m danlu_engine train spec.json``: train a LoRA exactly as the spec's plan says.

The phases, each a small named step: parse the spec, pick the device, load the base model, freeze and
place it, add the LoRA (float32), cache latents, cache text, build optimizer and schedule, resume if
asked, loop, save.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time

import torch

from ..models.warm_cache import Lease, base_model
from ..network import ModelFacts
from ..network.setup import network_metadata
from ..protocol import EngineError, emit, emit_ready
from ..sample import TrainingSampler, check_sampler
from ..spec import TrainSpec, parse_train_spec
from ..train import distributed
from ..train.latents import LatentSource
from ..train.loop import Run, train
from ..train.optim import build_optimizer, build_scheduler
from ..train.outputs import Saver, training_metadata
from ..train.pivotal import PivotalSaver, PivotalTuner
from ..train.setup import add_network, place_base_model, resolve_device, resolve_precision
from ..train.state import load_state, read_train_state
from ..train.step import MicroBatchLoss, NoiseSchedule
from ..train.text import TextConditioner
from ..train.validate import Validator, prepare_validation

TEXT_CACHE_LIMIT = 4096  # distinct captions encoded ahead of training; more are encoded as they come


def run(raw: dict) -> None:
    spec = parse_train_spec(raw)
    for i, prompt in enumerate(spec.sample.prompts):
        check_sampler(prompt.sampler, f"sample.prompts[{i}].sampler")
    # several processes under `accelerate launch` (as many as the plan is made for); else nothing
    distributed.setup(spec.training.device, spec.training.num_processes)
    try:
        _run(spec)
    finally:
        distributed.shutdown()


def _run(spec: TrainSpec) -> None:
    device = resolve_device(spec.training.device)
    precision = resolve_precision(spec.training.mixed_precision, spec.training.vae_fp32)
    emit_ready(str(device), str(precision.weight).removeprefix("torch."))
    _check_files(spec)
    started = time.perf_counter()
    with _out_of_memory_as_error():
        saver = _train(spec, device, precision)
    steps = spec.training.total_steps
    emit("done", outputs=saver.outputs, steps=steps, elapsed_s=time.perf_counter() - started)


def _check_files(spec: TrainSpec) -> None:
    for path in [spec.model.path, *(p for p in [spec.model.vae_path, spec.resume, spec.network.weights] if p)]:
        if not os.path.exists(path):
            raise FileNotFoundError(f"not found: {path}")
    for image in spec.images:
        if not os.path.isfile(image.path):
            raise FileNotFoundError(f"image not found: {image.path}")
    if spec.resume:
        state = read_train_state(spec.resume)
        if state.current_step > spec.training.total_steps:
            raise EngineError(
                "RESUME_MISMATCH",
                f"the state in {spec.resume} is at step {state.current_step}, past this run's {spec.training.total_steps} steps",
            )


@contextlib.contextmanager
def _out_of_memory_as_error():
    try:
        yield
    except torch.OutOfMemoryError as e:
        raise EngineError(
            "OUT_OF_MEMORY",
            f"the GPU ran out of memory: {str(e).splitlines()[0]}",
            "lower the batch size or resolution, enable gradient_checkpointing and cache_latents, "
            "use a smaller network dim, AdamW8bit, or mixed precision bf16/fp16",
        ) from e


def _base_model(spec: TrainSpec, precision) -> contextlib.AbstractContextManager[Lease]:
    """The base model: loaded, or in serve mode borrowed from the warm cache (models/warm_cache.py)."""
    emit("phase", name="load_model", current=None, total=None)
    dtypes = {"unet": precision.weight, "text_encoders": precision.weight, "vae": precision.vae}
    return base_model(spec.model.path, spec.model.arch, spec.model.v_prediction, spec.model.vae_path, dtypes)


def _model_facts(spec: TrainSpec, model) -> ModelFacts:
    """Hashes as sd-scripts records them (the loader computed them; "IsADirectory" for a folder)."""
    legacy = getattr(model, "legacy_model_hash", None) or None
    return ModelFacts(model.arch, bool(model.v_prediction), spec.model.path, legacy, model.model_hash or None)


def _fingerprint(spec: TrainSpec, arch: str) -> str:
    """What a saved state must share with the run that resumes it."""
    n, t = spec.network, spec.training
    network = [n.module, n.algo, n.dim, n.alpha, n.conv_dim, n.conv_alpha, n.dora_wd, n.use_tucker, n.factor,
               n.decompose_both, n.full_matrix, n.block_dims, n.block_alphas, n.conv_block_dims, n.weights]
    parts: list[object] = [arch, *network, n.train_unet, n.train_text_encoder, spec.optimizer.type,
                           t.gradient_accumulation_steps, t.mixed_precision, t.seed]
    if t.num_processes != 1:  # a step's micro-batches; absent for one process, so older states still match
        parts.append(["num_processes", t.num_processes])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _vae_id(spec: TrainSpec, facts: ModelFacts, precision) -> str:
    vae_file = spec.model.vae_path or spec.model.path
    stat = os.stat(vae_file)
    return f"{os.path.abspath(vae_file)}|{stat.st_size}|{stat.st_mtime_ns}|{precision.vae}"


def _cache_latents(spec: TrainSpec, model, device, precision, facts) -> LatentSource:
    source = LatentSource(spec.images, model.vae, precision.vae, device, _vae_id(spec, facts, precision))
    if spec.training.cache_latents or spec.training.cache_latents_to_disk:
        used = sorted({i for batches in spec.epochs for b in batches for i in b.images})
        disk = os.path.join(spec.output.dir, "latents_cache") if spec.training.cache_latents_to_disk else None
        disk = disk if distributed.is_main() else None  # other ranks encode in memory: one writer
        report = lambda done, total: emit("phase", name="cache_latents", current=done, total=total)  # noqa: E731
        source.cache(used, disk, report)
    return source


def _text_conditioner(spec: TrainSpec, model, device, precision) -> TextConditioner:
    frozen = not spec.network.train_text_encoder and spec.pivotal is None  # pivotal: cached after the pivot
    text = TextConditioner(model.tokenizers, model.text_encoders, spec.training.clip_skip,
                           spec.training.max_token_length, device, cache=frozen)
    captions = list(dict.fromkeys(c for batches in spec.epochs for b in batches for c in b.captions))
    if frozen and len(captions) <= TEXT_CACHE_LIMIT:
        report = lambda done, total: emit("phase", name="cache_text", current=done, total=total)  # noqa: E731
        autocast = torch.autocast(device.type, dtype=precision.weight) if precision.autocast else contextlib.nullcontext()
        with autocast:
            text.precache(captions, report)
    return text


def _offload_unused(spec: TrainSpec, model, text: TextConditioner) -> None:
    """Move frozen parts the loop will not call back to the CPU (SDXL's text encoders: about 1.6 GB)."""
    if spec.sample.prompts:
        return  # sampling needs every part on the device
    captions = {c for batches in spec.epochs for b in batches for c in b.captions}
    if text.use_cache and captions <= text.cached.keys():
        for encoder in model.text_encoders:
            encoder.to("cpu")
    if spec.training.cache_latents or spec.training.cache_latents_to_disk:
        model.vae.to("cpu")


def _train(spec: TrainSpec, device, precision) -> Saver:
    os.makedirs(spec.output.dir, exist_ok=True)
    with _base_model(spec, precision) as lease:
        return _train_on(spec, lease, device, precision)


def _train_on(spec: TrainSpec, lease: Lease, device, precision) -> Saver:
    model = lease.model
    facts = _model_facts(spec, model)
    place_base_model(model, device, precision, spec)
    if spec.pivotal is not None:
        lease.taint("pivotal tuning added tokens to its tokenizers and text encoders")
    pivotal = _install_pivotal(spec, model)
    network = add_network(model, spec, device)
    lease.undo.append(network.remove_from_base)
    latents = _cache_latents(spec, model, device, precision, facts)
    text = _text_conditioner(spec, model, device, precision)
    prepare_validation(spec, latents, text, precision)  # before the VAE / text encoders may leave the device
    _offload_unused(spec, model, text)
    schedule = NoiseSchedule.from_scheduler(model.noise_scheduler, device, bool(model.v_prediction),
                                            spec.loss.zero_terminal_snr)
    loss_of = MicroBatchLoss(spec.images, latents, text, model.unet, schedule, device, precision,
                             spec.training.seed, spec.training.noise_offset, model.arch == "sdxl", spec.loss)
    optimizer = build_optimizer(spec.optimizer, network.param_groups(spec.optimizer.unet_lr,
                                                                     spec.optimizer.text_encoder_lr,
                                                                     spec.optimizer.text_encoder_lr2), device)
    scheduler = build_scheduler(spec.scheduler, optimizer, spec.training.total_steps, spec.optimizer)
    scaler = torch.amp.GradScaler(device.type) if precision.loss_scaling else None
    fingerprint = _fingerprint(spec, model.arch)
    fingerprint = pivotal.fingerprint(fingerprint) if pivotal else fingerprint
    start_step = 0
    if spec.resume:
        start_step = load_state(spec.resume, network, optimizer, scheduler, scaler, fingerprint).current_step
    if pivotal:
        _start_pivotal(spec, pivotal, text, start_step)
    metadata = {**training_metadata(spec, facts, _optimizer_name(optimizer)), **network_metadata(spec.network, network)}
    saver = PivotalSaver(spec, metadata, tuner=pivotal) if pivotal else Saver(spec, metadata)
    main = distributed.is_main()  # only rank 0 samples and validates (it alone writes events and files)
    sampler = _sampler(spec, model, text, device, precision, facts) if spec.sample.prompts and main else None
    validator = Validator(spec, loss_of, network) if spec.validation.images and main else None
    # several processes: DistributedDataParallel over the network (after a resume loaded its weights)
    step_loss = distributed.wrap(network, loss_of, find_unused=spec.network.module_dropout > 0)
    train(Run(spec, device, network, step_loss, optimizer, scheduler, scaler, saver, sampler, fingerprint, validator,
              pivotal), start_step)
    return saver


def _install_pivotal(spec: TrainSpec, model) -> PivotalTuner | None:
    """Pivotal tuning's new tokens in every tokenizer and encoder (before the LoRA hooks in)."""
    if spec.pivotal is None:
        return None
    return PivotalTuner.install(spec.pivotal, model.arch, model.tokenizers, model.text_encoders, spec.training.seed)


def _start_pivotal(spec: TrainSpec, pivotal: PivotalTuner, text: TextConditioner, start_step: int) -> None:
    if spec.resume:
        pivotal.load_state(spec.resume)
    pivotal.cache_text_after_freeze(text, allowed=not spec.network.train_text_encoder)
    pivotal.start_at(start_step)


def _optimizer_name(optimizer) -> str:
    cls = type(optimizer)
    return f"{cls.__module__}.{cls.__name__}"


def _sampler(spec: TrainSpec, model, text, device, precision, facts: ModelFacts) -> TrainingSampler:
    trainable = [model.unet, *model.text_encoders]
    return TrainingSampler(model, text, spec.sample.prompts, spec.output.dir, spec.output.name, device, precision,
                           spec.training.clip_skip, os.path.basename(os.path.normpath(spec.model.path)),
                           facts.model_hash_sha256, trainable)
