"""Cooperative cancellation: signal handlers set a flag; long loops poll ``requested()``."""
from __future__ import annotations

import threading

_flag = threading.Event()


class Cancelled(Exception):
    """Raised by the training loop after it saved a resumable state (state_dir None if none yet)."""

    def __init__(self, state_dir: str | None, step: int):
        super().__init__(f"cancelled at step {step}")
        self.state_dir = state_dir
        self.step = step


def request(_signum=None, _frame=None) -> None:
    _flag.set()


def requested() -> bool:
    return _flag.is_set()


def reset() -> None:
    """For tests that run several commands in one process."""
    _flag.clear()
