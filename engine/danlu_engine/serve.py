"""``python -m danlu_engine serve [OPTIONS.json]``: a long-lived engine that runs job after job.

One request per line on stdin, ``{"command": "train", "spec": {...}}``; each job writes the events the
one-shot command writes (ready, phase, progress, ..., done | error | cancelled, plus ``model_cache``
after loading its base model), then ``idle`` with the job's exit code: the server reads the next
request only after it. The first event is ``idle`` with exit_code null (the handshake). Base models
stay loaded between jobs (models/warm_cache.py: an LRU within a memory budget).

Signals: SIGTERM/SIGINT during a job cancel that job (state saved, as one-shot); while idle they end
the server. EOF on stdin ends it too. Options (all optional): ``{"memory_budget_mb": 8000}``; else the
DANLU_WARM_BUDGET_MB variable; else 0.8 of the GPU's memory, or half of the machine's without a GPU.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, StrictStr, ValidationError

from . import cancel
from .protocol import EXIT_ERROR, EXIT_OK, EXIT_USAGE, emit

BUDGET_ENV = "DANLU_WARM_BUDGET_MB"
MB = 2**20


class ServeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    memory_budget_mb: StrictInt | StrictFloat | None = None


class ServeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    command: StrictStr
    spec: dict


class _Stop(Exception):
    """SIGTERM/SIGINT while no job runs: end the server."""


class _Signals:
    def __init__(self):
        self.busy = False

    def handle(self, _signum=None, _frame=None) -> None:
        if not self.busy:
            raise _Stop
        cancel.request()


def read_options(path: str | None) -> ServeOptions:
    if path is None:
        return ServeOptions()
    try:
        with open(path, encoding="utf-8") as f:
            return ServeOptions.model_validate(json.load(f))
    except (OSError, json.JSONDecodeError, ValidationError) as e:
        raise ValueError(f"cannot read serve options {path}: {e}") from e


def budget_bytes(options: ServeOptions) -> int:
    from .models.warm_cache import default_budget_bytes

    if options.memory_budget_mb is not None:
        return int(options.memory_budget_mb * MB)
    if os.environ.get(BUDGET_ENV):
        try:
            return int(float(os.environ[BUDGET_ENV]) * MB)
        except ValueError as e:
            raise ValueError(f"{BUDGET_ENV}={os.environ[BUDGET_ENV]!r} is not a number of MiB") from e
    return default_budget_bytes()


def parse_request(line: str, commands: Sequence[str]) -> ServeRequest:
    """The request on one stdin line; ValueError says what is wrong with it."""
    try:
        request = ServeRequest.model_validate_json(line)
    except ValidationError as e:
        raise ValueError(f"bad request line: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from e
    if request.command not in commands:
        raise ValueError(f"bad request: command {request.command!r} is not one of {', '.join(commands)}")
    training = request.spec.get("training")
    if request.command == "train" and isinstance(training, dict) and training.get("num_processes", 1) != 1:
        raise ValueError("bad request: a run on several processes (num_processes > 1) cannot be served; "
                         "start it one-shot (python -m danlu_engine.launch)")
    return request


def serve(options_path: str | None, commands: Sequence[str], run_command: Callable[[str, dict], int]) -> int:
    from .models import warm_cache

    try:
        options = read_options(options_path)
        cache = warm_cache.WarmCache(budget_bytes(options))
    except ValueError as e:
        sys.stderr.write(f"danlu_engine serve: {e}\n")
        return EXIT_USAGE
    signals = _Signals()
    signal.signal(signal.SIGTERM, signals.handle)
    signal.signal(signal.SIGINT, signals.handle)
    warm_cache.activate(cache)
    try:
        _idle(cache, None)
        while line := sys.stdin.readline():
            if line.strip():
                _idle(cache, _one_job(line, commands, run_command, signals))
    except _Stop:
        pass
    finally:
        warm_cache.activate(None)
    return EXIT_OK


def _one_job(line: str, commands: Sequence[str], run_command: Callable[[str, dict], int], signals: _Signals) -> int:
    from .models import warm_cache

    try:
        request = parse_request(line, commands)
    except ValueError as e:
        emit("error", code="BAD_SPEC", message=str(e), detail=None)
        return EXIT_ERROR
    cancel.reset()  # a cancel belongs to one job (the driver signals only between its ready and its end)
    signals.busy = True
    try:
        return run_command(request.command, request.spec)
    finally:
        signals.busy = False
        warm_cache.release_memory()  # the job's frames are gone now: its optimizer, activations, caches


def _idle(cache, exit_code: int | None) -> None:
    emit("idle", exit_code=exit_code, models=len(cache.entries), memory_mb=cache.used_bytes / MB,
         budget_mb=cache.budget_bytes / MB, pid=os.getpid())
