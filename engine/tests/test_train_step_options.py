"""Step options: the loop reads the loss every few steps on a GPU (loop.LOSS_READ_EVERY; forced here on the
CPU, the events and losses are those of reading every step, one progress event per step in order), and
torch.compile of the UNet (setup.compile_unet: its first call's time logged, a failure a clear error)."""
from __future__ import annotations

import pytest
import torch
from test_train_loop import run_in_process
from test_train_support import make_spec, write_images

from danlu_engine import protocol
from danlu_engine.protocol import EngineError
from danlu_engine.train import loop, setup

torch.set_num_threads(1)


def _progress(events: list[dict]) -> list[tuple]:
    return [(e["step"], e["epoch"], e["loss"], e["lr"]) for e in events if e["event"] == "progress"]


def test_reading_every_third_step_gives_the_same_events(sd15, tmp_path, monkeypatch):
    images = write_images(str(tmp_path / "images"), 4)
    # 4 images x 3 epochs at batch 1: 12 steps, epochs end at 4, 8, 12
    spec = make_spec(sd15, str(tmp_path / "every"), images, epochs=3, batch=1, output={"save_every_n_epochs": 0},
                     scheduler={"type": "linear", "warmup_steps": 0})
    every_step = _progress(run_in_process(spec, monkeypatch))
    reads: list[int] = []
    original = loop._read_losses

    def counting(run, pending, timer):
        reads.append(pending[-1].step)
        return original(run, pending, timer)

    monkeypatch.setattr(loop, "loss_read_interval", lambda device: 3)
    monkeypatch.setattr(loop, "_read_losses", counting)
    spec["output"]["dir"] = str(tmp_path / "third")
    deferred = _progress(run_in_process(spec, monkeypatch))
    assert deferred == every_step and [s for s, *_ in deferred] == list(range(1, 13))
    assert reads == [1, 3, 4, 6, 8, 9, 12]  # the first step, every third, each epoch's end, the last


def test_a_nan_read_late_names_its_own_step(tmp_path):
    from danlu_engine.spec import parse_train_spec
    from danlu_engine.train.outputs import Saver

    spec = parse_train_spec(make_spec(str(tmp_path / "m"), str(tmp_path / "out"), ["a.png", "b.png"], epochs=1))
    run = loop.Run(spec, torch.device("cpu"), torch.nn.Module(), lambda b, i: torch.zeros(()), None,  # type: ignore[arg-type]
                   None, None, Saver(spec, {}), None, "fp")  # type: ignore[arg-type]
    pending = [loop._Pending(s, 1, torch.tensor(v), 2, 1e-4, 0.1, 0.0) for s, v in [(4, 0.5), (5, float("nan"))]]
    with pytest.raises(EngineError) as caught:
        loop._read_losses(run, pending, loop.StepTimer())
    assert caught.value.code == "NAN_LOSS" and "step 5" in caught.value.message


def _fake_compile(behaviour):
    def compile(self, *args, **kwargs):  # what nn.Module.compile leaves: __call__ goes through this
        self._compiled_call_impl = behaviour(self)
    return compile


def test_compiled_unet_logs_its_first_call_and_runs_as_before(monkeypatch):
    import io
    import json

    out = io.StringIO()
    monkeypatch.setattr(protocol, "_stdout", out)
    monkeypatch.setattr(torch.nn.Module, "compile", _fake_compile(lambda m: m._call_impl))
    module, x = torch.nn.Linear(2, 2), torch.ones(1, 2)
    expected = module(x)
    setup.compile_unet(module, torch.device("cpu"))
    assert torch.equal(module(x), expected) and torch.equal(module(x), expected)
    logs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(logs) == 1 and "torch.compile" in logs[0]["message"] and logs[0]["level"] == "info"


def test_a_compile_failure_says_how_to_train_without_it(monkeypatch):
    def failing(module):
        def call(*args, **kwargs):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        return call

    monkeypatch.setattr(torch.nn.Module, "compile", _fake_compile(failing))
    module = torch.nn.Linear(2, 2)
    setup.compile_unet(module, torch.device("cpu"))
    with pytest.raises(EngineError) as caught:
        module(torch.ones(1, 2))
    assert "torch.compile of the UNet failed on cpu: InvalidCxxCompiler" in caught.value.message
    assert setup.COMPILE_ENV in (caught.value.detail or "")
