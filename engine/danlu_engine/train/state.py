"""Resumable training state: a folder with the network, optimizer, scheduler, GradScaler and RNG states.

Layout (sd-scripts names the folder ``{name}-{epoch:06d}-state``; ``train_state.json`` holds
``current_epoch`` and ``current_step`` as there):
  network.safetensors   the LoRA weights in float32, kohya keys
  optimizer.pt, scheduler.pt, scaler.pt, rng.pt   torch.save dicts (read back with weights_only=True)
  train_state.json      {current_epoch, current_step, fingerprint, run}
The folder is written under a temporary name and renamed, so a half-written state never looks whole.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import torch
from safetensors.torch import load_file, save_file

from ..network.save import default_mode
from ..protocol import EngineError

STATE_FILE = "train_state.json"


@dataclass
class TrainState:
    current_epoch: int
    current_step: int
    fingerprint: str
    run: dict | None = None  # the spec's run_record, kept for TypeScript's resume check


def rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "python": json.dumps(random.getstate())}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    version, internal, gauss = json.loads(states["python"])
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_state(folder: str, network, optimizer, scheduler, scaler, state: TrainState,
               extra: Callable[[str], None] | None = None) -> str:
    """``extra(folder)`` writes more files into the folder before it is renamed into place."""
    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-state-", dir=parent)
    os.chmod(tmp, default_mode(directory=True))
    try:
        tensors = {k: v.detach().float().cpu().contiguous() for k, v in network.kohya_state_dict().items()}
        save_file(tensors, os.path.join(tmp, "network.safetensors"))
        torch.save(optimizer.state_dict(), os.path.join(tmp, "optimizer.pt"))
        torch.save(scheduler.state_dict(), os.path.join(tmp, "scheduler.pt"))
        torch.save(scaler.state_dict() if scaler is not None else {}, os.path.join(tmp, "scaler.pt"))
        torch.save(rng_states(), os.path.join(tmp, "rng.pt"))
        with open(os.path.join(tmp, STATE_FILE), "w", encoding="utf-8") as f:
            json.dump(state.__dict__, f)
        if extra is not None:
            extra(tmp)
        _replace_dir(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _replace_dir(new: str, target: str) -> None:
    if os.path.isdir(target):
        old = tempfile.mkdtemp(prefix=".old-state-", dir=os.path.dirname(os.path.abspath(target)))
        os.rmdir(old)
        os.replace(target, old)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


def read_train_state(folder: str) -> TrainState:
    path = os.path.join(folder, STATE_FILE)
    if not os.path.isfile(path):
        raise EngineError("RESUME_MISMATCH", f"{folder} is not a training state folder (no {STATE_FILE})")
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    return TrainState(int(raw["current_epoch"]), int(raw["current_step"]), str(raw.get("fingerprint", "")),
                      raw.get("run"))


def load_state(folder: str, network, optimizer, scheduler, scaler, fingerprint: str) -> TrainState:
    """Restore everything saved by save_state; RESUME_MISMATCH when it belongs to another setup."""
    state = read_train_state(folder)
    if state.fingerprint != fingerprint:
        raise EngineError(
            "RESUME_MISMATCH",
            f"the state in {folder} was written by a run with a different model, network or optimizer setup",
            "resume with the same model, network (dim, alpha, trained parts) and optimizer as the run that saved it",
        )
    try:
        network.load_kohya_state_dict(load_file(os.path.join(folder, "network.safetensors")))
    except KeyError as e:
        raise EngineError("RESUME_MISMATCH", f"the network in {folder} does not fit this model: {e}") from e
    load = lambda name: torch.load(os.path.join(folder, name), map_location="cpu", weights_only=True)  # noqa: E731
    optimizer.load_state_dict(load("optimizer.pt"))
    scheduler.load_state_dict(load("scheduler.pt"))
    if scaler is not None:
        scaler_state = load("scaler.pt")
        if scaler_state:
            scaler.load_state_dict(scaler_state)
    restore_rng(load("rng.pt"))
    return state
