"""``python -m danlu_engine train-many spec.json``: the LoRAs of several jobs on one base model, trained together.

Spec: ``{"version": 1, "slots": K, "mode": "bmm"|"loop", "jobs": [{"id", "join_at_step", "spec"}]}``, each
``spec`` an ordinary train spec. A job joins before pass ``join_at_step`` when a slot is free (else it waits
for one), leaves after its last step (final file, ``done``). Every event of a job, from its latent caching
to its ``done``, goes out inside a ``job`` event with its id; the command's own events are ready,
phase load_model, and a closing ``done`` with every job's outputs.

What it trains (refused otherwise, BAD_SPEC): UNet-only plain LoRA (networks.lora or lycoris locon, no
dropouts), one bucket for every image of every job, the same base model, device, precision and
max_token_length; no sampling, validation, pivotal tuning, resume or several processes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import cast

import torch

from ..network import LoRANetwork
from ..network.batched import MODES, SharedLoRA
from ..network.setup import build_run_network, network_metadata
from ..protocol import EngineError, emit, emit_ready
from ..spec import TrainSpec, parse_train_spec
from ..train.loop import Run
from ..train.many import (
    Job,
    after_job_step,
    check_cancel,
    finish_job,
    job_events,
    joint_step,
    start_job,
)
from ..train.optim import build_optimizer, build_scheduler
from ..train.outputs import Saver, training_metadata
from ..train.setup import place_base_model, resolve_device, resolve_precision, unet_file_names
from ..train.step import MicroBatchLoss, NoiseSchedule
from .train import (
    _cache_latents,
    _check_files,
    _fingerprint,
    _model_facts,
    _optimizer_name,
    _out_of_memory_as_error,
    _text_conditioner,
)

SHARED = {"model": ("path", "arch", "v_prediction", "vae_path"),
          "training": ("device", "mixed_precision", "vae_fp32", "max_token_length", "gradient_checkpointing"),
          "network": ("module", "algo", "dim", "conv_dim", "block_dims", "conv_block_dims", "train_unet")}


@dataclass(frozen=True)
class JobEntry:
    id: str
    join_at: int
    spec: TrainSpec


def _bad(key: str, message: str) -> EngineError:
    return EngineError("BAD_SPEC", f"spec key {key}: {message}",
                       "train such jobs one by one with the train command")


def parse_many(raw: dict) -> tuple[int, str, list[JobEntry]]:
    if not isinstance(raw, dict) or set(raw) != {"version", "slots", "mode", "jobs"}:
        raise _bad("(top)", "expected exactly version, slots, mode, jobs")
    if raw["version"] != 1 or not isinstance(raw["slots"], int) or raw["slots"] < 1 or raw["mode"] not in MODES:
        raise _bad("(top)", f"version must be 1, slots an int >= 1, mode one of {', '.join(MODES)}")
    if not isinstance(raw["jobs"], list) or not raw["jobs"]:
        raise _bad("jobs", "a non-empty list of {id, join_at_step, spec}")
    entries = []
    for i, job in enumerate(raw["jobs"]):
        if not isinstance(job, dict) or set(job) != {"id", "join_at_step", "spec"}:
            raise _bad(f"jobs[{i}]", "expected exactly id, join_at_step, spec")
        if not isinstance(job["id"], str) or not isinstance(job["join_at_step"], int) or job["join_at_step"] < 0:
            raise _bad(f"jobs[{i}]", "id must be a string, join_at_step an int >= 0")
        try:
            spec = parse_train_spec(job["spec"])
        except EngineError as e:
            raise EngineError(e.code, f"jobs[{i}].spec: {e.message}", e.detail) from e
        _check_supported(spec, f"jobs[{i}].spec")
        entries.append(JobEntry(job["id"], job["join_at_step"], spec))
    if len({e.id for e in entries}) != len(entries):
        raise _bad("jobs", "job ids must be distinct")
    _check_shared(entries)
    return raw["slots"], raw["mode"], entries


def _check_supported(spec: TrainSpec, where: str) -> None:
    n, t = spec.network, spec.training
    refused = {
        "network.train_text_encoder": n.train_text_encoder, "network.train_unet (false)": not n.train_unet,
        "network.algo": n.algo not in ("lora", "locon"), "network.dora_wd": n.dora_wd,
        "network.use_tucker": n.use_tucker, "network.dropout": n.dropout, "network.rank_dropout": n.rank_dropout,
        "network.module_dropout": n.module_dropout, "training.num_processes": t.num_processes != 1,
        "sample.prompts": bool(spec.sample.prompts), "validation.images": bool(spec.validation.images),
        "pivotal": spec.pivotal is not None, "resume": spec.resume is not None,
    }
    for key, bad in refused.items():
        if bad:
            raise _bad(f"{where}.{key.split(' ')[0]}", "not supported by train-many (UNet-only plain LoRA, "
                       "no dropouts, one process, no sampling, validation, pivotal tuning or resume)")


def _check_shared(entries: list[JobEntry]) -> None:
    first = entries[0].spec
    buckets = {im.bucket for e in entries for im in e.spec.images}
    if len(buckets) != 1:
        raise _bad("jobs[*].spec.images[*].bucket", f"every image of every job must share one bucket, got {sorted(buckets)}")
    for i, e in enumerate(entries[1:], start=1):
        for section, keys in SHARED.items():
            for key in keys:
                if getattr(getattr(e.spec, section), key) != getattr(getattr(first, section), key):
                    raise _bad(f"jobs[{i}].spec.{section}.{key}", "must equal jobs[0]'s (one base model, one forward)")


def run(raw: dict) -> None:
    slots, mode, entries = parse_many(raw)
    first = entries[0].spec
    device = resolve_device(first.training.device)
    precision = resolve_precision(first.training.mixed_precision, first.training.vae_fp32)
    emit_ready(str(device), str(precision.weight).removeprefix("torch."))
    started = time.perf_counter()
    with _out_of_memory_as_error():
        outputs, passes = _train_all(entries, slots, mode, device, precision)
    emit("done", outputs=outputs, steps=passes, elapsed_s=time.perf_counter() - started)


def _train_all(entries: list[JobEntry], slots: int, mode: str, device, precision) -> tuple[list[str], int]:
    from ..models import load_base_model

    first = entries[0].spec
    emit("phase", name="load_model", current=None, total=None)
    model = load_base_model(first.model.path, arch=first.model.arch, v_prediction=first.model.v_prediction,
                            vae_path=first.model.vae_path)
    place_base_model(model, device, precision, first)
    shared = SharedLoRA(slots, mode)
    waiting = sorted(entries, key=lambda e: e.join_at)  # stable: equal join steps keep the spec's order
    active: list[Job] = []
    outputs: list[str] = []
    passes = 0
    try:
        while waiting or active:
            while waiting and waiting[0].join_at <= passes and shared.free_slot() is not None:
                entry = waiting.pop(0)
                job = _join(entry, model, device, precision, shared)
                if job:
                    active.append(job)
            if not active:  # nothing running until the next job's join step
                passes = waiting[0].join_at
                continue
            losses = joint_step(model.unet, active, shared)
            for job in list(active):
                done = _job_after_step(job, losses[job.id], outputs)
                if done:
                    shared.leave(job.slot)
                    active.remove(job)
            passes += 1
            check_cancel(active, [e.id for e in waiting], passes)
    finally:
        shared.remove()
    return outputs, passes


def _join(entry: JobEntry, model, device, precision, shared: SharedLoRA) -> Job | None:
    """Set the job up in a free slot; a job that cannot start fails alone (its error event)."""
    with job_events(entry.id):
        try:
            job = _start(entry, model, device, precision)
            job.slot = shared.join(cast(LoRANetwork, job.run.network))
            start_job(job)
            return job
        except (EngineError, FileNotFoundError) as e:
            code, detail = (e.code, e.detail) if isinstance(e, EngineError) else ("FILE_NOT_FOUND", None)
            emit("error", code=code, message=e.message if isinstance(e, EngineError) else str(e), detail=detail)
            return None


def _job_after_step(job: Job, loss: float, outputs: list[str]) -> bool:
    """The job's progress and saves; True when it leaves (its last step, or its own error, e.g. NAN_LOSS)."""
    with job_events(job.id):
        try:
            after_job_step(job, loss)
            if job.step < len(job.steps):
                return False
            finish_job(job)
            outputs += job.run.saver.outputs
        except EngineError as e:
            emit("error", code=e.code, message=e.message, detail=e.detail)
        return True


def _start(entry: JobEntry, model, device, precision) -> Job:
    """A job's solo setup (train.py's order): its network, latents, text, loss, optimizer, schedule, saver."""
    spec = entry.spec
    _check_files(spec)
    os.makedirs(spec.output.dir, exist_ok=True)
    facts = _model_facts(spec, model)
    torch.manual_seed(spec.training.seed)  # add_network's seeding: the solo run's initial weights
    rename = unet_file_names(model) if model.arch == "sdxl" else None
    network = build_run_network(model.unet, list(model.text_encoders), spec.network, rename)
    network.to(device, torch.float32)
    network.requires_grad_(True)
    latents = _cache_latents(spec, model, device, precision, facts)
    text = _text_conditioner(spec, model, device, precision)
    schedule = NoiseSchedule.from_scheduler(model.noise_scheduler, device, bool(model.v_prediction),
                                            spec.loss.zero_terminal_snr)
    loss_of = MicroBatchLoss(spec.images, latents, text, model.unet, schedule, device, precision,
                             spec.training.seed, spec.training.noise_offset, model.arch == "sdxl", spec.loss)
    o = spec.optimizer
    optimizer = build_optimizer(o, network.param_groups(o.unet_lr, o.text_encoder_lr, o.text_encoder_lr2), device)
    scheduler = build_scheduler(spec.scheduler, optimizer, spec.training.total_steps, o)
    scaler = torch.amp.GradScaler(device.type) if precision.loss_scaling else None
    metadata = {**training_metadata(spec, facts, _optimizer_name(optimizer)), **network_metadata(spec.network, network)}
    run = Run(spec, device, network, loss_of, optimizer, scheduler, scaler, Saver(spec, metadata), None,
              _fingerprint(spec, model.arch))
    return Job(entry.id, run, loss_of, entry.join_at)
