"""What the run writes and when: file names, the metadata of each save, and the save schedule."""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

from ..network import ModelFacts, model_metadata, modelspec_metadata, save_lora_file, save_metadata
from ..protocol import emit
from ..spec import LossSpec, OptimizerSpec, TrainSpec


def epoch_file(name: str, epoch: int) -> str:
    return f"{name}-{epoch:06d}.safetensors"


def step_file(name: str, step: int) -> str:
    return f"{name}-step{step:08d}.safetensors"


def final_file(name: str) -> str:
    return f"{name}.safetensors"


def epoch_state_dir(name: str, epoch: int) -> str:
    return f"{name}-{epoch:06d}-state"


def step_state_dir(name: str, step: int) -> str:
    return f"{name}-step{step:08d}-state"


def _py(value) -> str:
    """A value as Python's str() prints it (sd-scripts formats its metadata that way)."""
    return str(tuple(value) if isinstance(value, list) else value)


def optimizer_args_text(spec: OptimizerSpec) -> str:
    """sd-scripts appends the optimizer_args to ss_optimizer: "(k=v,k=v)", nothing when there are none."""
    return f"({','.join(f'{k}={_py(v)}' for k, v in spec.args.items())})" if spec.args else ""


def loss_metadata(loss: LossSpec) -> dict[str, str]:
    return {
        "ss_min_snr_gamma": _py(loss.min_snr_gamma),
        "ss_multires_noise_iterations": _py(loss.multires_noise_iterations or None),
        "ss_multires_noise_discount": _py(loss.multires_noise_discount),
        "ss_adaptive_noise_scale": _py(loss.adaptive_noise_scale),
        "ss_zero_terminal_snr": _py(loss.zero_terminal_snr),
        "ss_debiased_estimation": _py(loss.debiased_estimation_loss),
        "ss_noise_offset_random_strength": _py(loss.noise_offset_random_strength),
        "ss_loss_type": loss.loss_type,
        "ss_huber_schedule": loss.huber_schedule,
        "ss_huber_scale": _py(loss.huber_scale),
        "ss_huber_c": _py(loss.huber_c),
    }


def training_metadata(spec: TrainSpec, facts: ModelFacts, optimizer_name: str) -> dict[str, str]:
    """The ss_* keys the engine knows, named and formatted as sd-scripts writes them."""
    t, o, n = spec.training, spec.optimizer, spec.network
    first_epoch = [i for batch in spec.epochs[0] for i in batch.images]
    meta = {
        **model_metadata(facts),
        "ss_session_id": str(random.SystemRandom().randint(0, 2**32)),
        "ss_training_started_at": str(time.time()),
        "ss_output_name": spec.output.name,
        "ss_network_dim": str(n.dim),
        "ss_network_alpha": str(n.alpha),
        "ss_learning_rate": str(o.unet_lr),
        "ss_unet_lr": str(o.unet_lr),
        # two rates as sd-scripts prints --text_encoder_lr TE1 TE2 (a Python list)
        "ss_text_encoder_lr": str(o.text_encoder_lr if o.text_encoder_lr2 in (None, o.text_encoder_lr)
                                  else [o.text_encoder_lr, o.text_encoder_lr2]),
        "ss_optimizer": optimizer_name + optimizer_args_text(o),
        "ss_max_grad_norm": str(o.max_grad_norm),
        "ss_lr_scheduler": spec.scheduler.type,
        "ss_lr_warmup_steps": str(spec.scheduler.warmup_steps),
        "ss_num_epochs": str(len(spec.epochs)),
        "ss_max_train_steps": str(t.total_steps),
        "ss_num_batches_per_epoch": str(len(spec.epochs[0])),
        "ss_num_train_images": str(sum(not spec.images[i].is_reg for i in first_epoch)),
        "ss_num_reg_images": str(sum(spec.images[i].is_reg for i in first_epoch)),
        "ss_batch_size_per_device": str(len(spec.epochs[0][0].images)),
        "ss_gradient_accumulation_steps": str(t.gradient_accumulation_steps),
        "ss_gradient_checkpointing": str(t.gradient_checkpointing),
        "ss_mixed_precision": t.mixed_precision,
        "ss_full_fp16": "False",
        "ss_cache_latents": str(t.cache_latents),
        "ss_clip_skip": str(t.clip_skip),
        "ss_max_token_length": str(t.max_token_length),
        "ss_seed": str(t.seed),
        "ss_noise_offset": str(t.noise_offset),
        **loss_metadata(spec.loss),
        "ss_prior_loss_weight": str(next((im.loss_weight for im in spec.images if im.is_reg), 1.0)),
    }
    bucket = max(((im.bucket[0], im.bucket[1]) for im in spec.images), key=lambda b: b[0] * b[1])
    meta.update(modelspec_metadata(facts, spec.output.name, bucket, t.clip_skip))
    return meta


@dataclass
class Saver:
    """Writes LoRA files with metadata; remembers every output for the ``done`` event."""

    spec: TrainSpec
    base_metadata: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def path(self, file_name: str) -> str:
        return os.path.join(self.spec.output.dir, file_name)

    def save_lora(self, network, kind: str, file_name: str, epoch: int, step: int) -> str:
        emit("phase", name="save", current=None, total=None)
        meta = save_metadata(self.base_metadata, self.spec.output.metadata, epoch, step)
        path = self.path(file_name)
        save_lora_file(path, network.kohya_state_dict(), self.spec.output.save_precision, meta)
        self.outputs.append(path)
        emit("checkpoint", kind=kind, path=path, epoch=epoch, step=step)
        return path

    def record_state(self, path: str, epoch: int, step: int) -> None:
        self.outputs.append(path)
        emit("checkpoint", kind="state", path=path, epoch=epoch, step=step)


def saves_epoch(spec: TrainSpec, epoch: int) -> bool:
    """An epoch file for every n-th epoch, except the last (it is the final file, as in sd-scripts)."""
    n = spec.output.save_every_n_epochs
    return n > 0 and epoch % n == 0 and epoch < len(spec.epochs)


def saves_step(spec: TrainSpec, step: int) -> bool:
    n = spec.output.save_every_n_steps
    return n > 0 and step % n == 0 and step < spec.training.total_steps
