"""The doctor's checks on this machine: each a real operation, none raising."""
from __future__ import annotations

import torch

from danlu_engine.commands import doctor


def test_report_runs_every_check_on_this_machine():
    data = doctor.report()
    assert data["torch"]["version"] == torch.__version__ and data["torch"]["error"] is None
    assert data["cuda"]["usable"] == torch.cuda.is_available()
    assert data["training_device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert data["bitsandbytes"]["usable"], data["bitsandbytes"]["error"]
    assert data["memory"]["available_mb"] > 0


def test_a_failing_matmul_is_recorded_not_raised():
    error = doctor._try_matmul(torch, "no-such-device")
    assert error is not None and error.startswith("RuntimeError")
    assert doctor._try_matmul(torch, "cpu") is None
